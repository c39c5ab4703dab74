//! Tasks: one allocation each, a header with the state word, the future
//! (later its output) and the join-waker slot.
//!
//! This module is scheduler-agnostic: a task knows its scheduler only
//! through [`Schedule`], so the loom models drive tasks with a toy
//! scheduler and the executor drives them with its per-CPU run queues.
//!
//! Lifecycle: [`allocate`] returns a [`TaskRef`] (the run queue's reference,
//! the task starts WOKEN) and a [`JoinHandle`]. A worker calls
//! [`TaskRef::run`]; wakers call [`Schedule::schedule`] with a fresh
//! [`TaskRef`] whenever the task must go back on a run queue.

mod join;
mod raw;
mod state;
mod yield_now;

// Host tests need real threads and clocks; loom builds run the models.
#[cfg(all(test, not(loom)))]
mod tests;

pub use join::{JoinError, JoinHandle};
pub use yield_now::{YieldNow, yield_now};

use crate::loom::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::mem::ManuallyDrop;
use core::num::NonZeroU64;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use state::State;

/// Where woken tasks go: implemented by the executor (and by test
/// schedulers in the loom models).
///
/// `schedule` is called by wakers on whatever thread wakes the task, by
/// [`JoinHandle::cancel`], and never while the task's state word is held in
/// any lock, so it may take locks of its own.
pub trait Schedule: Send + Sync + Sized + 'static {
    /// Puts `task` on a run queue. The task is WOKEN and on no other queue;
    /// `task` is the queue's reference.
    fn schedule(&self, task: TaskRef);
}

/// A task's unique identifier (never reused within one boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    fn next() -> Self {
        // Not a loom atomic: ids only need uniqueness, not modelling.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        match NonZeroU64::new(id) {
            Some(id) => Self(id),
            // 2^64 spawns would take centuries; wrapping would reuse ids.
            None => panic!("task id counter wrapped"),
        }
    }

    /// The id as a number.
    #[must_use]
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task#{}", self.0)
    }
}

/// Spawning failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The task allocation could not be made; the future was dropped.
    OutOfMemory,
    /// The executor is shutting down and accepts no new tasks.
    Shutdown,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of memory allocating a task"),
            Self::Shutdown => f.write_str("executor is shutting down"),
        }
    }
}

impl core::error::Error for SpawnError {}

/// Optional task attributes given at spawn time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builder {
    name: Option<&'static str>,
}

impl Builder {
    /// No name.
    #[must_use]
    pub const fn new() -> Self {
        Self { name: None }
    }

    /// Names the task (shown in `Debug` output and by [`TaskRef::name`]).
    #[must_use]
    pub const fn name(mut self, name: &'static str) -> Self {
        self.name = Some(name);
        self
    }
}

/// The header every task allocation starts with.
#[repr(C)]
pub(crate) struct Header {
    /// NOTE: first field; the raw waker and queues only ever see a pointer
    /// to the header, which is also a pointer to the whole allocation.
    pub(crate) state: State,
    pub(crate) vtable: &'static raw::Vtable,
    /// Intrusive link for the injector. A task is on at most one run queue
    /// (WOKEN dedup), so one link suffices; only the queue holding the task
    /// touches it.
    pub(crate) queue_next: UnsafeCell<Option<NonNull<Header>>>,
    pub(crate) id: TaskId,
    pub(crate) name: Option<&'static str>,
}

/// Allocates a task running `future`, scheduled through `scheduler`.
///
/// Returns the run queue's reference (the task is WOKEN and must be put on
/// a run queue or dropped) and the join handle.
///
/// # Errors
///
/// [`SpawnError::OutOfMemory`] if the allocation fails (the future is
/// dropped; nothing is leaked).
pub fn allocate<F, S>(
    future: F,
    scheduler: S,
    builder: Builder,
) -> Result<(TaskRef, JoinHandle<F::Output>), SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Schedule,
{
    let header = Header {
        state: State::new_spawned(true),
        vtable: raw::vtable::<F, S>(),
        queue_next: UnsafeCell::new(None),
        id: TaskId::next(),
        name: builder.name,
    };
    let ptr = raw::allocate(header, scheduler, future)?;
    // SAFETY: `allocate` created the task with two references: one is the
    // run queue's (this TaskRef), the other the join handle's.
    let task = unsafe { TaskRef::from_raw(ptr) };
    // SAFETY: as above; this is the join handle's reference.
    let join = unsafe { JoinHandle::from_raw(ptr) };
    Ok((task, join))
}

/// One counted reference to a task, as held by a run queue.
///
/// Dropping it drops the reference (freeing the task if it was the last).
pub struct TaskRef(NonNull<Header>);

// SAFETY: a task's future and output are `Send` (enforced by `allocate`),
// its scheduler is `Send + Sync`, and all shared state is behind the atomic
// state word, so a reference may move to and be used from any thread.
unsafe impl Send for TaskRef {}
// SAFETY: `&TaskRef` only exposes the id and name (immutable after
// allocation); everything else needs the owned reference.
unsafe impl Sync for TaskRef {}

// === impl TaskRef ===

impl TaskRef {
    /// Adopts one counted reference.
    ///
    /// # Safety
    ///
    /// 1. `ptr` points to a live task header.
    /// 2. The caller transfers one reference counted in REFS to the result.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        Self(ptr)
    }

    /// Gives up ownership of the reference without dropping it.
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        ManuallyDrop::new(self).0
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: we own a counted reference, so the allocation is live.
        unsafe { self.0.as_ref() }
    }

    /// Polls the task once (or, if it was cancelled, drops its future).
    ///
    /// Consumes this run-queue reference. Returns the task again if it must
    /// go straight back on a run queue because it was woken during the poll
    /// (for example by [`yield_now`]): put it at the back, behind other
    /// ready tasks.
    #[must_use = "a returned task must be rescheduled or its wake is lost"]
    pub fn run(self) -> Option<TaskRef> {
        let ptr = self.into_raw();
        // SAFETY: we still own the reference, so the header is live.
        let poll = unsafe { ptr.as_ref() }.vtable.poll;
        // SAFETY: we transferred our reference to `poll`, which consumes it
        // (or hands it back when the task must be rescheduled); the vtable
        // matches the task's concrete types by construction in `allocate`.
        let reschedule = unsafe { poll(ptr) };
        // SAFETY: `poll` returned `true`, so it handed the reference back.
        reschedule.then(|| unsafe { TaskRef::from_raw(ptr) })
    }

    /// The task's id.
    #[must_use]
    pub fn id(&self) -> TaskId {
        self.header().id
    }

    /// The task's name, if it was given one.
    #[must_use]
    pub fn name(&self) -> Option<&'static str> {
        self.header().name
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one counted reference; dropping it is the last use.
        unsafe { raw::drop_reference(self.0) }
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskRef")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("state", &self.header().state)
            .finish()
    }
}
