//! [`Event`]: tasks wait until a condition holds; whoever changes what the
//! condition reads calls [`Event::notify_all`].
//!
//! The condition is checked and the waker registered under one lock, and
//! `notify_all` takes that lock before waking, so a change made before a
//! notify can never be missed by a waiter.

extern crate alloc;

use alloc::vec::Vec;
use core::future::{Future, poll_fn};
use core::task::{Poll, Waker};

use crate::sync::SpinLock;

/// A set of waiting tasks.
#[derive(Debug)]
pub struct Event {
    wakers: SpinLock<Vec<Waker>>,
}

impl Event {
    /// No waiters.
    pub const fn new() -> Self {
        Self { wakers: SpinLock::new(Vec::new()) }
    }

    /// Wakes every waiter (each re-checks its condition).
    pub fn notify_all(&self) {
        let wakers = core::mem::take(&mut *self.wakers.lock());
        for waker in wakers {
            waker.wake();
        }
    }

    /// Completes with `check()`'s value once it is `Some`. `check` runs
    /// with the event's lock held (interrupts off): keep it to a few
    /// atomic loads or a short lock of something else.
    pub fn wait_until<'a, T>(&'a self, mut check: impl FnMut() -> Option<T> + 'a) -> impl Future<Output = T> + 'a {
        poll_fn(move |cx| {
            let mut wakers = self.wakers.lock();
            if let Some(value) = check() {
                return Poll::Ready(value);
            }
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }
}
