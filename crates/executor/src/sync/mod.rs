//! Wait primitives for tasks.
//!
//! The intrusive wait queue, single-waiter cell and async mutex come from
//! `maitake-sync` (no_std, loom-tested upstream); [`oneshot`] is ours,
//! because `maitake-sync` has no oneshot channel.
//!
//! Note on [`WaitCell`]: its wakeups are "at least once". A `wait` that
//! races a `wake` can complete, and the stored wakeup still satisfy the next
//! `wait`, so one `wake` may end two waits. Wait for a condition
//! ([`WaitCell::wait_for`]) rather than counting wakes; the ping-pong test
//! and benchmark do exactly that.

pub mod oneshot;

pub use maitake_sync::{Mutex, MutexGuard, WaitCell, WaitQueue};
pub use maitake_sync::{Closed, wait_cell, wait_queue};

// Host tests need real threads and clocks; loom builds run the models.
#[cfg(all(test, not(loom)))]
mod tests;
