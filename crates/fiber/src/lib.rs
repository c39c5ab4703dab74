//! Stackful coroutines ("fibers") for running WebAssembly guest code on its
//! own guard-paged stack, so that a guest can be suspended in the middle of a
//! host call and resumed later, exactly where it was.
//!
//! # What it is
//!
//! - [`FiberStack`]: an owned stack with a guard region below it. On the host
//!   (`std` feature) [`FiberStack::new`] maps it with `mmap` and makes the
//!   guard `PROT_NONE`; the kernel supplies stacks through the
//!   [`StackAllocator`] trait. [`StackRegion`] answers "is this fault
//!   address in the guard?" ([`StackRegion::is_guard`]) and gives the usable
//!   [`limit`](StackRegion::limit) for stack-limit checks.
//! - [`Fiber<'a, Resume, Yield, Return>`](Fiber): a closure
//!   `FnOnce(Resume, &Suspend<..>) -> Return` running on such a stack.
//!   [`Fiber::resume`] runs it until it calls [`Suspend::suspend`] (giving
//!   [`FiberResult::Yield`]) or returns ([`FiberResult::Return`]).
//! - Context switches in assembly per architecture (`src/arch`): x86_64
//!   System V (rbx, rbp, r12–r15, rsp, MXCSR, x87 control word) and riscv64
//!   (ra, sp, s0–s11, fs0–fs11; needs the D extension, as riscv64gc has). A switch
//!   is a plain function call to the compiler; it touches no signal mask and
//!   makes no system call.
//!
//! # What it is not
//!
//! Not a scheduler, not an async runtime, not threads: a fiber runs only
//! while someone calls `resume` on it, on that caller's thread. It does not
//! install signal handlers or classify faults itself; it gives the runtime
//! the addresses to do so. It does not grow stacks.
//!
//! # Safety contract
//!
//! The API is safe; these are the rules it enforces or relies on:
//!
//! - **Stacks.** A [`StackAllocator`] (an `unsafe trait`) must hand out
//!   exclusively owned, writable `[limit, top)` ranges whose guard faults on
//!   access. A fiber's stack is freed only after its closure has returned or
//!   was dropped unstarted, so nothing on it is ever used after free.
//! - **Overflow.** Running past `limit` hits the guard and faults (SIGSEGV on
//!   the host; a page fault in the kernel). A frame larger than the guard
//!   could jump over it, so code on a fiber must probe large frames page by
//!   page: Rust does; the runtime must turn on Cranelift's inline stack
//!   probes (or keep its stack-limit check ahead of every large frame).
//!   Turning the fault into a trap is the runtime's job; without a handler
//!   the process dies of SIGSEGV.
//! - **Panics** (`std`): a panic in the closure is caught on the fiber stack
//!   (it never unwinds through the assembly) and re-raised from
//!   [`Fiber::resume`] with `resume_unwind`; the fiber is then finished.
//!   Without `std` nothing is caught: the crate assumes `panic = "abort"`
//!   (the kernel's panic handler never returns), and the `extern "C"` entry
//!   function aborts rather than unwind should unwinding ever happen.
//! - **Dropping a suspended fiber cancels it** (also [`Fiber::cancel`],
//!   [`Fiber::into_stack`]): the pending [`Suspend::suspend`] returns
//!   `Err(`[`Cancelled`]`)`, every later `suspend` returns `Err(Cancelled)`
//!   at once without switching, and the closure runs to its end on its own
//!   stack. So every value on the fiber stack — including pinned futures
//!   with intrusive wait-list nodes — is dropped normally before the stack
//!   is freed; simply freeing the stack would break `Pin`'s drop guarantee.
//!   The cost: dropping waits for the closure to wind down, and a closure
//!   that ignores `Cancelled` and loops forever hangs the dropper. A panic
//!   while winding down is re-raised from `drop` (`std`, unless already
//!   panicking, then it is discarded). A `Fiber` that is `mem::forget`-ed
//!   leaks its stack, which is sound.
//! - **Threads.** [`Fiber`] is `!Send`: something on its stack (a borrowed
//!   thread-local, a lock guard) may be tied to the thread. A work-stealing
//!   executor uses [`SendFiber`], whose `unsafe` constructor makes the caller
//!   promise nothing thread-bound is held across a suspension — including
//!   a thread-local *address* the compiler computed before a suspension and
//!   reuses after it, so thread-locals are reached through non-inlined
//!   functions on a fiber that may migrate.
//! - **`Suspend`** is only reachable by reference inside the closure and is
//!   `!Sync`, so it cannot escape the fiber or its thread; using it from a
//!   nested fiber's stack is caught at run time (a panic).
//! - **Signals.** Switching must not happen inside a signal handler on the
//!   host; a handler may read [`current_stack`] / [`is_guard_address`]
//!   (plain thread-local loads) to classify a fault. A signal delivered
//!   while a fiber runs lands on the fiber stack unless its handler uses
//!   `SA_ONSTACK`, so small stacks need room for a signal frame (a few KiB).
//! - **Traps.** A runtime that recovers from a fault (trap, guard-page hit)
//!   by redirecting execution must land on the *same* stack that faulted —
//!   its wasm-call entry point inside the fiber closure — and then return
//!   or suspend normally. Jumping from a fiber stack straight onto the
//!   resumer's stack would bypass this crate's bookkeeping (unsound). The
//!   guard stays inaccessible, so a stack-overflow handler needs its own
//!   stack (`sigaltstack` on the host, a per-CPU trap stack in the kernel).
//! - **Frame chains.** The first frame of a fiber has a zero frame pointer
//!   and (for DWARF unwinders) an undefined return address, so backtraces
//!   taken inside a fiber end cleanly at the fiber's entry; they do not
//!   continue into the resumer's stack.
//! - **Kernel (riscv64).** The switch saves fs0–fs11, so
//!   `sstatus.FS` must not be Off while fibers switch (floating-point guest
//!   code needs it on anyway).
//!
//! # Using it from an async runtime (`call_async`)
//!
//! A host function may be `async`. The runtime runs the guest on a fiber
//! and drives it from a future; when a host future is pending the fiber
//! suspends with a "pending" marker and the outer future returns `Pending`:
//!
//! ```
//! # #[cfg(feature = "std")] {
//! use core::future::Future;
//! use core::pin::{Pin, pin};
//! use core::task::{Context, Poll, Waker};
//! use hypha_fiber::{Fiber, FiberResult, FiberStack, Suspend};
//!
//! /// Resume value: the `Context` of the current poll (as a raw pointer, it
//! /// is only valid during that poll); `Yield`: "host future pending".
//! type PollCx = *mut Context<'static>;
//! struct Pending;
//!
//! /// Called by a host function running on the fiber: polls `fut` with
//! /// the outer task's context, suspending the guest while it is pending.
//! fn block_on_host<T>(
//!     suspend: &Suspend<PollCx, Pending, Result<u32, &'static str>>,
//!     mut cx: PollCx,
//!     fut: impl Future<Output = T>,
//! ) -> Result<T, &'static str> {
//!     let mut fut = pin!(fut); // lives on the fiber stack
//!     loop {
//!         // SAFETY (sketch): `cx` came from the poll that resumed us and
//!         // that poll is still running.
//!         let ready = fut.as_mut().poll(unsafe { &mut *cx.cast::<Context<'_>>() });
//!         if let Poll::Ready(v) = ready {
//!             return Ok(v);
//!         }
//!         // Pending: back to `CallAsync::poll`, which returns Pending.
//!         // Cancelled (the call future was dropped): turn it into a trap.
//!         cx = suspend.suspend(Pending).map_err(|_| "cancelled")?;
//!     }
//! }
//!
//! /// The future `call_async` returns.
//! struct CallAsync<'a> {
//!     fiber: Fiber<'a, PollCx, Pending, Result<u32, &'static str>>,
//! }
//!
//! impl Future for CallAsync<'_> {
//!     type Output = Result<u32, &'static str>;
//!     fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
//!         let cx = (cx as *mut Context<'_>).cast::<Context<'static>>();
//!         match self.fiber.resume(cx) {
//!             FiberResult::Yield(Pending) => Poll::Pending,
//!             FiberResult::Return(result) => Poll::Ready(result),
//!         }
//!     }
//! }
//!
//! // "Guest code": calls an async host function (here, one that is pending once).
//! let stack = FiberStack::new(64 * 1024).unwrap();
//! let fiber = Fiber::new(stack, |cx, suspend: &Suspend<_, _, _>| {
//!     let mut first = true;
//!     let host = core::future::poll_fn(move |cx| {
//!         if core::mem::take(&mut first) {
//!             cx.waker().wake_by_ref();
//!             Poll::Pending
//!         } else {
//!             Poll::Ready(41)
//!         }
//!     });
//!     Ok(block_on_host(suspend, cx, host)? + 1)
//! })
//! .unwrap();
//! let mut call = pin!(CallAsync { fiber });
//! let mut cx = Context::from_waker(Waker::noop());
//! assert!(call.as_mut().poll(&mut cx).is_pending());
//! assert_eq!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(42)));
//! # }
//! ```
//!
//! Dropping `CallAsync` while pending cancels the fiber: `block_on_host`
//! sees `Cancelled`, drops the pinned host future on the fiber stack and
//! returns an error, which the runtime turns into a trap that unwinds the
//! guest frames back to the fiber's entry.
//!
//! Epoch preemption is the same path: the epoch-deadline hook calls
//! `suspend` with a "yield" marker, and the outer future wakes itself and
//! returns `Pending`.

//! # Testing
//!
//! `cargo test -p hypha-fiber` runs everything on the x86_64 host (stack
//! overflow tests re-execute the test binary in a child process). The same
//! suite runs for riscv64 under QEMU user-mode emulation:
//!
//! ```text
//! CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_LINKER=riscv64-linux-gnu-gcc \
//! CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_RUNNER="qemu-riscv64 -L /usr/riscv64-linux-gnu" \
//!   cargo test -p hypha-fiber --target riscv64gc-unknown-linux-gnu
//! ```
//!
//! (Debian: `gcc-riscv64-linux-gnu`, `qemu-user` from bookworm-backports;
//! `rustup target add riscv64gc-unknown-linux-gnu`.) The switch cost:
//! `cargo run --release -p hypha-fiber --example switch_bench`.

#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod arch;
#[cfg(feature = "std")]
mod current;
mod fiber;
mod stack;

#[cfg(feature = "std")]
pub use current::{current_stack, is_guard_address};
pub use fiber::{Cancelled, Fiber, FiberResult, SendFiber, Suspend};
#[cfg(feature = "std")]
pub use stack::MmapStackAllocator;
pub use stack::{FiberStack, STACK_ALIGN, StackAllocator, StackError, StackRegion};
