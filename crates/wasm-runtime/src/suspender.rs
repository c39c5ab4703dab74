//! [`Suspender`]: lets *synchronous* host code running inside one of a
//! store's async calls wait for a future, suspending only that call.
//!
//! An async host function ([`crate::Linker::func_new_async`]) can simply
//! `.await`. Synchronous code reached from a plain host function — a WASI
//! stream read behind `fd_read`, a clock sleep behind `poll_oneoff` — cannot,
//! but it still runs on the `call_async` fiber. An embedder takes a
//! [`Suspender`] from the store before starting the call
//! ([`StoreContext::suspender`]), makes it findable by that sync code (the
//! kernel keeps it in a per-CPU "current process" slot while it polls the
//! call), and the sync code calls [`Suspender::block_on`]: the guest stays
//! suspended inside its host call, the call's future returns `Pending`, and
//! the future's waker resumes it.
//!
//! Cancellation: if the call's future is dropped while suspended here,
//! `block_on` returns the cancellation trap *and* moves the store's epoch
//! deadline to 0, so a guest that gets an error back from the sync code
//! (which has no way to return a trap) stops at its very next epoch check
//! (function entry or loop header) instead of running on.

use core::future::Future;

use crate::store::StoreContext;
use crate::trap::Trap;
use crate::vm::store::StoreCore;

/// A handle on one store for waiting from synchronous host code (see the
/// module docs). Copyable; holds a raw pointer to the store, which must
/// outlive every use.
#[derive(Debug, Clone, Copy)]
pub struct Suspender {
    core: *mut StoreCore,
}

// SAFETY: a Suspender is only a pointer; every use goes through the unsafe
// `block_on`, whose contract requires the store to be running on the
// calling thread.
unsafe impl Send for Suspender {}
// SAFETY: as above.
unsafe impl Sync for Suspender {}

impl<T> StoreContext<T> {
    /// A [`Suspender`] for this store (valid while the store lives; the
    /// store body never moves).
    pub fn suspender(&mut self) -> Suspender {
        Suspender { core: &raw mut self.core }
    }
}

impl Suspender {
    /// Drives `fut` to completion from inside a host call of this store,
    /// suspending the guest (its `call_async` future returns `Pending`)
    /// whenever `fut` is pending. `fut` is polled with the context of the
    /// task polling the call, so its waker resumes the guest.
    ///
    /// # Errors
    /// A trap when the store is not inside `call_async` (nothing to
    /// suspend), or when the call's future was dropped meanwhile; in the
    /// latter case the store's epoch deadline is also set to 0 (see the
    /// module docs).
    ///
    /// # Safety
    /// The store this came from is alive and is running wasm *on this
    /// thread*, which is inside a host function called by that wasm; no
    /// Rust reference into the store's call state (activation, limits) is
    /// held across this call.
    pub unsafe fn block_on<F: Future>(&self, fut: F) -> Result<F::Output, Trap> {
        // SAFETY: the contract is `vm::fiber::block_on`'s.
        let result = unsafe { crate::vm::fiber::block_on(self.core, fut) };
        if result.is_err() {
            // SAFETY: contract: the store is live and on this thread; the
            // limits record is a plain field compiled code reloads after
            // every call.
            unsafe { (*self.core).limits.epoch_deadline = 0 };
        }
        result
    }

    /// Whether the store is inside `call_async` right now (so
    /// [`block_on`](Self::block_on) can suspend).
    ///
    /// # Safety
    /// The store this came from is alive.
    #[must_use]
    pub unsafe fn in_async_call(&self) -> bool {
        // SAFETY: contract.
        unsafe { crate::vm::fiber::in_async_call(self.core) }
    }
}
