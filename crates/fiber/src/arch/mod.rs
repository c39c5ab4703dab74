//! Per-architecture context switch.
//!
//! Each architecture module provides:
//! - `switch(save_sp, load_sp)`: push the callee-saved state on the current
//!   stack, store the stack pointer to `*save_sp`, load `load_sp`, pop the
//!   state saved there and return into that context;
//! - `init_stack(top, entry, data)`: lay out a first frame below `top` such
//!   that switching to the returned stack pointer calls `entry(data)` on a
//!   16-byte aligned stack with a terminated frame chain;
//! - `INIT_FRAME_SIZE`: bytes `init_stack` uses below `top`;
//! - `stack_pointer()`: the current stack pointer (approximate is fine).

/// Entry point run on a fresh fiber stack. It must never return: it ends by
/// switching away for the last time.
pub(crate) type EntryFn = unsafe extern "C" fn(data: *mut u8) -> !;

#[cfg(all(target_arch = "x86_64", not(windows)))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", not(windows)))]
pub(crate) use x86_64::{INIT_FRAME_SIZE, init_stack, stack_pointer, switch};

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub(crate) use riscv64::{INIT_FRAME_SIZE, init_stack, stack_pointer, switch};

#[cfg(not(any(all(target_arch = "x86_64", not(windows)), target_arch = "riscv64")))]
compile_error!("hypha-fiber supports x86_64 (System V) and riscv64 only");
