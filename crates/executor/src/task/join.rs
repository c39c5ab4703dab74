//! [`JoinHandle`]: awaiting, cancelling or detaching a task.

use super::state::{CancelAction, DropRefAction, Snapshot};
use super::{Header, TaskId};
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll};

/// Why a task produced no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// [`JoinHandle::cancel`] took effect before the task completed; its
    /// future was dropped on a worker (or, if the task completed during the
    /// poll that raced with the cancel, its output was dropped).
    Cancelled,
    /// The task panicked while being polled (host builds with `std` only;
    /// the kernel aborts on panic).
    Panicked,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("task was cancelled"),
            Self::Panicked => f.write_str("task panicked"),
        }
    }
}

impl core::error::Error for JoinError {}

/// An owned permission to await a task's output or cancel it.
///
/// A future resolving to `Ok(output)` or a [`JoinError`]. Dropping the
/// handle detaches the task: it keeps running and its output is dropped
/// with it.
pub struct JoinHandle<T> {
    task: NonNull<Header>,
    /// Set once `poll` returned `Ready`.
    done: bool,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output (`T: Send`) across threads and
// touches the task through its atomic state word.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only reads the atomic state (`is_finished`, `id`) or
// requests cancellation, which is itself thread-safe.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

// A `JoinHandle` never pins anything of its own.
impl<T> Unpin for JoinHandle<T> {}

// === impl JoinHandle ===

impl<T> JoinHandle<T> {
    /// # Safety
    ///
    /// 1. `task` is a live task whose output type is `T`, with HAS_JOIN_HANDLE
    ///    set, and the caller transfers the join handle's counted reference.
    pub(crate) unsafe fn from_raw(task: NonNull<Header>) -> Self {
        Self { task, done: false, _output: PhantomData }
    }

    fn header(&self) -> &Header {
        // SAFETY: we own the join handle's reference, so the task is live.
        unsafe { self.task.as_ref() }
    }

    /// Requests cancellation. The task's future is dropped on a worker the
    /// next time it is scheduled (it is scheduled for that if idle), and
    /// awaiting this handle then returns [`JoinError::Cancelled`].
    ///
    /// Idempotent. Returns `false` if the task had already completed (its
    /// output stays available), `true` otherwise.
    pub fn cancel(&self) -> bool {
        let header = self.header();
        match header.state.cancel() {
            CancelAction::AlreadyComplete => false,
            CancelAction::Requested => true,
            CancelAction::Enqueue => {
                // SAFETY: the transition added a reference for the run queue
                // and set WOKEN; the task was on no queue; the join handle's
                // own reference keeps the task live during the call.
                unsafe { (header.vtable.schedule)(self.task) };
                true
            }
        }
    }

    /// Whether the task has completed (returned, panicked or was cancelled
    /// and dropped). Awaiting the handle then does not wait.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.header().state.load().get(Snapshot::COMPLETE)
    }

    /// The task's id.
    #[must_use]
    pub fn id(&self) -> TaskId {
        self.header().id
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    ///
    /// If polled again after it returned `Ready` (a caller bug).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "JoinHandle polled after it returned Ready");
        let mut out: Poll<Result<T, JoinError>> = Poll::Pending;
        let join = self.header().vtable.join;
        // SAFETY: we are the task's only join handle and hold a reference;
        // `out` has the type `join` writes for this task (`T` is the task's
        // output type by construction in `allocate`).
        unsafe { join(self.task, (&raw mut out).cast::<()>(), cx.waker()) };
        if out.is_ready() {
            self.done = true;
        }
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let header = self.header();
        if header.state.drop_join_handle() == DropRefAction::Dealloc {
            let dealloc = header.vtable.dealloc;
            // SAFETY: the handle's reference was the last one.
            unsafe { dealloc(self.task) };
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = self.header();
        f.debug_struct("JoinHandle")
            .field("id", &header.id)
            .field("name", &header.name)
            .field("state", &header.state)
            .finish()
    }
}
