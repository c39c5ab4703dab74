//! Async calls: [`Func::call_async`], [`TypedFunc::call_async`] and async
//! host functions ([`Func::new_async`], [`crate::Linker::func_new_async`]).
//!
//! The call runs on a fiber (see `vm::fiber`); the returned [`CallFuture`]
//! resumes it on every poll.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::ptr;
use core::task::{Context, Poll};

use hypha_fiber::{Fiber, FiberResult, FiberStack};

use crate::config::ASYNC_HOST_RESERVE;
use crate::error::{Error, Result};
use crate::func::{Caller, Func, HostFn, TypedFunc, WasmParams, WasmResults};
use crate::store::{AsContextMut, StoreContext};
use crate::trap::Trap;
use crate::types::FuncType;
use crate::values::Val;
use crate::vm::fiber::{AsyncCx, CallState, CallSuspend, PollCx};
use crate::vm::store::StoreCore;

/// The future an async host function returns. It may borrow the
/// [`Caller`] (and so the store) and the argument/result slices across
/// `.await`s. Not required to be `Send`: neither is a [`crate::Store`], so
/// a call runs on the thread that polls it.
pub type HostFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Trap>> + 'a>>;

/// Wrap an async host function as a plain one that drives its future from
/// the `call_async` fiber, suspending the guest while it is pending.
pub(crate) fn async_host_fn<T, F>(f: F) -> HostFn<T>
where
    T: 'static,
    F: for<'a> Fn(Caller<'a, T>, &'a [Val], &'a mut [Val]) -> HostFuture<'a> + Send + Sync + 'static,
{
    Arc::new(move |mut caller: Caller<'_, T>, params: &[Val], results: &mut [Val]| {
        let core = caller.core_ptr();
        let fut = f(caller, params, results);
        // SAFETY: we are inside a host call of the live store `core`; the
        // glue only touches the store's call state (activation, limits,
        // async context) while the host future is not being polled.
        unsafe { crate::vm::fiber::block_on(core, fut) }?
    })
}

/// The fiber a call runs on: resumed with the poll's context, yields
/// "pending", returns the call's result.
type CallFiber<'a> = Fiber<'a, PollCx, (), Result<()>>;

enum CallFutureState<'a> {
    /// Setting the call up failed; reported on the first poll.
    Failed(Error),
    Running(CallFiber<'a>),
    Finished,
}

/// The future of [`Func::call_async`]: runs the call on a fiber stack,
/// returning `Pending` whenever the guest waits in an async host function
/// or yields (epoch deadline, fuel slice). Results are written to the
/// slice given to `call_async` when it completes with `Ok(())`.
///
/// Dropping it while the guest is suspended cancels the call: the guest
/// sees a trap at its suspension point and unwinds (running no more wasm),
/// the host future is dropped on the fiber, and the store stays usable.
#[must_use = "futures do nothing unless polled"]
pub struct CallFuture<'a> {
    core: *mut StoreCore,
    state: CallFutureState<'a>,
}

impl core::fmt::Debug for CallFuture<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match self.state {
            CallFutureState::Failed(_) => "failed",
            CallFutureState::Running(_) => "running",
            CallFutureState::Finished => "finished",
        };
        f.debug_struct("CallFuture").field("state", &state).finish_non_exhaustive()
    }
}

impl CallFuture<'_> {
    /// Give a finished fiber's stack back to the store for the next call.
    fn recycle(&mut self, fiber: CallFiber<'_>) {
        let stack = fiber.into_stack();
        // SAFETY: the store outlives this future ('a) and is not in use:
        // the fiber has finished and we hold the store's borrow.
        unsafe { (*self.core).fiber_stack = Some(stack) };
    }
}

impl Future for CallFuture<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let this = self.get_mut();
        match core::mem::replace(&mut this.state, CallFutureState::Finished) {
            CallFutureState::Failed(e) => Poll::Ready(Err(e)),
            CallFutureState::Finished => Poll::Ready(Err(Error::Usage("call_async future polled after completion".into()))),
            CallFutureState::Running(mut fiber) => {
                let poll_cx = PollCx(ptr::from_mut(cx).cast::<Context<'static>>());
                let result = {
                    // SAFETY: the store is live for 'a and borrowed by us.
                    let _outer = unsafe { RestoreOnDrop::capture(this.core) };
                    fiber.resume(poll_cx)
                };
                match result {
                    FiberResult::Yield(()) => {
                        this.state = CallFutureState::Running(fiber);
                        Poll::Pending
                    }
                    FiberResult::Return(r) => {
                        this.recycle(fiber);
                        Poll::Ready(r)
                    }
                }
            }
        }
    }
}

impl Drop for CallFuture<'_> {
    fn drop(&mut self) {
        if let CallFutureState::Running(fiber) = core::mem::replace(&mut self.state, CallFutureState::Finished) {
            let stack = {
                // SAFETY: as in `poll`: the cancelled fiber runs its guest's
                // unwinding on its own stack, then we restore our state.
                let _outer = unsafe { RestoreOnDrop::capture(self.core) };
                fiber.into_stack()
            };
            // SAFETY: the fiber has finished; we hold the store's borrow.
            unsafe { (*self.core).fiber_stack = Some(stack) };
        }
    }
}

/// Puts back the store's call state when dropped — also when a panic from
/// the fiber (re-raised by `resume`) unwinds through the poll.
struct RestoreOnDrop {
    state: CallState,
    core: *mut StoreCore,
}

impl RestoreOnDrop {
    /// # Safety
    /// `core` is a live store borrowed by the caller for the guard's life.
    unsafe fn capture(core: *mut StoreCore) -> Self {
        // SAFETY: contract.
        RestoreOnDrop { state: unsafe { CallState::capture(core) }, core }
    }
}

impl Drop for RestoreOnDrop {
    fn drop(&mut self) {
        // SAFETY: `capture`'s contract; we are back on the stack the state
        // was captured on (the fiber has switched back or finished).
        unsafe { self.state.restore(self.core) };
    }
}

/// A raw pointer moved into the fiber closure.
struct RawStore<T>(*mut StoreContext<T>);

impl Func {
    /// An async host function of type `ty`: `f` returns a future, which the
    /// runtime polls with the context of the [`CallFuture`] that runs the
    /// guest. While it is pending the guest is suspended and the call's
    /// future returns `Pending`. Called from a synchronous [`Func::call`]
    /// it traps ("async host function called outside call_async").
    ///
    /// # Errors
    /// As [`Func::new`].
    pub fn new_async<T, F>(store: &mut impl AsContextMut<Data = T>, ty: FuncType, f: F) -> Result<Func>
    where
        T: 'static,
        F: for<'a> Fn(Caller<'a, T>, &'a [Val], &'a mut [Val]) -> HostFuture<'a> + Send + Sync + 'static,
    {
        Self::from_host_def(store.as_context_mut(), &crate::func::HostDef::dynamic(ty, async_host_fn(f)))
    }

    /// Call on a fiber stack of [`Config::async_stack_size`] bytes (guard
    /// page below), so the guest can be suspended by async host functions
    /// and epoch/fuel yields. Traps, including stack overflow, end the call
    /// with [`Error::Trap`] exactly as in [`Func::call`]; the store stays
    /// usable. The fiber stack is reused by the store's next async call.
    ///
    /// [`Config::async_stack_size`]: crate::Config::async_stack_size
    ///
    /// `store` is a [`crate::Store`], a [`StoreContext`] or a host
    /// function's [`Caller`] (an async host function may await a nested
    /// `call_async`).
    pub fn call_async<'a, S: AsContextMut>(
        &self,
        store: &'a mut S,
        params: &[Val],
        results: &'a mut [Val],
    ) -> CallFuture<'a> {
        let store = ptr::from_mut(store.as_context_mut());
        // SAFETY: `store` comes from the `&'a mut` just above.
        let core: *mut StoreCore = unsafe { &raw mut (*store).core };
        // SAFETY: as above; the fiber gets the only use of the borrow while
        // this future exists.
        let state = match self.start_async(unsafe { &mut *store }, params, results) {
            Ok(fiber) => CallFutureState::Running(fiber),
            Err(e) => CallFutureState::Failed(e),
        };
        CallFuture { core, state }
    }

    fn start_async<'a, T: 'static>(
        &self,
        cx: &'a mut StoreContext<T>,
        params: &[Val],
        results: &'a mut [Val],
    ) -> Result<CallFiber<'a>> {
        let ty = self.checked_ty(cx, params, results)?;
        let mut slots = Self::arg_slots(cx, &ty, params)?;
        let stack = match cx.core.fiber_stack.take() {
            Some(s) => s,
            None => {
                FiberStack::with_allocator(cx.core.engine.fiber_stacks(), cx.core.engine.config().async_stack_size)
                    .map_err(|e| Error::Resource(alloc::format!("fiber stack: {e}")))?
            }
        };
        let func = *self;
        let raw = RawStore(ptr::from_mut(cx));
        let body = move |first: PollCx, suspend: &CallSuspend| -> Result<()> {
            let store = raw.0;
            // SAFETY: the store outlives the fiber ('a), and while the fiber
            // runs the CallFuture's poll (which holds the store's borrow) is
            // waiting in `resume`: this is the only user.
            let core: *mut StoreCore = unsafe { &raw mut (*store).core };
            let acx = AsyncCx { suspend: ptr::from_ref(suspend), poll_cx: Cell::new(Some(first)) };
            // SAFETY: as above; the call starts from an idle state whose
            // async context is ours.
            unsafe { CallState::IDLE.with_async_cx(&raw const acx).restore(core) };
            let floor = suspend.stack().limit().saturating_add(ASYNC_HOST_RESERVE);
            // SAFETY: as above.
            let outcome = func.call_raw(unsafe { &mut *store }, &mut slots, floor);
            // SAFETY: as above; `acx` dies with this frame.
            unsafe { (*core).async_cx = ptr::null() };
            outcome?;
            // SAFETY: as above.
            Func::read_results(unsafe { &*store }, &ty, &slots, results);
            Ok(())
        };
        Fiber::new(stack, body).map_err(|e| Error::Resource(alloc::format!("fiber: {e}")))
    }
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// [`Func::call_async`] with typed parameters and results.
    ///
    /// # Errors
    /// As [`TypedFunc::call`].
    pub fn call_async<'a, S: AsContextMut>(
        &self,
        store: &'a mut S,
        params: P,
    ) -> impl Future<Output = Result<R>> + use<'a, S, P, R> {
        let func = self.func();
        let params: Vec<Val> = params.into_vals();
        let store = store.as_context_mut();
        async move {
            let ty = func.ty(store)?;
            let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
            func.call_async(store, &params, &mut results).await?;
            R::from_vals(&results).ok_or_else(|| Error::Usage("result types".into()))
        }
    }
}
