//! Every task spawned through [`super::spawn`], for the console's `ps`.
//!
//! The executor keeps no list of its tasks, so the kernel wraps each
//! future in [`Tracked`], whose [`Entry`] (name, number, poll count, state,
//! last hart) lives inside the task's own allocation. On its first poll,
//! when it is pinned, the entry links itself into the polling hart's list
//! (an intrusive doubly-linked list under a per-hart lock, so registering
//! costs no allocation and rarely contends); dropping the future (on
//! completion or cancellation) unlinks it. Tasks not yet polled are only
//! counted.
//!
//! Task numbers are the kernel's own (in spawn order), not the executor's
//! `TaskId`s, which a future cannot learn.

extern crate alloc;

use crate::sync::SpinLock;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::future::Future;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;
use core::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use core::task::{Context, Poll};
use hypha_boot_info::MAX_HARTS;

/// Per hart: the entries first polled there.
static LISTS: [SpinLock<List>; MAX_HARTS] = [const { SpinLock::new(List { head: ptr::null(), len: 0 }) }; MAX_HARTS];
/// Entries in all lists.
static LISTED: AtomicUsize = AtomicUsize::new(0);
/// Tracked futures never polled yet.
static UNPOLLED: AtomicUsize = AtomicUsize::new(0);
static NEXT_NUMBER: AtomicU64 = AtomicU64::new(1);

/// What a task is doing, as far as its wrapper can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Being polled now.
    Running = 1,
    /// Returned `Pending` last time: waiting for a wake, or woken and queued.
    Waiting = 2,
    /// Returned `Ready`; its future is being dropped.
    Done = 3,
}

impl TaskState {
    const fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Running,
            2 => Self::Waiting,
            _ => Self::Done,
        }
    }

    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Done => "done",
        }
    }
}

/// A list of entries; the links are only touched under its lock.
struct List {
    head: *const Entry,
    len: usize,
}

// SAFETY: the list only holds pointers to entries that unlink themselves
// (under this list's lock) before they are freed; any hart may walk it
// while holding the lock.
unsafe impl Send for List {}

/// Links of an entry, written only under the lock of the list it is in.
struct Links {
    previous: *const Entry,
    next: *const Entry,
}

/// One task's registry entry, inside its [`Tracked`] future.
pub struct Entry {
    links: UnsafeCell<Links>,
    /// Index + 1 of the hart list holding this entry (0 = not listed).
    /// Written only by the task's own poll and drop (never concurrent).
    list: UnsafeCell<usize>,
    name: &'static str,
    number: u64,
    polls: AtomicU64,
    state: AtomicU8,
    /// Per-CPU index of the hart that polled it last.
    hart: AtomicUsize,
    _pinned: PhantomPinned,
}

// SAFETY: `links` is only accessed under the lock of the list the entry is
// in; `list` only by the owning future's poll and drop, which never run
// concurrently; the rest is immutable or atomic.
unsafe impl Send for Entry {}
// SAFETY: as above; `&Entry` from another hart (a list walker holding the
// lock) reads only the immutable and atomic fields.
unsafe impl Sync for Entry {}

/// A copy of one task's entry.
#[derive(Debug, Clone, Copy)]
pub struct TaskInfo {
    /// The kernel's task number (spawn order).
    pub number: u64,
    /// The name given to `spawn`.
    pub name: &'static str,
    /// Polls so far.
    pub polls: u64,
    /// What it is doing.
    pub state: TaskState,
    /// Per-CPU index of the hart that polled it last.
    pub last_hart: usize,
}

/// A future registered in the task lists while it exists.
pub struct Tracked<F> {
    future: F,
    entry: Entry,
}

impl<F> Tracked<F> {
    /// Wraps `future`, to be listed under `name` from its first poll.
    pub fn new(name: &'static str, future: F) -> Self {
        UNPOLLED.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            links: UnsafeCell::new(Links { previous: ptr::null(), next: ptr::null() }),
            list: UnsafeCell::new(0),
            name,
            number: NEXT_NUMBER.fetch_add(1, Ordering::Relaxed),
            polls: AtomicU64::new(0),
            state: AtomicU8::new(TaskState::Waiting as u8),
            hart: AtomicUsize::new(0),
            _pinned: PhantomPinned,
        };
        Self { future, entry }
    }

    /// The task number `ps` shows.
    #[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests read numbers before spawning"))]
    pub fn number(&self) -> u64 {
        self.entry.number
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning: neither field is moved out of `self`
        // (`Drop` only unlinks the entry in place); the entry is linked by
        // address only while pinned, and unlinked in `Drop`.
        let this = unsafe { self.get_unchecked_mut() };
        let hart = crate::percpu::current().index;
        let entry = &this.entry;
        // SAFETY: `list` is only touched by this poll and by `Drop`.
        if unsafe { *entry.list.get() } == 0 {
            let mut list = LISTS[hart].lock();
            let pointer = ptr::from_ref(entry);
            // SAFETY: we hold the list's lock, so the entry's links are ours
            // to write; the entry is pinned (we are in `poll` of a pinned
            // future) and unlinks itself in `Drop`.
            unsafe { *entry.links.get() = Links { previous: ptr::null(), next: list.head } };
            // SAFETY: a listed head is a live entry (entries unlink
            // themselves under this lock before they are freed).
            if let Some(head) = unsafe { list.head.as_ref() } {
                // SAFETY: we hold the lock of the list `head` is in.
                unsafe { (*head.links.get()).previous = pointer };
            }
            // SAFETY: `list` is only touched by this poll and by `Drop`.
            unsafe { *entry.list.get() = hart + 1 };
            list.head = pointer;
            list.len += 1;
            LISTED.fetch_add(1, Ordering::Relaxed);
            UNPOLLED.fetch_sub(1, Ordering::Relaxed);
        }
        entry.hart.store(hart, Ordering::Relaxed);
        entry.polls.fetch_add(1, Ordering::Relaxed);
        entry.state.store(TaskState::Running as u8, Ordering::Relaxed);
        // SAFETY: structural pinning, as above.
        let poll = unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx);
        let state = if poll.is_ready() { TaskState::Done } else { TaskState::Waiting };
        entry.state.store(state as u8, Ordering::Relaxed);
        poll
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        let entry = &self.entry;
        // SAFETY: `list` is only touched by `poll` and here.
        let listed = unsafe { *entry.list.get() };
        let Some(index) = listed.checked_sub(1) else {
            UNPOLLED.fetch_sub(1, Ordering::Relaxed);
            return;
        };
        let mut list = LISTS[index].lock();
        // SAFETY: the entry is in this list (linked under this lock, and
        // only `Drop` unlinks it), so we may read its links under the lock.
        let links = unsafe { &*entry.links.get() };
        let (previous, next) = (links.previous, links.next);
        // SAFETY: the neighbours of a listed entry are live entries of the
        // same list (they unlink themselves under this lock first).
        match unsafe { previous.as_ref() } {
            // SAFETY: we hold the lock of the list `previous` is in.
            Some(previous) => unsafe { (*previous.links.get()).next = next },
            None => list.head = next,
        }
        // SAFETY: as for `previous`.
        if let Some(next) = unsafe { next.as_ref() } {
            // SAFETY: we hold the lock of the list `next` is in.
            unsafe { (*next.links.get()).previous = previous };
        }
        list.len -= 1;
        LISTED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The listed tasks (each hart's list, newest first), plus how many tasks
/// exist that were never polled.
#[must_use]
pub fn snapshot() -> (Vec<TaskInfo>, usize) {
    let mut tasks = Vec::new();
    for list in &LISTS {
        // Allocate outside the lock; entries beyond the reserve (tasks
        // first polled meanwhile) are left out of this snapshot.
        tasks.reserve(LISTED.load(Ordering::Relaxed) + 16);
        let list = list.lock();
        let mut cursor = list.head;
        // SAFETY: under the lock every linked entry is live (it unlinks
        // itself under this lock before it is freed).
        while let Some(entry) = unsafe { cursor.as_ref() } {
            if tasks.len() == tasks.capacity() {
                break;
            }
            tasks.push(TaskInfo {
                number: entry.number,
                name: entry.name,
                polls: entry.polls.load(Ordering::Relaxed),
                state: TaskState::from_u8(entry.state.load(Ordering::Relaxed)),
                last_hart: entry.hart.load(Ordering::Relaxed),
            });
            // SAFETY: as above.
            cursor = unsafe { (*entry.links.get()).next };
        }
    }
    (tasks, UNPOLLED.load(Ordering::Relaxed))
}

/// Prints every listed task (number, name, polls, state, last hart) for a
/// test that timed out; called from the timer interrupt, so it skips a
/// locked list and allocates nothing.
#[cfg(feature = "ktest")]
pub fn dump_for_timeout() {
    for (hart, list) in LISTS.iter().enumerate() {
        let Some(list) = list.try_lock() else {
            crate::println!("task: (list {hart} locked)");
            continue;
        };
        let mut cursor = list.head;
        // SAFETY: under the lock every linked entry is live (as in `snapshot`).
        while let Some(entry) = unsafe { cursor.as_ref() } {
            let state = TaskState::from_u8(entry.state.load(Ordering::Relaxed));
            let polls = entry.polls.load(Ordering::Relaxed);
            let last = entry.hart.load(Ordering::Relaxed);
            crate::println!("task: #{} {} {state:?}, {polls} polls, last hart {last}", entry.number, entry.name);
            // SAFETY: as above.
            cursor = unsafe { (*entry.links.get()).next };
        }
    }
    crate::println!("task: {} never polled", UNPOLLED.load(Ordering::Relaxed));
}

/// How many tracked tasks exist (listed or not yet polled).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests count tasks so far"))]
#[must_use]
pub fn count() -> usize {
    LISTED.load(Ordering::Relaxed) + UNPOLLED.load(Ordering::Relaxed)
}
