//! Timers: [`Sleep`], [`Timeout`] and the wheel that drives them.
//!
//! One wheel per executor, under a spinlock, advanced by whichever worker
//! sees it due during its tick; a parked worker sleeps no longer than the
//! next deadline. Resolution is one 1 ms tick: a sleep never ends early and
//! usually ends within a tick of its deadline.
//!
//! Timer entries live inside the [`Sleep`] future (no allocation per
//! sleep) and unlink themselves when it is dropped.

mod wheel;

// Host tests need real threads and clocks; loom builds run the models.
#[cfg(all(test, not(loom)))]
mod tests;

use crate::Executor;
use crate::loom::atomic::{AtomicU64, Ordering};
use crate::platform::Clock;
use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::fmt;
use core::future::Future;
use core::ops::Add;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use maitake_sync::blocking::Mutex;
use wheel::{Entry, EntryState, Wheel};

/// Nanoseconds per wheel tick (1 ms).
const NANOS_PER_TICK: u64 = 1_000_000;
/// Wakers fired per lock acquisition.
const FIRE_BATCH: usize = 32;

/// A point in time on the executor's [`Clock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    nanos: u64,
}

impl Instant {
    /// The instant `nanos` nanoseconds after the clock's origin.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Self {
        Self { nanos }
    }

    /// Nanoseconds since the clock's origin.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(earlier.nanos))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// Saturates at the end of time (about 584 years after boot).
    fn add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant { nanos: self.nanos.saturating_add(nanos) }
    }
}

/// A [`Timeout`] expired before its future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed;

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl core::error::Error for Elapsed {}

/// The executor's timer: the wheel, its lock and the clock.
pub(crate) struct Timer {
    wheel: Mutex<Wheel>,
    /// The earliest due tick (`u64::MAX` when nothing is queued), readable
    /// without the lock. Updated under the lock.
    next_tick: AtomicU64,
    clock: Box<dyn Clock>,
}

// === impl Timer ===

impl Timer {
    pub(crate) fn new(clock: Box<dyn Clock>) -> Self {
        Self { wheel: Mutex::new(Wheel::new()), next_tick: AtomicU64::new(u64::MAX), clock }
    }

    pub(crate) fn now(&self) -> Instant {
        Instant::from_nanos(self.clock.now_nanos())
    }

    /// Whether anything is due at `now`, without taking the lock.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        let next = self.next_tick.load(Ordering::Acquire);
        next != u64::MAX && now.nanos / NANOS_PER_TICK >= next
    }

    /// Whether any timer is queued.
    pub(crate) fn is_armed(&self) -> bool {
        self.next_tick.load(Ordering::Acquire) != u64::MAX
    }

    /// Time from `now` until the next deadline, if any.
    pub(crate) fn until_next(&self, now: Instant) -> Option<Duration> {
        let next = self.next_tick.load(Ordering::Acquire);
        (next != u64::MAX).then(|| Instant::from_nanos(next.saturating_mul(NANOS_PER_TICK)).saturating_duration_since(now))
    }

    /// Fires every entry due at `now`, waking outside the lock in batches.
    /// Returns how many fired.
    pub(crate) fn fire_due(&self, now: Instant) -> usize {
        if !self.is_due(now) {
            return 0;
        }
        self.fire_until(now.nanos / NANOS_PER_TICK)
    }

    /// Fires everything up to `now_tick`.
    pub(crate) fn fire_until(&self, now_tick: u64) -> usize {
        let mut fired = 0;
        loop {
            let mut wakers: [Option<Waker>; FIRE_BATCH] = [const { None }; FIRE_BATCH];
            let mut count = 0;
            let mut more = true;
            self.wheel.with_lock(|wheel| {
                while count < FIRE_BATCH {
                    match wheel.poll_fired(now_tick) {
                        Some(waker) => {
                            wakers[count] = waker;
                            count += 1;
                        }
                        None => {
                            more = false;
                            break;
                        }
                    }
                }
                self.publish_next(wheel);
            });
            fired += count;
            for waker in wakers.iter_mut().take(count) {
                if let Some(waker) = waker.take() {
                    waker.wake();
                }
            }
            if !more {
                return fired;
            }
        }
    }

    fn publish_next(&self, wheel: &Wheel) {
        let next = wheel.next_deadline_tick().unwrap_or(u64::MAX);
        self.next_tick.store(next, Ordering::Release);
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").field("next_tick", &self.next_tick.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// A future that completes at a deadline. Made by [`Executor::sleep`] and
/// [`Executor::sleep_until`].
///
/// The timer entry lives inside this future; dropping it unlinks the entry.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    executor: Executor,
    deadline: Instant,
    /// Touched only under the wheel lock (or before first registration).
    entry: UnsafeCell<Entry>,
    /// Whether the entry may be in the wheel. Owner-only.
    registered: bool,
}

// SAFETY: the entry is only accessed under the wheel lock, which makes the
// future safe to move between threads (while unpinned it is never linked)
// and to share (`&Sleep` exposes only the deadline).
unsafe impl Send for Sleep {}
// SAFETY: as above.
unsafe impl Sync for Sleep {}

// === impl Sleep ===

impl Sleep {
    pub(crate) fn new(executor: Executor, deadline: Instant) -> Self {
        Self { executor, deadline, entry: UnsafeCell::new(Entry::new()), registered: false }
    }

    /// When this sleep ends.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we never move out of `self`; the entry stays pinned in
        // place while linked, and is unlinked in `Drop`.
        let this = unsafe { self.get_unchecked_mut() };
        let timer = &this.executor.shared().timer;
        let entry = NonNull::from(&this.entry).cast::<Entry>();
        if !this.registered {
            if timer.now() >= this.deadline {
                return Poll::Ready(());
            }
            let deadline_tick = this.deadline.nanos.div_ceil(NANOS_PER_TICK);
            let (inserted, earlier) = timer.wheel.with_lock(|wheel| {
                // SAFETY: the entry is idle and ours; the lock is held.
                unsafe { (*entry.as_ptr()).waker = Some(cx.waker().clone()) };
                // SAFETY: the entry is pinned and stays put until `Drop`
                // removes it; it is idle.
                let inserted = unsafe { wheel.insert(entry, deadline_tick) };
                if !inserted {
                    // SAFETY: as above.
                    unsafe { (*entry.as_ptr()).waker = None };
                    return (false, false);
                }
                let previous = timer.next_tick.load(Ordering::Relaxed);
                timer.publish_next(wheel);
                (true, timer.next_tick.load(Ordering::Relaxed) < previous)
            });
            if !inserted {
                return Poll::Ready(());
            }
            this.registered = true;
            if earlier {
                this.executor.shared().timer_rearmed();
            }
            return Poll::Pending;
        }
        let (fired, replaced) = timer.wheel.with_lock(|_wheel| {
            // SAFETY: the lock is held, so the wheel is not touching the
            // entry; it is pinned in place.
            let entry = unsafe { &mut *entry.as_ptr() };
            if entry.state == EntryState::Fired {
                return (true, None);
            }
            if entry.waker.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                return (false, None);
            }
            (false, entry.waker.replace(cx.waker().clone()))
        });
        // Dropping a waker may free a task whose future owns another
        // `Sleep`, whose `Drop` takes the wheel lock: never under the lock.
        drop(replaced);
        if fired {
            this.registered = false;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if !self.registered {
            return;
        }
        let entry = NonNull::from(&self.entry).cast::<Entry>();
        let timer = &self.executor.shared().timer;
        let waker = timer.wheel.with_lock(|wheel| {
            // SAFETY: the entry is live (we are dropping its owner) and was
            // only ever inserted into this wheel; the lock is held.
            unsafe { wheel.remove(entry) };
            timer.publish_next(wheel);
            // SAFETY: as above.
            unsafe { (*entry.as_ptr()).waker.take() }
        });
        // Drop the waker outside the lock: it may free a task whose future
        // owns another `Sleep`.
        drop(waker);
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep").field("deadline", &self.deadline).field("registered", &self.registered).finish()
    }
}

/// A future that runs `F` but gives up at a deadline. Made by
/// [`Executor::timeout`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    future: F,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    pub(crate) fn new(future: F, sleep: Sleep) -> Self {
        Self { future, sleep }
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of both fields: neither is moved out of
        // `self`, and `Timeout` has no `Drop` or `Unpin` impl of its own.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        if let Poll::Ready(output) = unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        // SAFETY: as above.
        match unsafe { Pin::new_unchecked(&mut this.sleep) }.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}
