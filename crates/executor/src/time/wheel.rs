//! A hierarchical timer wheel: 6 levels × 64 slots of 1 ms ticks, covering
//! 2^36 ticks (about 795 days); later deadlines are clamped to that.
//!
//! Level `L` slot `s` holds entries whose deadline's base-64 digit `L` is
//! `s` and whose higher digits match the wheel's current time. Each level
//! keeps an occupancy bitmap, so finding the next deadline is a rotate and
//! a trailing-zeros count per level. When a higher-level slot comes due its
//! entries cascade into lower levels; due level-0 entries move to the
//! `pending` list, from which they are fired one at a time (so the caller
//! can drop the lock to wake in batches).
//!
//! Not thread-safe by itself: [`super::Timer`] keeps it under a lock.
//! Entries are intrusive (they live in the sleeping future) and must be
//! removed before they are dropped.

use alloc::boxed::Box;
use cordyceps::{Linked, List, list};
use core::fmt;
use core::marker::PhantomPinned;
use core::ptr::NonNull;
use core::task::Waker;

const LEVELS: usize = 6;
const SLOTS: usize = 64;
const SLOT_BITS: u32 = 6;
const SLOT_MASK: u64 = 63;
/// Longest distance between now and a deadline, in ticks.
const MAX_TICKS: u64 = (1 << (SLOT_BITS * 6)) - 1;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// Not in the wheel (new, or removed).
    Idle,
    /// In slot `slot` of level `level`.
    Queued { level: usize, slot: usize },
    /// Due, in the pending list, not yet fired.
    Pending,
    /// Fired: its waker was taken and woken.
    Fired,
}

/// A timer entry, embedded in a sleeping future.
pub(crate) struct Entry {
    links: list::Links<Entry>,
    pub(crate) deadline_tick: u64,
    pub(crate) waker: Option<Waker>,
    pub(crate) state: EntryState,
    _pinned: PhantomPinned,
}

struct Level {
    occupied: u64,
    slots: Box<[List<Entry>]>,
}

/// The wheel.
pub(crate) struct Wheel {
    /// Ticks processed so far: every deadline `<= elapsed` has been moved
    /// to `pending` or fired.
    elapsed: u64,
    levels: Box<[Level]>,
    pending: List<Entry>,
}

// SAFETY: entries are only reached through the wheel, which lives under the
// timer's lock; wakers are `Send`.
unsafe impl Send for Wheel {}

// === impl Entry ===

impl Entry {
    pub(crate) const fn new() -> Self {
        Self {
            links: list::Links::new(),
            deadline_tick: 0,
            waker: None,
            state: EntryState::Idle,
            _pinned: PhantomPinned,
        }
    }
}

// SAFETY: entries are pinned inside their future for as long as they are
// linked (the future removes them in `Drop`), `links` is a field of the
// entry, and handles are plain pointers that never own the entry.
unsafe impl Linked<list::Links<Entry>> for Entry {
    type Handle = NonNull<Entry>;

    fn into_ptr(handle: Self::Handle) -> NonNull<Self> {
        handle
    }

    unsafe fn from_ptr(ptr: NonNull<Self>) -> Self::Handle {
        ptr
    }

    unsafe fn links(ptr: NonNull<Self>) -> NonNull<list::Links<Entry>> {
        // SAFETY: `ptr` points to a live entry (trait contract); taking a
        // field's address creates no reference.
        let links = unsafe { &raw mut (*ptr.as_ptr()).links };
        // SAFETY: a field of a non-null pointer is non-null.
        unsafe { NonNull::new_unchecked(links) }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("deadline_tick", &self.deadline_tick).field("state", &self.state).finish()
    }
}

// === impl Wheel ===

impl Wheel {
    pub(crate) fn new() -> Self {
        Self {
            elapsed: 0,
            levels: (0..LEVELS).map(|_| Level { occupied: 0, slots: (0..SLOTS).map(|_| List::new()).collect() }).collect(),
            pending: List::new(),
        }
    }

    /// Inserts an idle entry due at `deadline_tick`. Returns `false` (and
    /// leaves the entry idle) if that tick has already been processed.
    ///
    /// # Safety
    ///
    /// 1. `entry` is live, pinned, idle, and stays put until removed or fired.
    pub(crate) unsafe fn insert(&mut self, entry: NonNull<Entry>, deadline_tick: u64) -> bool {
        if deadline_tick <= self.elapsed {
            return false;
        }
        let deadline_tick = deadline_tick.min(self.elapsed + MAX_TICKS);
        let (level, slot) = self.position(deadline_tick);
        // SAFETY: (1); we hold the wheel, which is the only other path to it.
        let entry_mut = unsafe { &mut *entry.as_ptr() };
        debug_assert_eq!(entry_mut.state, EntryState::Idle);
        entry_mut.deadline_tick = deadline_tick;
        entry_mut.state = EntryState::Queued { level, slot };
        self.levels[level].slots[slot].push_back(entry);
        self.levels[level].occupied |= 1 << slot;
        true
    }

    /// Removes an entry from wherever it is (no-op when idle or fired).
    ///
    /// # Safety
    ///
    /// 1. `entry` is live and was only ever inserted into this wheel.
    pub(crate) unsafe fn remove(&mut self, entry: NonNull<Entry>) {
        // SAFETY: (1).
        let state = unsafe { (*entry.as_ptr()).state };
        match state {
            EntryState::Idle | EntryState::Fired => return,
            EntryState::Queued { level, slot } => {
                let list = &mut self.levels[level].slots[slot];
                // SAFETY: the state says the entry is in exactly this list.
                let _removed = unsafe { list.remove(entry) };
                if list.is_empty() {
                    self.levels[level].occupied &= !(1 << slot);
                }
            }
            EntryState::Pending => {
                // SAFETY: the state says the entry is in the pending list.
                let _removed = unsafe { self.pending.remove(entry) };
            }
        }
        // SAFETY: (1).
        unsafe { (*entry.as_ptr()).state = EntryState::Idle };
    }

    /// The earliest tick at which something is due, if anything is queued
    /// (`elapsed` itself when entries are pending).
    pub(crate) fn next_deadline_tick(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            return Some(self.elapsed);
        }
        self.next_expiration().map(|(_, _, deadline)| deadline)
    }

    /// Advances to `now_tick` far enough to return the next due entry, and
    /// marks it fired (returning its waker). `None` once nothing is due
    /// at `now_tick`; `elapsed` is then `now_tick`.
    pub(crate) fn poll_fired(&mut self, now_tick: u64) -> Option<Option<Waker>> {
        loop {
            if let Some(entry) = self.pending.pop_front() {
                // SAFETY: entries in the wheel are live (insert's contract);
                // we hold the wheel.
                let entry = unsafe { &mut *entry.as_ptr() };
                entry.state = EntryState::Fired;
                return Some(entry.waker.take());
            }
            match self.next_expiration() {
                Some((level, slot, deadline)) if deadline <= now_tick => self.expire(level, slot, deadline),
                _ => {
                    self.elapsed = self.elapsed.max(now_tick);
                    return None;
                }
            }
        }
    }

    /// `(level, slot)` for a deadline, relative to `elapsed`.
    fn position(&self, deadline_tick: u64) -> (usize, usize) {
        let masked = ((self.elapsed ^ deadline_tick) | SLOT_MASK).min(MAX_TICKS);
        let significant = 63 - masked.leading_zeros();
        let level = significant / SLOT_BITS;
        (small(level), small_u64((deadline_tick >> (SLOT_BITS * level)) & SLOT_MASK))
    }

    /// The lowest level's next occupied slot: `(level, slot, slot start)`.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for (shift, (level, entries)) in (0..).step_by(6).zip(self.levels.iter().enumerate()) {
            if entries.occupied == 0 {
                continue;
            }
            let slot_range = 1_u64 << shift;
            let level_range = slot_range << SLOT_BITS;
            let now_slot = (self.elapsed >> shift) & SLOT_MASK;
            let offset = entries.occupied.rotate_right(small_u32(now_slot)).trailing_zeros();
            let slot = (u64::from(offset) + now_slot) & SLOT_MASK;
            let level_start = self.elapsed & !(level_range - 1);
            let mut deadline = level_start + slot * slot_range;
            if deadline < self.elapsed {
                // Only the top level wraps around.
                deadline += level_range;
            }
            return Some((level, small_u64(slot), deadline));
        }
        None
    }

    /// Processes one due slot: entries due by `deadline` go to `pending`,
    /// later ones cascade to lower levels.
    fn expire(&mut self, level: usize, slot: usize, deadline: u64) {
        self.elapsed = self.elapsed.max(deadline);
        self.levels[level].occupied &= !(1 << slot);
        let mut entries = core::mem::replace(&mut self.levels[level].slots[slot], List::new());
        while let Some(entry) = entries.pop_front() {
            // SAFETY: entries in the wheel are live; we hold the wheel.
            let entry_mut = unsafe { &mut *entry.as_ptr() };
            if entry_mut.deadline_tick <= self.elapsed {
                entry_mut.state = EntryState::Pending;
                self.pending.push_back(entry);
            } else {
                entry_mut.state = EntryState::Idle;
                let deadline_tick = entry_mut.deadline_tick;
                // SAFETY: the entry is live and idle; it was in this wheel.
                let inserted = unsafe { self.insert(entry, deadline_tick) };
                debug_assert!(inserted, "cascaded entry already due");
            }
        }
    }
}

/// A level number (< 64) as an index.
fn small(value: u32) -> usize {
    // Levels and slots are below 64; `usize` is at least 32 bits here.
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// A slot number (< 64) as an index.
fn small_u64(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// A slot number (< 64) as a rotation count.
fn small_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

impl fmt::Debug for Wheel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wheel").field("elapsed", &self.elapsed).finish_non_exhaustive()
    }
}
