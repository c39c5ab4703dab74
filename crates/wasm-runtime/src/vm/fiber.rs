//! Running wasm on a fiber (`call_async`): the suspend handle that host
//! functions and the epoch/fuel libcalls use, the per-call state swapped on
//! every switch, and fiber stacks from the [`Platform`].
//!
//! A `call_async` future owns a [`hypha_fiber::SendFiber`]. Each poll
//! resumes it with the poll's [`Context`] ([`PollCx`]); code on the fiber
//! that must wait (an async host function whose future is pending, an
//! epoch or fuel yield) calls [`suspend`], which switches back to the poll,
//! which returns `Pending`.
//!
//! What makes a store "in a call" — its innermost activation (with the
//! trap jump buffer), its stack limit, the async context and the thread's
//! current-activation slot — belongs to whichever stack is running. Both
//! sides of every switch save theirs before and restore it after
//! ([`CallState`]), so the jump buffer and stack limit in force are always
//! the running fiber's, and between polls the store looks idle (a leaked
//! future cannot leave dangling state behind).

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "each block touches the one live store whose invariant is stated at the block")]

use alloc::sync::Arc;
use core::cell::Cell;
use core::future::Future;
use core::pin::pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll};

use hypha_fiber::{StackAllocator, StackError, StackRegion, Suspend};

use crate::error::Result;
use crate::platform::{Platform, Protection};
use crate::trap::Trap;
use crate::vm::store::StoreCore;
use crate::vm::traps::Activation;

/// The [`Context`] of the poll that resumed the fiber. Only valid until
/// the fiber suspends again (the poll is then over).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollCx(pub *mut Context<'static>);

// SAFETY: a PollCx is only dereferenced on the fiber while the poll that
// produced it is running; that poll waits in `resume` on the same thread.
unsafe impl Send for PollCx {}

/// The fiber's suspend handle: resumed with a [`PollCx`], yields `()`
/// ("pending"), returns the call's result.
pub(crate) type CallSuspend = Suspend<PollCx, (), Result<()>>;

/// Lives on the fiber stack for the whole call; `StoreCore::async_cx`
/// points here while the fiber is the running side.
pub(crate) struct AsyncCx {
    pub suspend: *const CallSuspend,
    /// The current poll's context; `None` once the future was dropped.
    pub poll_cx: Cell<Option<PollCx>>,
}

/// The trap a guest gets when its `call_async` future is dropped while it
/// waits: it unwinds the guest frames back to the fiber entry.
fn cancelled() -> Trap {
    Trap::host("call_async future dropped while the guest was suspended")
}

// === impl CallState ===

/// The per-call state of a store, swapped on every fiber switch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallState {
    activation: *mut Activation,
    stack_limit: usize,
    async_cx: *const AsyncCx,
    thread_activation: *mut u8,
}

impl CallState {
    /// An idle store: no activation, no stack limit, not async.
    pub const IDLE: CallState = CallState {
        activation: ptr::null_mut(),
        stack_limit: 0,
        async_cx: ptr::null(),
        thread_activation: ptr::null_mut(),
    };

    /// Read the state of `core` and the calling thread.
    ///
    /// # Safety
    /// `core` is a live store and no Rust reference to its `activation`,
    /// `async_cx` or limits is in use.
    pub unsafe fn capture(core: *mut StoreCore) -> CallState {
        // SAFETY: contract.
        unsafe {
            CallState {
                activation: (*core).activation,
                stack_limit: (*core).limits.stack_limit,
                async_cx: (*core).async_cx,
                thread_activation: (*core).engine.platform().current_activation(),
            }
        }
    }

    /// Install this state in `core` and the calling thread.
    ///
    /// # Safety
    /// As [`CallState::capture`]; the state was captured on the stack that
    /// is running now (or is [`CallState::IDLE`] with `async_cx` set for a
    /// fiber that is starting).
    pub unsafe fn restore(self, core: *mut StoreCore) {
        // SAFETY: contract.
        unsafe {
            (*core).activation = self.activation;
            (*core).limits.stack_limit = self.stack_limit;
            (*core).async_cx = self.async_cx;
            (*core).engine.platform().set_current_activation(self.thread_activation);
        }
    }

    /// This state with `async_cx` replaced.
    pub fn with_async_cx(self, async_cx: *const AsyncCx) -> CallState {
        CallState { async_cx, ..self }
    }
}

// === suspending ===

/// Is the store running on a `call_async` fiber?
///
/// # Safety
/// `core` is a live store.
pub(crate) unsafe fn in_async_call(core: *const StoreCore) -> bool {
    // SAFETY: contract.
    unsafe { !(*core).async_cx.is_null() }
}

/// Switch back to the future's poll, which returns `Pending`; returns when
/// the future is polled again. With `wake`, the task is woken first (a
/// voluntary yield: nothing else would wake it).
///
/// # Errors
/// A trap if the store is not in `call_async`, or the future was dropped
/// (the guest must unwind).
///
/// # Safety
/// `core` is a live store running wasm on this thread, and no Rust
/// reference into its call state is held across this call.
pub(crate) unsafe fn suspend(core: *mut StoreCore, wake: bool) -> Result<(), Trap> {
    // SAFETY: contract.
    let acx = unsafe { (*core).async_cx };
    if acx.is_null() {
        return Err(Trap::host("cannot suspend: not inside call_async"));
    }
    // SAFETY: a non-null async_cx points at the AsyncCx on the running
    // fiber's stack, alive for the whole call.
    let acx = unsafe { &*acx };
    let Some(cx) = acx.poll_cx.get() else { return Err(cancelled()) };
    if wake {
        // SAFETY: `cx` is the context of the poll running right now.
        unsafe { (*cx.0).waker().wake_by_ref() };
    }
    // SAFETY: contract; this is the fiber's own state.
    let mine = unsafe { CallState::capture(core) };
    // SAFETY: `suspend` points to the fiber's Suspend, which lives on its
    // stack until the closure returns; we are on that fiber.
    let resumed = unsafe { (*acx.suspend).suspend(()) };
    // SAFETY: back on the fiber; the resumer saved its own state.
    unsafe { mine.restore(core) };
    if let Ok(cx) = resumed {
        acx.poll_cx.set(Some(cx));
        Ok(())
    } else {
        acx.poll_cx.set(None);
        Err(cancelled())
    }
}

/// Drive `fut` to completion from the fiber, suspending the guest while it
/// is pending. The future is polled with the outer task's context, so its
/// waker wakes the task that polls the `call_async` future.
///
/// # Errors
/// As [`suspend`]; the future is dropped on the fiber first.
///
/// # Safety
/// As [`suspend`].
pub(crate) unsafe fn block_on<F: Future>(core: *mut StoreCore, fut: F) -> Result<F::Output, Trap> {
    // SAFETY: contract.
    let acx = unsafe { (*core).async_cx };
    if acx.is_null() {
        return Err(Trap::host("async host function called outside call_async"));
    }
    let mut fut = pin!(fut);
    loop {
        // SAFETY: the AsyncCx lives on this fiber's stack for the whole call.
        let Some(cx) = (unsafe { (*acx).poll_cx.get() }) else { return Err(cancelled()) };
        // SAFETY: `cx` belongs to the poll that resumed us, still running.
        if let Poll::Ready(v) = fut.as_mut().poll(unsafe { &mut *cx.0 }) {
            return Ok(v);
        }
        // SAFETY: contract.
        unsafe { suspend(core, false)? };
    }
}

// === impl PlatformStacks ===

/// Fiber stacks from [`Platform::reserve`]: one guard page below the usable
/// part, which is committed read-write. Up to `capacity` stacks handed back
/// stay committed in an idle pool and are handed out again as they are
/// ([`Config::async_stack_pool`](crate::Config::async_stack_pool)): no
/// reservation, commit (zeroing) or release per call. A reused stack is not
/// cleared; wasm cannot address its native stack, and host code never reads
/// stack memory it did not write.
#[derive(Debug)]
pub(crate) struct PlatformStacks {
    platform: Arc<dyn Platform>,
    capacity: usize,
    idle: IdleStacks,
}

impl PlatformStacks {
    /// Stacks from `platform`, keeping up to `capacity` idle ones.
    pub(crate) fn new(platform: Arc<dyn Platform>, capacity: usize) -> Self {
        Self { platform, capacity, idle: IdleStacks::default() }
    }

    /// Releases every idle stack; returns how many.
    pub(crate) fn release_idle(&self) -> usize {
        let idle = self.idle.with(core::mem::take);
        let count = idle.len();
        for region in idle {
            // SAFETY: an idle region came from `reserve_new` and no fiber
            // uses it (it was deallocated into the pool); it left the pool
            // above, so it is released once.
            unsafe { self.release(region) };
        }
        count
    }

    /// A fresh stack of `size` usable bytes (rounded up to pages).
    fn reserve_new(&self, size: usize) -> Result<StackRegion, StackError> {
        let page = self.platform.page_size();
        let usable = size.checked_next_multiple_of(page).ok_or(StackError::SizeOverflow)?;
        let total = usable.checked_add(page).ok_or(StackError::SizeOverflow)?;
        let base = self.platform.reserve(total).map_err(|_| StackError::OutOfMemory { code: 0 })?;
        let usable_ptr = base.as_ptr().wrapping_add(page);
        let Some(usable_ptr) = NonNull::new(usable_ptr) else {
            // SAFETY: releasing the reservation made just above.
            unsafe { self.platform.release(base, total) };
            return Err(StackError::BadLayout);
        };
        // SAFETY: the range is inside the reservation just made.
        if unsafe { self.platform.protect(usable_ptr, usable, Protection::ReadWrite) }.is_err() {
            // SAFETY: releasing the reservation made just above.
            unsafe { self.platform.release(base, total) };
            return Err(StackError::OutOfMemory { code: 0 });
        }
        let start = base.as_ptr().expose_provenance();
        StackRegion::new(start, start + page, start + total)
    }

    /// Gives `region`'s reservation back to the platform.
    ///
    /// # Safety
    /// `region` came from `reserve_new`, nothing runs on it, and it is
    /// released once.
    unsafe fn release(&self, region: StackRegion) {
        let Some(base) = NonNull::new(ptr::with_exposed_provenance_mut::<u8>(region.guard_base())) else { return };
        // SAFETY: caller contract: `reserve_new` reserved exactly
        // [guard_base, top).
        unsafe { self.platform.release(base, region.top() - region.guard_base()) };
    }
}

// SAFETY: each stack is a fresh reservation owned by the region until
// `deallocate`; its usable part is committed read-write, its guard page
// stays inaccessible (the Platform contract: reserved ranges fault). A
// pooled region is owned by the pool alone (deallocated: no fiber on it)
// until `allocate` hands it to exactly one new owner, unchanged: still
// committed read-write with its guard page.
unsafe impl StackAllocator for PlatformStacks {
    fn allocate(&self, size: usize) -> Result<StackRegion, StackError> {
        let page = self.platform.page_size();
        let usable = size.checked_next_multiple_of(page).ok_or(StackError::SizeOverflow)?;
        let pooled = self.idle.with(|idle| {
            let at = idle.iter().rposition(|region| region.top() - region.limit() == usable)?;
            Some(idle.swap_remove(at))
        });
        match pooled {
            Some(region) => Ok(region),
            None => self.reserve_new(size),
        }
    }

    unsafe fn deallocate(&self, region: StackRegion) {
        let refused = self.idle.with(|idle| {
            if idle.len() < self.capacity {
                idle.push(region);
                None
            } else {
                Some(region)
            }
        });
        if let Some(region) = refused {
            // SAFETY: caller contract: the region came from `allocate`
            // (so from `reserve_new`), nothing runs on it, and it is handed
            // back once; the pool did not take it.
            unsafe { self.release(region) };
        }
    }
}

impl Drop for PlatformStacks {
    fn drop(&mut self) {
        self.release_idle();
    }
}

/// The idle pool: a list behind a spin lock (no_std: no OS mutex), held
/// only for one push, pop or take.
#[derive(Default)]
struct IdleStacks {
    locked: core::sync::atomic::AtomicBool,
    regions: core::cell::UnsafeCell<alloc::vec::Vec<StackRegion>>,
}

// SAFETY: `regions` is only reached through `with`, which holds `locked`;
// a `StackRegion` is plain addresses.
unsafe impl Sync for IdleStacks {}

impl core::fmt::Debug for IdleStacks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdleStacks").finish_non_exhaustive()
    }
}

impl IdleStacks {
    fn with<R>(&self, f: impl FnOnce(&mut alloc::vec::Vec<StackRegion>) -> R) -> R {
        use core::sync::atomic::Ordering;
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: we hold `locked` (acquired above, released below), so this
        // is the only reference; `f` is a push, pop or take that does not
        // re-enter the pool.
        let r = f(unsafe { &mut *self.regions.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}
