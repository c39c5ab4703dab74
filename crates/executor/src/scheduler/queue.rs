//! The per-CPU run queue: a bounded lock-free ring. Its owner pushes at the
//! tail and pops at the head; other CPUs steal half of it from the head.
//!
//! `head` and `tail` are free-running counters (index = counter mod
//! capacity). Only the owner writes `tail`. Owner pops and steals both
//! claim entries by CAS on `head`; a stealer reads the slots it wants
//! *before* its CAS and discards them if the CAS fails. That is sound
//! because slots are atomics (a stale read is a value, not a data race)
//! and the owner only overwrites a slot after seeing `head` move past it,
//! which a successful CAS on the same `head` value rules out.

use crate::loom::atomic::{AtomicPtr, AtomicUsize, Ordering};
use crate::task::{Header, TaskRef};
use alloc::boxed::Box;
use core::fmt;
use core::ptr::{self, NonNull};

/// Slots per queue.
#[cfg(not(loom))]
pub(crate) const CAPACITY: usize = 256;
/// Slots per queue (small under loom so overflow is reachable).
#[cfg(loom)]
pub(crate) const CAPACITY: usize = 4;
const MASK: usize = CAPACITY - 1;

/// One CPU's stealable run queue.
pub(crate) struct LocalQueue {
    head: AtomicUsize,
    tail: AtomicUsize,
    slots: Box<[AtomicPtr<Header>]>,
}

/// A batch of tasks linked through their `queue_next` fields, moved to the
/// injector in one lock acquisition.
pub(crate) struct Batch {
    pub(crate) first: NonNull<Header>,
    pub(crate) last: NonNull<Header>,
    pub(crate) len: usize,
}

// === impl LocalQueue ===

impl LocalQueue {
    pub(crate) fn new() -> Self {
        const _: () = assert!(CAPACITY.is_power_of_two());
        Self {
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            slots: (0..CAPACITY).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
        }
    }

    /// Number of queued tasks (a snapshot; exact only for the owner).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(CAPACITY)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes at the tail; hands the task back if the queue is full.
    ///
    /// # Safety
    ///
    /// 1. Only the owning CPU calls `push`, `pop`, `steal_into` (as the
    ///    destination) and `take_half`.
    pub(crate) unsafe fn push(&self, task: TaskRef) -> Result<(), TaskRef> {
        // Only we write `tail`.
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= CAPACITY {
            return Err(task);
        }
        self.slots[tail & MASK].store(task.into_raw().as_ptr(), Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Pops from the head.
    ///
    /// # Safety
    ///
    /// 1. As [`push`](Self::push).
    pub(crate) unsafe fn pop(&self) -> Option<TaskRef> {
        let tail = self.tail.load(Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            if head == tail {
                return None;
            }
            let task = self.slots[head & MASK].load(Ordering::Relaxed);
            match self.head.compare_exchange_weak(
                head,
                head.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                // SAFETY: the CAS claimed slot `head`, which held a non-null
                // task reference pushed by us; it is now ours.
                Ok(_) => return Some(unsafe { claim(task) }),
                Err(actual) => head = actual,
            }
        }
    }

    /// Claims the older half of the queue (for overflow to the injector),
    /// linked into a batch.
    ///
    /// # Safety
    ///
    /// 1. As [`push`](Self::push).
    pub(crate) unsafe fn take_half(&self) -> Option<Batch> {
        let tail = self.tail.load(Ordering::Relaxed);
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let len = tail.wrapping_sub(head);
            let take = len / 2;
            if take == 0 {
                return None;
            }
            // Speculative reads; only valid if the CAS below succeeds.
            let mut pointers = [ptr::null_mut::<Header>(); CAPACITY / 2];
            for (index, pointer) in pointers.iter_mut().take(take).enumerate() {
                *pointer = self.slots[head.wrapping_add(index) & MASK].load(Ordering::Relaxed);
            }
            match self.head.compare_exchange(head, head.wrapping_add(take), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // SAFETY: the CAS made these `take` task references ours.
                    return Some(unsafe { link(&pointers[..take]) });
                }
                Err(actual) => head = actual,
            }
        }
    }

    /// Steals half of `self` (the victim) into `destination`, returning one
    /// of the stolen tasks to run right away.
    ///
    /// # Safety
    ///
    /// 1. The caller is the owner of `destination` (not of `self`).
    pub(crate) unsafe fn steal_into(&self, destination: &LocalQueue) -> Option<TaskRef> {
        let destination_tail = destination.tail.load(Ordering::Relaxed);
        let destination_head = destination.head.load(Ordering::Acquire);
        let free = CAPACITY - destination_tail.wrapping_sub(destination_head);
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            let len = tail.wrapping_sub(head);
            if len == 0 {
                return None;
            }
            if len > CAPACITY {
                // `head` was stale by the time we read `tail`; retry.
                continue;
            }
            let take = (len - len / 2).min(free + 1);
            // Speculative copies: the first is returned, the rest go into
            // our own free slots (not yet published by `tail`).
            let first = self.slots[head & MASK].load(Ordering::Relaxed);
            for index in 1..take {
                let task = self.slots[head.wrapping_add(index) & MASK].load(Ordering::Relaxed);
                destination.slots[destination_tail.wrapping_add(index - 1) & MASK].store(task, Ordering::Relaxed);
            }
            if self
                .head
                .compare_exchange(head, head.wrapping_add(take), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                destination.tail.store(destination_tail.wrapping_add(take - 1), Ordering::Release);
                // SAFETY: the CAS transferred the `take` references to us.
                return Some(unsafe { claim(first) });
            }
        }
    }
}

/// Adopts a task reference read from a claimed slot.
///
/// # Safety
///
/// 1. `task` is non-null and its queue reference now belongs to the caller.
unsafe fn claim(task: *mut Header) -> TaskRef {
    // SAFETY: (1).
    let task = unsafe { NonNull::new_unchecked(task) };
    // SAFETY: (1).
    unsafe { TaskRef::from_raw(task) }
}

/// Links task references into a batch through `queue_next`.
///
/// # Safety
///
/// 1. `pointers` is non-empty and each entry is a task reference we own
///    (on no queue), which the batch takes over.
unsafe fn link(pointers: &[*mut Header]) -> Batch {
    // SAFETY: (1).
    let first = unsafe { NonNull::new_unchecked(pointers[0]) };
    let mut last = first;
    for &pointer in &pointers[1..] {
        // SAFETY: (1).
        let next = unsafe { NonNull::new_unchecked(pointer) };
        // SAFETY: we own `last`'s queue reference, so its link is ours.
        unsafe { last.as_ref() }.queue_next.with_mut(|link| unsafe { *link = Some(next) });
        last = next;
    }
    // SAFETY: as above.
    unsafe { last.as_ref() }.queue_next.with_mut(|link| unsafe { *link = None });
    Batch { first, last, len: pointers.len() }
}

impl Drop for LocalQueue {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no other CPU can touch the queue.
        while let Some(task) = unsafe { self.pop() } {
            drop(task);
        }
    }
}

impl fmt::Debug for LocalQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalQueue").field("len", &self.len()).finish()
    }
}

/// Loom models of the ring: every task pushed is obtained exactly once,
/// whatever the interleaving of owner pushes/pops, overflow and a steal.
/// Run with `RUSTFLAGS="--cfg loom" cargo test -p hypha-executor --release --lib`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::{CAPACITY, LocalQueue};
    use crate::task::{self, Builder, Schedule, TaskId, TaskRef};
    use alloc::vec::Vec;
    use loom::sync::Arc;

    struct Nowhere;

    impl Schedule for Nowhere {
        fn schedule(&self, task: TaskRef) {
            drop(task);
        }
    }

    fn task_ref() -> TaskRef {
        let (task, join) = task::allocate(async {}, Nowhere, Builder::new()).unwrap();
        drop(join);
        task
    }

    fn drain_batch(batch: super::Batch, ids: &mut Vec<TaskId>) {
        let mut next = Some(batch.first);
        while let Some(task) = next {
            // SAFETY: the batch's tasks are ours; read the link first.
            next = unsafe { task.as_ref() }.queue_next.with(|link| unsafe { *link });
            // SAFETY: as above.
            let task = unsafe { TaskRef::from_raw(task) };
            ids.push(task.id());
        }
    }

    #[test]
    fn push_pop_and_steal_hand_out_each_task_once() {
        loom::model(|| {
            let victim = Arc::new(LocalQueue::new());
            let tasks: Vec<TaskRef> = (0..CAPACITY + 1).map(|_| task_ref()).collect();
            let mut all: Vec<TaskId> = tasks.iter().map(TaskRef::id).collect();
            let mut tasks = tasks.into_iter();
            for task in tasks.by_ref().take(2) {
                // SAFETY: this thread is the owner.
                assert!(unsafe { victim.push(task) }.is_ok());
            }
            let thief = {
                let victim = victim.clone();
                loom::thread::spawn(move || {
                    let own = LocalQueue::new();
                    let mut ids = Vec::new();
                    // SAFETY: this thread owns `own`.
                    if let Some(task) = unsafe { victim.steal_into(&own) } {
                        ids.push(task.id());
                        // SAFETY: as above.
                        while let Some(task) = unsafe { own.pop() } {
                            ids.push(task.id());
                        }
                    }
                    ids
                })
            };
            let mut ids = Vec::new();
            for task in tasks {
                // SAFETY: this thread is the owner.
                if let Err(task) = unsafe { victim.push(task) } {
                    // Full: overflow half, as the executor does.
                    // SAFETY: as above.
                    if let Some(batch) = unsafe { victim.take_half() } {
                        drain_batch(batch, &mut ids);
                    }
                    ids.push(task.id());
                }
            }
            // SAFETY: as above.
            while let Some(task) = unsafe { victim.pop() } {
                ids.push(task.id());
            }
            ids.extend(thief.join().unwrap());
            ids.sort();
            all.sort();
            assert_eq!(ids, all, "every task exactly once");
        });
    }
}
