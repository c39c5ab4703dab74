//! Every task spawned through [`super::spawn`], for the console's `ps`.
//!
//! The executor keeps no list of its tasks, so the kernel wraps each
//! future in [`Tracked`], which owns an [`Arc<TaskInfo>`] registered in a
//! map until the future is dropped (on completion or cancellation). The
//! wrapper counts polls and records where and whether the task runs.

extern crate alloc;

use crate::sync::SpinLock;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use core::task::{Context, Poll};

/// Live tasks by registration number.
static TASKS: SpinLock<BTreeMap<u64, Arc<TaskInfo>>> = SpinLock::new(BTreeMap::new());
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// What a task is doing, as far as its wrapper can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Spawned, never polled yet.
    New,
    /// Being polled now.
    Running,
    /// Returned `Pending` last time: waiting for a wake, or woken and queued.
    Waiting,
    /// Returned `Ready`; its future is being dropped.
    Done,
}

impl TaskState {
    const fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::New,
            1 => Self::Running,
            2 => Self::Waiting,
            _ => Self::Done,
        }
    }

    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Done => "done",
        }
    }
}

/// One task's entry.
#[derive(Debug)]
pub struct TaskInfo {
    name: &'static str,
    /// The executor's task id (0 until `spawn` returned).
    task_id: AtomicU64,
    polls: AtomicU64,
    state: AtomicU8,
    /// Per-CPU index of the hart that polled it last (`usize::MAX` = none).
    hart: AtomicUsize,
}

impl TaskInfo {
    pub(super) fn set_task_id(&self, id: u64) {
        self.task_id.store(id, Ordering::Relaxed);
    }

    /// The task's name.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The executor's task id (0 if spawning has not returned yet).
    #[must_use]
    pub fn task_id(&self) -> u64 {
        self.task_id.load(Ordering::Relaxed)
    }

    /// Polls so far.
    #[must_use]
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// What it is doing.
    #[must_use]
    pub fn state(&self) -> TaskState {
        TaskState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Per-CPU index of the hart that polled it last.
    #[must_use]
    pub fn last_hart(&self) -> Option<usize> {
        let hart = self.hart.load(Ordering::Relaxed);
        (hart != usize::MAX).then_some(hart)
    }
}

/// A future registered in the task list while it exists.
pub struct Tracked<F> {
    future: F,
    info: Arc<TaskInfo>,
    key: u64,
}

impl<F> Tracked<F> {
    /// Registers `future` under `name`. (The entry and its map node are
    /// allocated infallibly: stable Rust has no fallible `Arc` or map
    /// insert; the task allocation itself is fallible.)
    pub fn new(name: &'static str, future: F) -> Self {
        let info = Arc::new(TaskInfo {
            name,
            task_id: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            state: AtomicU8::new(TaskState::New as u8),
            hart: AtomicUsize::new(usize::MAX),
        });
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        TASKS.lock().insert(key, Arc::clone(&info));
        Self { future, info, key }
    }

    /// The entry.
    pub fn info(&self) -> Arc<TaskInfo> {
        Arc::clone(&self.info)
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of `future`: it is never moved out of
        // `self` and `Tracked`'s `Drop` does not move it; `info` and `key`
        // are not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let info = &this.info;
        info.hart.store(crate::percpu::current().index, Ordering::Relaxed);
        info.polls.fetch_add(1, Ordering::Relaxed);
        info.state.store(TaskState::Running as u8, Ordering::Relaxed);
        // SAFETY: as above.
        let poll = unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx);
        let state = if poll.is_ready() { TaskState::Done } else { TaskState::Waiting };
        info.state.store(state as u8, Ordering::Relaxed);
        poll
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        let entry = TASKS.lock().remove(&self.key);
        // Free the entry outside the lock.
        drop(entry);
    }
}

/// The live tasks, oldest first.
#[must_use]
pub fn snapshot() -> Vec<Arc<TaskInfo>> {
    TASKS.lock().values().cloned().collect()
}

/// How many tasks are live.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests count tasks so far"))]
#[must_use]
pub fn count() -> usize {
    TASKS.lock().len()
}
