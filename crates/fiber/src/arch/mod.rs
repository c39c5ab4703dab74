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

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    /// Never called: only its address goes into the frame.
    unsafe extern "C" fn never(_: *mut u8) -> ! {
        unreachable!("the test frame is never switched to")
    }

    /// Builds a first frame in a buffer and returns (stack pointer, top, frame words).
    fn first_frame() -> (usize, usize, Vec<usize>) {
        #[repr(align(16))]
        struct Buf([usize; 64]);
        let mut buf = Buf([usize::MAX; 64]);
        let top = buf.0.as_mut_ptr_range().end.expose_provenance();
        let data = core::ptr::without_provenance_mut::<u8>(0x1230);
        // SAFETY: the buffer is writable, 16-aligned, and larger than a frame.
        let sp = unsafe { init_stack(top, never, data) };
        let words = (top - sp) / core::mem::size_of::<usize>();
        let first = (sp - buf.0.as_ptr().addr()) / core::mem::size_of::<usize>();
        (sp, top, buf.0[first..first + words].to_vec())
    }

    #[test]
    fn first_frame_is_aligned_and_ends_the_frame_chain() {
        let (sp, top, words) = first_frame();
        assert_eq!(top - sp, INIT_FRAME_SIZE);
        assert_eq!(sp % 16, 0);
        #[cfg(target_arch = "x86_64")]
        {
            // r12 = entry, rbx = data, rbp = 0 (ends frame-pointer walks),
            // return address = the start trampoline.
            assert_eq!(words[4], (never as EntryFn) as usize);
            assert_eq!(words[5], 0x1230);
            assert_eq!(words[6], 0);
            assert_eq!(words[7], x86_64::hypha_fiber_start_addr());
        }
        #[cfg(target_arch = "riscv64")]
        {
            // ra = the start trampoline, s0 = 0, s1 = data, s2 = entry.
            assert_eq!(words[0], riscv64::hypha_fiber_start_addr());
            assert_eq!(words[1], 0);
            assert_eq!(words[2], 0x1230);
            assert_eq!(words[3], (never as EntryFn) as usize);
        }
    }
}
