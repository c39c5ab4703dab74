//! The WebAssembly runtime (`hypha-wasm`) on bare metal: the kernel's
//! [`Platform`](hypha_wasm::platform::Platform) and the glue that turns a
//! fault in compiled code into a trap of that call.
//!
//! - [`KernelPlatform`] (`platform.rs`): linear memories, code and the
//!   runtime's fiber stacks are [`Reservation`](crate::mem::Reservation)s
//!   in kernel address space, committed (fresh zeroed frames) when the
//!   runtime makes a range read-write; code is published W^X with
//!   `fence.i` on every hart (SBI remote fence).
//! - [`handle_fault`] (`fault.rs`): called first by the trap handler for
//!   every synchronous exception; a fault whose pc is in compiled code of
//!   the hart's current activation resumes at the runtime's trap landing.
//!   Everything else falls through to the kernel's own handling (a kernel
//!   bug: panic with a backtrace).
//! - [`new_engine`]: an engine compiling for this machine with the memory
//!   strategy the address space allows ([`default_strategy`]: guard pages
//!   under Sv48, explicit bounds checks under Sv39).
//! - [`on_big_stack`]: runs a closure on a guard-paged kernel fiber stack
//!   large enough for Cranelift (the hart stacks are 128 KiB).
//!
//! Not here: processes, their engine and host functions (`crate::proc`),
//! the runtime itself (`crates/wasm-runtime`).

#![cfg_attr(
    not(feature = "ktest"),
    expect(
        dead_code,
        reason = "new_engine is for the in-kernel tests and the spec runner; \
                  processes make their own engine (proc::engine)"
    )
)]

extern crate alloc;

mod fault;
mod platform;
#[cfg(feature = "ktest")]
pub mod spec;

#[cfg(feature = "ktest")]
mod tests;

pub use fault::handle_fault;
pub use platform::KernelPlatform;

use alloc::sync::Arc;
use hypha_wasm::{Config, Engine, MemoryStrategy};

/// Bytes of the stack [`on_big_stack`] gives by default: Cranelift's
/// recursive passes plus wasm's own `max_wasm_stack` (1 MiB) fit.
pub const BIG_STACK: usize = 4 << 20;

/// The memory strategy this machine's address space allows: 8 GiB guard
/// reservations per memory need Sv48's 128 TiB upper half; under Sv39
/// (256 GiB) compiled code checks bounds explicitly.
#[must_use]
pub fn default_strategy() -> MemoryStrategy {
    // satp.MODE (bits 60..64): 8 = Sv39, 9 = Sv48, 10 = Sv57.
    if crate::arch::csr::read_satp() >> 60 >= 9 { MemoryStrategy::GuardPages } else { MemoryStrategy::BoundsChecks }
}

/// An engine compiling riscv64 code for this kernel with `strategy` (or
/// [`default_strategy`]). SIMD is enabled only when this hart has the V
/// extension (compiled SIMD uses it).
///
/// # Errors
///
/// What [`Engine::new`] reports (Cranelift rejecting the ISA settings).
pub fn new_engine(strategy: Option<MemoryStrategy>) -> Result<Engine, hypha_wasm::Error> {
    let features = hypha_wasm::Features { simd: crate::arch::csr::enable_vector(), ..hypha_wasm::Features::default() };
    let config = Config {
        features,
        memory_strategy: strategy.unwrap_or_else(default_strategy),
        target: "riscv64gc-unknown-none-elf".parse().ok(),
        parallel_compilation: false,
        ..Config::default()
    };
    Engine::new(config, Arc::new(KernelPlatform::new()))
}

/// A guard-paged kernel stack could not be set up for [`on_big_stack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackUnavailable(pub hypha_fiber::StackError);

impl core::fmt::Display for StackUnavailable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "no kernel stack for wasm: {}", self.0)
    }
}

/// Runs `body` to completion on a fresh guard-paged kernel stack of
/// `size` bytes (freed afterwards) and returns its result.
///
/// # Errors
///
/// [`StackUnavailable`] when the stack cannot be allocated.
pub fn on_big_stack<R>(size: usize, body: impl FnOnce() -> R) -> Result<R, StackUnavailable> {
    use hypha_fiber::{Fiber, FiberResult, FiberStack, StackAllocator};
    let stacks: Arc<dyn StackAllocator> = Arc::new(crate::mem::KernelFiberStacks);
    let stack = FiberStack::with_allocator(stacks, size).map_err(StackUnavailable)?;
    let mut fiber: Fiber<'_, (), (), R> = Fiber::new(stack, move |(), _suspend| body()).map_err(StackUnavailable)?;
    match fiber.resume(()) {
        FiberResult::Return(value) => Ok(value),
        // The closure never suspends.
        FiberResult::Yield(()) => unreachable!("on_big_stack: the body suspended"),
    }
}
