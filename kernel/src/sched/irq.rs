//! Waking tasks from interrupt handlers.
//!
//! The executor's injector and timer wheel are spin locks that do not mask
//! interrupts, and a worker's local run queue has a single producer: an
//! interrupt handler that woke a task while its hart was inside executor
//! code could deadlock on its own hart or corrupt that queue. So a handler
//! never wakes a task directly unless its hart is parked in `wfi` (then it
//! interrupted nothing but the park). Instead it [`raise`]s a [`Source`]:
//!
//! - if this hart is parked, the wake is delivered at the end of this
//!   interrupt ([`after_interrupt`], called by `trap::handle`);
//! - otherwise an IPI goes to a parked hart, whose interrupt tail delivers
//!   it; if no hart is parked, the next hart to park delivers it before
//!   its `wfi` ([`deliver_pending`] from `park`), or a busy worker does
//!   between two polls at its next timer tick
//!   ([`deliver_pending_from_worker`], from `Park::between_polls`).
//!
//! A task waits for a source with [`wait`] (a `maitake-sync` `WaitCell`
//! per source: a wake that finds no waiter is kept for the next wait).

use core::sync::atomic::{AtomicUsize, Ordering};
use hypha_executor::sync::{Closed, WaitCell};

/// Something an interrupt handler wakes tasks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The UART received bytes (the console's input ring has data).
    ConsoleInput = 0,
    /// Raised by the in-kernel tests only.
    #[cfg(feature = "ktest")]
    Test = 1,
}

const SOURCES: usize = 2;

static CELLS: [WaitCell; SOURCES] = [const { WaitCell::new() }; SOURCES];
/// Bit `i`: source `i` was raised and its wake not yet delivered.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Waits until `source` is raised (or was raised since the last wait
/// ended). Wake-ups are "at least once": re-check the condition after.
///
/// # Errors
///
/// [`Closed`] is never returned today (no source is ever closed); it is
/// kept so callers handle a source going away.
pub async fn wait(source: Source) -> Result<(), Closed> {
    CELLS[source as usize].wait().await
}

/// Called by an interrupt handler: wake whoever waits for `source`.
/// Takes no lock and never calls into the executor unless this hart is
/// parked (see the module docs).
pub fn raise(source: Source) {
    PENDING.fetch_or(1 << source as usize, Ordering::SeqCst);
    if !super::park::this_hart_in_wfi() {
        // Busy here: a parked hart delivers it from its IPI handler; if
        // none is parked, the next hart to park does (it re-reads PENDING
        // after publishing `in_wfi`, and we read `in_wfi` after setting
        // PENDING, both SeqCst).
        super::park::kick_a_parked_hart();
    }
}

/// The tail of every interrupt: if this hart is parked, deliver what was
/// raised.
pub fn after_interrupt() {
    if PENDING.load(Ordering::SeqCst) != 0 && super::park::this_hart_in_wfi() {
        deliver_pending();
    }
}

/// [`deliver_pending`] from a worker between two polls (no executor lock
/// is held there either), when a source is pending: with every hart busy,
/// no hart parks to deliver it.
pub fn deliver_pending_from_worker() {
    if PENDING.load(Ordering::SeqCst) != 0 {
        deliver_pending();
    }
}

/// Wakes the waiter of every raised source. Only on a hart that is parked
/// (or about to park) in its worker, so no executor lock is held here.
pub fn deliver_pending() {
    let mut pending = PENDING.swap(0, Ordering::SeqCst);
    while pending != 0 {
        let source = pending.trailing_zeros() as usize;
        pending &= pending - 1;
        if let Some(cell) = CELLS.get(source) {
            cell.wake();
        }
    }
}
