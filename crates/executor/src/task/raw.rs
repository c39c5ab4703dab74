//! The typed task allocation and the type-erased functions that operate on
//! it through a header pointer (one vtable per future/scheduler pair), plus
//! the raw waker.

use super::state::{
    CompleteAction, DropRefAction, EndPollAction, JoinAction, RegisterAction, StartPollAction,
    WakeAction,
};
use super::{Header, JoinError, Schedule, SpawnError, TaskRef};
use crate::loom::UnsafeCell;
use alloc::alloc::{Layout, alloc, dealloc as free};
use core::future::Future;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

/// Type-erased operations on one concrete task type.
pub(crate) struct Vtable {
    /// Polls (or cancels) the task, consuming one reference; returns `true`
    /// when it hands the reference back for rescheduling.
    pub(crate) poll: unsafe fn(NonNull<Header>) -> bool,
    /// Hands one reference to the task's scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Join step: writes a `Poll<Result<T, JoinError>>` to the out pointer.
    pub(crate) join: unsafe fn(NonNull<Header>, *mut (), &Waker),
    /// Drops the allocation's contents and frees it.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
}

/// What the task holds in place of its future as it progresses.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole task allocation. `repr(C)` with the header first, so a header
/// pointer is a pointer to the cell.
#[repr(C)]
struct Cell<F: Future, S> {
    header: Header,
    scheduler: S,
    /// Accessed only by the thread that holds POLLING, by the join handle
    /// after it cleared HAS_OUTPUT, or by the thread freeing the task.
    stage: UnsafeCell<Stage<F>>,
    /// Accessed only by the join handle while the slot is `Registering`, by
    /// the completer after it moved the slot to `Woken`, or when freeing.
    join_waker: UnsafeCell<Option<Waker>>,
}

/// The vtable for tasks running `F` on `S`.
pub(crate) fn vtable<F, S>() -> &'static Vtable
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    struct Table<F, S>(core::marker::PhantomData<(F, S)>);
    impl<F, S> Table<F, S>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        S: Schedule,
    {
        const VTABLE: Vtable = Vtable {
            poll: poll::<F, S>,
            schedule: schedule::<F, S>,
            join: join::<F, S>,
            dealloc: dealloc::<F, S>,
        };
    }
    &Table::<F, S>::VTABLE
}

/// Makes the allocation for one task, with the given header.
pub(crate) fn allocate<F, S>(header: Header, scheduler: S, future: F) -> Result<NonNull<Header>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let layout = Layout::new::<Cell<F, S>>();
    // SAFETY: the layout is non-zero-sized (it contains the header).
    let ptr = unsafe { alloc(layout) }.cast::<Cell<F, S>>();
    let Some(ptr) = NonNull::new(ptr) else {
        return Err(SpawnError::OutOfMemory);
    };
    let cell = Cell {
        header,
        scheduler,
        stage: UnsafeCell::new(Stage::Running(future)),
        join_waker: UnsafeCell::new(None),
    };
    // SAFETY: `ptr` is a fresh allocation with `Cell<F, S>`'s layout.
    unsafe { ptr.as_ptr().write(cell) };
    Ok(ptr.cast::<Header>())
}

/// Recovers the typed cell.
///
/// # Safety
///
/// 1. `ptr` is the header of a live task whose vtable is `vtable::<F, S>()`.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: (1) and the header being the first field of the repr(C) cell.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Runs `f`, turning a panic into `Err` on hosts with unwinding; on targets
/// without `std` panics abort, so this is a plain call.
#[inline(always)]
fn guard<R>(f: impl FnOnce() -> R) -> Result<R, JoinError> {
    #[cfg(feature = "std")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| JoinError::Panicked)
    }
    #[cfg(not(feature = "std"))]
    {
        Ok(f())
    }
}

/// See [`Vtable::poll`].
///
/// # Safety
///
/// 1. `ptr` is a live task of type `Cell<F, S>`.
/// 2. The caller transfers one counted reference.
unsafe fn poll<F, S>(ptr: NonNull<Header>) -> bool
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: (1); our reference keeps the allocation live for this call.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.start_poll() {
        StartPollAction::Refuse => {
            // SAFETY: (2): the reference we were given is ours to drop.
            unsafe { drop_reference(ptr) };
            false
        }
        StartPollAction::Cancel => {
            // SAFETY: POLLING is set by us, so we own the stage.
            let _panicked = guard(|| cell.stage.with_mut(|stage| unsafe { *stage = Stage::Consumed }));
            // SAFETY: we hold POLLING and one reference.
            unsafe { finish::<F, S>(ptr, false) };
            false
        }
        StartPollAction::Poll => {
            // The waker borrows our reference: ManuallyDrop, never dropped.
            // SAFETY: the raw waker's contract holds for a live task header.
            let waker = ManuallyDrop::new(unsafe { Waker::from_raw(raw_waker(ptr)) });
            let mut cx = Context::from_waker(&waker);
            let result = guard(|| {
                cell.stage.with_mut(|stage| {
                    // SAFETY: POLLING is set by us, so we own the stage; the
                    // future is never moved out of the pinned allocation
                    // (it is only dropped in place).
                    match unsafe { &mut *stage } {
                        // SAFETY: as above: pinned in the task allocation.
                        Stage::Running(future) => unsafe { Pin::new_unchecked(future) }.poll(&mut cx),
                        _ => unreachable!("polled a task whose future is gone"),
                    }
                })
            });
            let output = match result {
                Ok(Poll::Pending) => {
                    return match cell.header.state.end_poll_pending() {
                        EndPollAction::Idle => false,
                        EndPollAction::Reschedule => true,
                        EndPollAction::Dealloc => {
                            // SAFETY: our reference was the last one.
                            unsafe { dealloc::<F, S>(ptr) };
                            false
                        }
                    };
                }
                Ok(Poll::Ready(output)) => Ok(output),
                Err(error) => Err(error),
            };
            // SAFETY: POLLING is ours; replacing the stage drops the future
            // in place before storing the output.
            let _panicked = guard(|| cell.stage.with_mut(|stage| unsafe { *stage = Stage::Finished(output) }));
            // SAFETY: we hold POLLING and one reference.
            unsafe { finish::<F, S>(ptr, true) };
            false
        }
    }
}

/// Completes the task after its future is gone and drops the poller's
/// reference.
///
/// # Safety
///
/// 1. `ptr` is a live task of type `Cell<F, S>`; the caller set POLLING
///    and holds one counted reference, which this consumes.
///
/// Takes no `&Cell` argument: the reference dropped at the end may free
/// the task, which must not happen while a reference argument is live.
unsafe fn finish<F, S>(ptr: NonNull<Header>, has_output: bool)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    // SAFETY: (1); our reference keeps it live until the end.
    let cell = unsafe { cell::<F, S>(ptr) };
    let CompleteAction { wake_joiner, keep_output } = cell.header.state.complete(has_output);
    if has_output && !keep_output {
        // No join handle exists or ever will: nobody else can touch the
        // stage while we hold our reference.
        // SAFETY: as above.
        let _panicked = guard(|| cell.stage.with_mut(|stage| unsafe { *stage = Stage::Consumed }));
    }
    if wake_joiner {
        // SAFETY: we moved the slot from Registered to Woken, which gives us
        // exclusive access to it.
        let waker = cell.join_waker.with_mut(|slot| unsafe { (*slot).take() });
        if let Some(waker) = waker {
            waker.wake();
        }
    }
    // SAFETY: (1): the reference is ours to drop.
    unsafe { drop_reference(ptr) };
}

/// See [`Vtable::schedule`].
///
/// # Safety
///
/// 1. `ptr` is a live task of type `Cell<F, S>`.
/// 2. The caller transfers one counted reference, and the task is WOKEN
///    and on no run queue.
/// 3. The caller holds another reference for the duration of the call
///    (the scheduler lives in the task, and `schedule(&self)` must not see
///    it freed by a worker that already ran the task).
unsafe fn schedule<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: (1).
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: (2).
    cell.scheduler.schedule(unsafe { TaskRef::from_raw(ptr) });
}

/// See [`Vtable::join`].
///
/// # Safety
///
/// 1. `ptr` is a live task of type `Cell<F, S>` and the caller is its join
///    handle (so holds a reference and is the only joiner).
/// 2. `out` points to a writable `Poll<Result<F::Output, JoinError>>`.
unsafe fn join<F: Future, S>(ptr: NonNull<Header>, out: *mut (), waker: &Waker) {
    // SAFETY: (1).
    let cell = unsafe { cell::<F, S>(ptr) };
    let out = out.cast::<Poll<Result<F::Output, JoinError>>>();
    loop {
        match cell.header.state.join() {
            JoinAction::TakeOutput => {
                // SAFETY: we cleared HAS_OUTPUT with COMPLETE set: the output
                // is ours and no poller touches the stage again.
                let stage = cell.stage.with_mut(|stage| unsafe { core::mem::replace(&mut *stage, Stage::Consumed) });
                let Stage::Finished(result) = stage else {
                    unreachable!("HAS_OUTPUT set without a stored output")
                };
                // SAFETY: (2).
                unsafe { out.write(Poll::Ready(result)) };
                return;
            }
            JoinAction::Cancelled => {
                // SAFETY: (2).
                unsafe { out.write(Poll::Ready(Err(JoinError::Cancelled))) };
                return;
            }
            JoinAction::AlreadyTaken => {
                unreachable!("JoinHandle polled after it returned Ready")
            }
            JoinAction::Register => {
                // SAFETY: the slot is Registering, which only we (the single
                // join handle) can set, so we own it until we publish.
                cell.join_waker.with_mut(|slot| {
                    // SAFETY: see above: the slot is ours while Registering.
                    let slot = unsafe { &mut *slot };
                    if !slot.as_ref().is_some_and(|old| old.will_wake(waker)) {
                        *slot = Some(waker.clone());
                    }
                });
                match cell.header.state.finish_join_registration() {
                    RegisterAction::Registered => {
                        // SAFETY: (2).
                        unsafe { out.write(Poll::Pending) };
                        return;
                    }
                    RegisterAction::Completed => {
                        // The completer never saw our waker; the slot is
                        // still ours. Clear it and join again: COMPLETE is
                        // sticky, so the next round ends the loop.
                        // SAFETY: as above.
                        drop(cell.join_waker.with_mut(|slot| unsafe { (*slot).take() }));
                    }
                }
            }
        }
    }
}

/// See [`Vtable::dealloc`].
///
/// # Safety
///
/// 1. `ptr` is a task of type `Cell<F, S>` whose last reference is gone.
unsafe fn dealloc<F: Future, S>(ptr: NonNull<Header>) {
    let cell = ptr.cast::<Cell<F, S>>();
    // SAFETY: (1): no other reference exists, so we own the allocation; it
    // was made by `allocate` with exactly this layout.
    let _panicked = guard(|| unsafe { core::ptr::drop_in_place(cell.as_ptr()) });
    // SAFETY: as above; the contents were dropped just now.
    unsafe { free(cell.as_ptr().cast::<u8>(), Layout::new::<Cell<F, S>>()) };
}

/// Drops one reference, freeing the task if it was the last.
///
/// # Safety
///
/// 1. `ptr` is a live task and the caller gives up one counted reference.
pub(crate) unsafe fn drop_reference(ptr: NonNull<Header>) {
    // SAFETY: (1) keeps the header live until the decrement.
    let header = unsafe { ptr.as_ref() };
    if header.state.drop_ref() == DropRefAction::Dealloc {
        let dealloc = header.vtable.dealloc;
        // SAFETY: that was the last reference.
        unsafe { dealloc(ptr) };
    }
}

// === raw waker ===

static WAKER_VTABLE: RawWakerVTable = RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// A raw waker for the task at `ptr`; it owns one counted reference when
/// turned into an owned `Waker`.
pub(crate) fn raw_waker(ptr: NonNull<Header>) -> RawWaker {
    RawWaker::new(ptr.as_ptr().cast::<()>().cast_const(), &WAKER_VTABLE)
}

/// # Safety
///
/// 1. `data` came from [`raw_waker`] and the waker holds a counted reference.
unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: (1): the waker's reference keeps the task live.
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: as above.
    unsafe { ptr.as_ref() }.state.clone_ref();
    raw_waker(ptr)
}

/// # Safety
///
/// 1. As [`waker_clone`]; consumes the waker's reference.
unsafe fn waker_wake(data: *const ()) {
    // SAFETY: (1).
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: (1) keeps the header live until the transition.
    let header = unsafe { ptr.as_ref() };
    match header.state.wake_by_val() {
        WakeAction::None => {}
        WakeAction::Enqueue => {
            // SAFETY: the transition added the queue's reference; the
            // waker's reference keeps the task live during the call.
            unsafe { (header.vtable.schedule)(ptr) };
            // SAFETY: the waker's reference is ours to drop now.
            unsafe { drop_reference(ptr) };
        }
        WakeAction::Dealloc => {
            let dealloc = header.vtable.dealloc;
            // SAFETY: the waker's reference was the last one.
            unsafe { dealloc(ptr) };
        }
    }
}

/// # Safety
///
/// 1. As [`waker_clone`].
unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: (1).
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: (1) keeps the header live.
    let header = unsafe { ptr.as_ref() };
    if header.state.wake_by_ref() == WakeAction::Enqueue {
        // SAFETY: the transition added a reference for the run queue; the
        // borrowed waker's reference keeps the task live during the call.
        unsafe { (header.vtable.schedule)(ptr) };
    }
}

/// # Safety
///
/// 1. As [`waker_clone`]; consumes the waker's reference.
unsafe fn waker_drop(data: *const ()) {
    // SAFETY: (1).
    let ptr = unsafe { NonNull::new_unchecked(data.cast_mut().cast::<Header>()) };
    // SAFETY: (1): the waker's reference is ours to drop.
    unsafe { drop_reference(ptr) }
}
