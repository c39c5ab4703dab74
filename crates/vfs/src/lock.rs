//! The one lock type of this crate: a spinning mutex.
//!
//! File-system state is touched by process tasks on any hart, never by
//! interrupt handlers, and every critical section is short and never
//! suspends, so spinning is enough.

use maitake_sync::blocking::{Mutex, MutexGuard};
use maitake_sync::spin::Spinlock;

/// A mutex that spins while contended.
pub(crate) struct Lock<T>(Mutex<T, Spinlock>);

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Lock(Mutex::new_with_raw_mutex(value, Spinlock::new()))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T, Spinlock> {
        self.0.lock()
    }
}

impl<T> core::fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Lock")
    }
}
