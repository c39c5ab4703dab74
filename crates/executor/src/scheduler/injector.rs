//! The shared injector: tasks spawned or woken from outside a worker, and
//! overflow from full local queues.
//!
//! An intrusive FIFO through each task header's `queue_next` link under a
//! spinlock, so pushing never allocates. Not lock-free: every push and pop
//! takes the lock, so workers drain it in batches.

use super::queue::Batch;
use crate::loom::atomic::{AtomicUsize, Ordering};
use crate::task::{Header, TaskRef};
use core::fmt;
use core::ptr::NonNull;
use maitake_sync::blocking::Mutex;

/// The global run queue.
pub(crate) struct Injector {
    list: Mutex<List>,
    /// Number of queued tasks, readable without the lock.
    len: AtomicUsize,
}

struct List {
    head: Option<NonNull<Header>>,
    tail: Option<NonNull<Header>>,
}

// SAFETY: the list only holds task references (which are `Send`), and is
// only touched under the mutex.
unsafe impl Send for List {}

// === impl Injector ===

impl Injector {
    pub(crate) fn new() -> Self {
        Self { list: Mutex::new(List { head: None, tail: None }), len: AtomicUsize::new(0) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one task.
    pub(crate) fn push(&self, task: TaskRef) {
        let task = task.into_raw();
        // SAFETY: we own the task's queue reference and it is on no queue,
        // so its link is ours to write.
        unsafe { task.as_ref() }.queue_next.with_mut(|link| unsafe { *link = None });
        self.push_linked(Batch { first: task, last: task, len: 1 });
    }

    /// Appends a linked batch (its last link must be `None`).
    pub(crate) fn push_linked(&self, batch: Batch) {
        self.list.with_lock(|list| {
            match list.tail {
                // SAFETY: `tail` is a task the injector holds a reference to;
                // its link is ours under the lock.
                Some(tail) => unsafe { tail.as_ref() }.queue_next.with_mut(|link| unsafe { *link = Some(batch.first) }),
                None => list.head = Some(batch.first),
            }
            list.tail = Some(batch.last);
            self.len.fetch_add(batch.len, Ordering::Release);
        });
    }

    /// Pops the oldest task.
    pub(crate) fn pop(&self) -> Option<TaskRef> {
        if self.is_empty() {
            return None;
        }
        self.list.with_lock(|list| {
            let task = list.head?;
            // SAFETY: the injector holds `task`'s reference; its link is
            // ours under the lock.
            let next = unsafe { task.as_ref() }.queue_next.with(|link| unsafe { *link });
            list.head = next;
            if next.is_none() {
                list.tail = None;
            }
            self.len.fetch_sub(1, Ordering::Release);
            // SAFETY: the reference the queue held moves to the caller.
            Some(unsafe { TaskRef::from_raw(task) })
        })
    }

    /// Pops up to `max` tasks under one lock, handing each to `f`.
    pub(crate) fn pop_batch(&self, max: usize, mut f: impl FnMut(TaskRef)) -> usize {
        if self.is_empty() || max == 0 {
            return 0;
        }
        // Detach the first `max` tasks under the lock, consume them outside.
        let detached = self.list.with_lock(|list| {
            let first = list.head?;
            let mut last = first;
            let mut count = 1;
            while count < max {
                // SAFETY: as in `pop`.
                match unsafe { last.as_ref() }.queue_next.with(|link| unsafe { *link }) {
                    Some(next) => {
                        last = next;
                        count += 1;
                    }
                    None => break,
                }
            }
            // SAFETY: as in `pop`.
            let rest = unsafe { last.as_ref() }.queue_next.with(|link| unsafe { *link });
            list.head = rest;
            if rest.is_none() {
                list.tail = None;
            }
            self.len.fetch_sub(count, Ordering::Release);
            Some((first, count))
        });
        let Some((mut next, count)) = detached else {
            return 0;
        };
        for _ in 0..count {
            let task = next;
            // SAFETY: the detached chain is ours alone; read the link before
            // giving the task away.
            if let Some(following) = unsafe { task.as_ref() }.queue_next.with(|link| unsafe { *link }) {
                next = following;
            }
            // SAFETY: the injector's reference moves to the caller.
            f(unsafe { TaskRef::from_raw(task) });
        }
        count
    }
}

impl Drop for Injector {
    fn drop(&mut self) {
        while let Some(task) = self.pop() {
            drop(task);
        }
    }
}

impl fmt::Debug for Injector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Injector").field("len", &self.len()).finish()
    }
}
