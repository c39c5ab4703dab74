//! The per-hart periodic timer tick (SBI `set_timer`, or `stimecmp` when
//! the harts have Sstc). Each tick counts, and enforces the running
//! ktest's deadline. On top of the tick, a hart may ask for one earlier
//! wake-up ([`wake_at`]: the scheduler's next timer deadline when it parks);
//! the comparator always holds the earlier of the two. The tick also
//! advances the process engine's epoch (`proc::on_timer_tick`), which is
//! what preempts WebAssembly processes.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use hypha_boot_info::MAX_HARTS;

/// Tick period.
pub const TICK_MS: u64 = 10;

static USE_SSTC: AtomicBool = AtomicBool::new(false);
static TICK_TICKS: AtomicU64 = AtomicU64::new(0);
/// Per hart (per-CPU index): when the next periodic tick is due.
static NEXT_TICK: [AtomicU64; MAX_HARTS] = [const { AtomicU64::new(0) }; MAX_HARTS];
/// Per hart: an extra wake-up deadline (0 = none).
static WAKE_UP: [AtomicU64; MAX_HARTS] = [const { AtomicU64::new(0) }; MAX_HARTS];
/// Per hart: when the last periodic tick it handled was due (`time`
/// ticks; the benchmarks measure preemption latency from it).
static LAST_TICK_DUE: [AtomicU64; MAX_HARTS] = [const { AtomicU64::new(0) }; MAX_HARTS];

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
    let index = crate::percpu::current().index;
    NEXT_TICK[index].store(crate::time::now_ticks() + TICK_TICKS.load(Ordering::Relaxed), Ordering::Relaxed);
    program(index);
}

/// Programs this hart's comparator with the earlier of its next tick and
/// its wake-up.
fn program(index: usize) {
    let tick = NEXT_TICK[index].load(Ordering::Relaxed);
    let deadline = match WAKE_UP[index].load(Ordering::Relaxed) {
        0 => tick,
        wake_up => tick.min(wake_up),
    };
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

/// Makes this hart take a timer interrupt at `deadline` (`time` ticks) at
/// the latest, without disturbing its periodic tick. Call with interrupts
/// disabled (the scheduler does, when parking).
pub fn wake_at(deadline: u64) {
    let index = crate::percpu::current().index;
    WAKE_UP[index].store(deadline.max(1), Ordering::Relaxed);
    program(index);
}

/// When the last periodic tick this hart handled was due (`time` ticks;
/// 0 before the first).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the kernel benchmarks (test builds) ask"))]
#[must_use]
pub fn last_tick_due() -> u64 {
    LAST_TICK_DUE[crate::percpu::current().index].load(Ordering::Relaxed)
}

/// The timer interrupt.
pub fn handle() {
    let per_cpu = crate::percpu::current();
    let now = crate::time::now_ticks();
    let wake_up = &WAKE_UP[per_cpu.index];
    if wake_up.load(Ordering::Relaxed) <= now {
        wake_up.store(0, Ordering::Relaxed);
    }
    if now < NEXT_TICK[per_cpu.index].load(Ordering::Relaxed) {
        // Only the wake-up was due: rearm for the tick.
        program(per_cpu.index);
        return;
    }
    per_cpu.timer_ticks.fetch_add(1, Ordering::Relaxed);
    LAST_TICK_DUE[per_cpu.index].store(NEXT_TICK[per_cpu.index].load(Ordering::Relaxed), Ordering::Relaxed);
    schedule_next();
    // Preemption: processes yield at their next epoch check.
    crate::proc::on_timer_tick();
    let deadline = per_cpu.test_deadline.load(Ordering::Relaxed);
    if deadline != 0 && crate::time::now_ticks() > deadline {
        per_cpu.test_deadline.store(0, Ordering::Relaxed);
        #[cfg(feature = "ktest")]
        {
            crate::println!("timeout: {} epochs so far; processes and tasks now:", crate::proc::EPOCHS.load(Ordering::Relaxed));
            crate::proc::table::dump_for_timeout();
            crate::sched::registry::dump_for_timeout();
        }
        panic!("test timed out (deadline passed; the timer interrupt ended it)");
    }
}
