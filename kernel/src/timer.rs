//! The per-hart periodic timer tick (SBI `set_timer`, or `stimecmp` when
//! the harts have Sstc). Each tick counts, and enforces the running
//! ktest's deadline.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Tick period.
pub const TICK_MS: u64 = 10;

static USE_SSTC: AtomicBool = AtomicBool::new(false);
static TICK_TICKS: AtomicU64 = AtomicU64::new(0);

/// Chooses the timer mechanism (once, on the boot hart).
pub fn init(sstc: bool) {
    USE_SSTC.store(sstc, Ordering::Relaxed);
    TICK_TICKS.store(crate::time::ms_to_ticks(TICK_MS).max(1), Ordering::Relaxed);
}

/// Whether `stimecmp` is used directly.
#[must_use]
pub fn uses_sstc() -> bool {
    USE_SSTC.load(Ordering::Relaxed)
}

fn schedule_next() {
    let deadline = crate::time::now_ticks() + TICK_TICKS.load(Ordering::Relaxed);
    if uses_sstc() {
        crate::arch::csr::write_stimecmp(deadline);
    } else if let Err(error) = crate::arch::sbi::set_timer(deadline) {
        log::error!("SBI set_timer failed: {error:?}");
    }
}

/// Starts ticking on this hart (interrupt source enabled; `sstatus.SIE`
/// is up to the caller).
pub fn start_on_this_hart() {
    schedule_next();
    crate::arch::csr::enable_interrupt_sources(crate::arch::csr::STI);
}

/// The timer interrupt.
pub fn handle() {
    let per_cpu = crate::percpu::current();
    per_cpu.timer_ticks.fetch_add(1, Ordering::Relaxed);
    schedule_next();
    let deadline = per_cpu.test_deadline.load(Ordering::Relaxed);
    if deadline != 0 && crate::time::now_ticks() > deadline {
        per_cpu.test_deadline.store(0, Ordering::Relaxed);
        panic!("test timed out (deadline passed; the timer interrupt ended it)");
    }
}
