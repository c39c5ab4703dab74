//! Which fiber stack is the current thread running on? (`std` only)
//!
//! Kept in a `const`-initialised thread-local `Cell`, so reading it is a
//! plain TLS load: safe to do from a signal handler (no lazy
//! initialisation, no allocation, no locking). The kernel has no thread
//! locals here; it reads [`Fiber::stack`](crate::Fiber::stack) when it
//! switches and keeps the region in its per-CPU state instead.

use core::cell::Cell;

use crate::stack::StackRegion;

std::thread_local! {
    static CURRENT: Cell<Option<StackRegion>> = const { Cell::new(None) };
}

/// Marks `region` as the innermost running fiber stack; returns what to restore.
#[inline]
pub(crate) fn enter(region: StackRegion) -> Option<StackRegion> {
    CURRENT.with(|c| c.replace(Some(region)))
}

/// Restores the value returned by [`enter`].
#[inline]
pub(crate) fn leave(previous: Option<StackRegion>) {
    CURRENT.with(|c| c.set(previous));
}

/// The stack of the innermost fiber the calling thread is running on, if any.
///
/// Async-signal-safe: a SIGSEGV handler may call this to ask whether a
/// fault address is in the running fiber's guard page.
///
/// Never inlined: code on a [`SendFiber`](crate::SendFiber) may resume on
/// another thread after a suspension, and a thread-local address computed
/// before the suspension and reused after it (which the compiler may do
/// within one function) would read the old thread's value. An out-of-line
/// call computes the address afresh every time.
#[must_use]
#[inline(never)]
pub fn current_stack() -> Option<StackRegion> {
    CURRENT.with(Cell::get)
}

/// Is `address` inside the guard region of the fiber stack the calling
/// thread is running on? (A fault there is a stack overflow of that fiber.)
/// Async-signal-safe, see [`current_stack`].
#[must_use]
pub fn is_guard_address(address: usize) -> bool {
    current_stack().is_some_and(|r| r.is_guard(address))
}
