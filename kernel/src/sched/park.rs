//! Parking harts in `wfi`, waking them with IPIs, and counting how long
//! each hart spends idle (in `wfi`) and busy (in its worker otherwise).
//!
//! Park protocol, per hart: interrupts off, publish `in_wfi` (SeqCst),
//! deliver deferred interrupt wakes ([`super::irq`]), consume the wake
//! token; only if there was none: arm the timer for the executor's next
//! deadline and `wfi`. Then interrupts on, so whatever ended the `wfi` is
//! handled while `in_wfi` is still set. An unpark stores the token (SeqCst)
//! and sends an IPI only if the target published `in_wfi`: either the
//! parker sees the token or the unparker sees `in_wfi`, so no wake is lost
//! and busy harts get no IPIs. (`wfi` ends on a pending enabled interrupt
//! even with `sstatus.SIE` clear, so the IPI cannot slip in between the
//! token check and the `wfi`.)

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use hypha_boot_info::MAX_HARTS;
use hypha_executor::Park;

/// One hart's scheduling state, indexed by the hart's per-CPU `index`
/// (which is also its worker index).
#[derive(Debug)]
struct HartState {
    /// Worker index + 1 this hart runs now (0 = none).
    worker: AtomicUsize,
    /// The hart id (for IPIs), recorded when the worker is entered.
    hart_id: AtomicUsize,
    /// An unpark arrived that no park has consumed yet.
    token: AtomicBool,
    /// The hart is parked: between publishing and leaving its `wfi`.
    in_wfi: AtomicBool,
    /// `time` when the worker was entered (valid while `worker != 0`).
    worker_since: AtomicU64,
    /// `time` ticks spent in finished worker sessions.
    worker_ticks: AtomicU64,
    /// `time` when the current park began (0 = not parked).
    park_since: AtomicU64,
    /// `time` ticks spent in finished parks.
    idle_ticks: AtomicU64,
    /// Parks that reached `wfi`.
    wfis: AtomicU64,
    /// IPIs sent to this hart to unpark it.
    unpark_ipis: AtomicU64,
    /// The latest a timed park left its `wfi` after its deadline (ticks):
    /// how late the timer interrupt got this hart running again.
    max_wake_lateness: AtomicU64,
    /// The hart's periodic tick count the worker last saw between polls.
    seen_tick: AtomicU64,
}

impl HartState {
    const fn new() -> Self {
        Self {
            worker: AtomicUsize::new(0),
            hart_id: AtomicUsize::new(usize::MAX),
            token: AtomicBool::new(false),
            in_wfi: AtomicBool::new(false),
            worker_since: AtomicU64::new(0),
            worker_ticks: AtomicU64::new(0),
            park_since: AtomicU64::new(0),
            idle_ticks: AtomicU64::new(0),
            wfis: AtomicU64::new(0),
            unpark_ipis: AtomicU64::new(0),
            max_wake_lateness: AtomicU64::new(0),
            seen_tick: AtomicU64::new(0),
        }
    }
}

static HARTS: [HartState; MAX_HARTS] = [const { HartState::new() }; MAX_HARTS];

fn this_hart() -> &'static HartState {
    &HARTS[crate::percpu::current().index]
}

/// Whether this hart is parked in `wfi` (so an interrupt handler running
/// now interrupted no executor code and may call into the executor).
pub fn this_hart_in_wfi() -> bool {
    this_hart().in_wfi.load(Ordering::SeqCst)
}

/// Sends an IPI to one parked hart other than this one, if any, and says
/// whether it found one.
pub fn kick_a_parked_hart() -> bool {
    let me = crate::percpu::current().index;
    for (index, state) in HARTS.iter().enumerate() {
        if index != me && state.in_wfi.load(Ordering::SeqCst) {
            let hart_id = state.hart_id.load(Ordering::Relaxed);
            if crate::ipi::send(hart_id, crate::ipi::Message::Ping).is_ok() {
                return true;
            }
        }
    }
    false
}

/// The kernel's [`Park`]: `wfi` with IPI wake-up (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct KernelPark;

// SAFETY: (1) `current_cpu` reads the worker index stored by `enter` in
// the calling hart's own slot (hart-local: indexed by the hart's per-CPU
// index), cleared by `exit`, so it is `Some(i)` only on the hart inside
// worker `i`'s loop. (2) `unpark` stores the token before checking
// `in_wfi`, and `park` publishes `in_wfi` before consuming the token, both
// SeqCst: an unpark before or during a park either is seen as the token
// (park returns at once) or sees `in_wfi` and sends the IPI that ends the
// `wfi` (which returns on a pending interrupt even with SIE clear).
unsafe impl Park for KernelPark {
    fn enter(&self, cpu: usize) {
        let per_cpu = crate::percpu::current();
        let state = &HARTS[per_cpu.index];
        state.hart_id.store(per_cpu.hart_id, Ordering::Relaxed);
        state.worker_since.store(crate::time::now_ticks(), Ordering::Relaxed);
        state.worker.store(cpu + 1, Ordering::Release);
    }

    fn exit(&self, _cpu: usize) {
        let state = this_hart();
        state.worker.store(0, Ordering::Release);
        let since = state.worker_since.load(Ordering::Relaxed);
        state.worker_ticks.fetch_add(crate::time::now_ticks().saturating_sub(since), Ordering::Relaxed);
    }

    fn current_cpu(&self) -> Option<usize> {
        this_hart().worker.load(Ordering::Acquire).checked_sub(1)
    }

    /// Once per periodic timer tick (10 ms) a busy worker ends its batch,
    /// and wakes deferred by interrupt handlers are delivered here: with
    /// every hart busy running processes, none parks to deliver them.
    fn between_polls(&self, _cpu: usize) -> bool {
        let ticks = crate::percpu::current().timer_ticks.load(Ordering::Relaxed);
        let state = this_hart();
        if state.seen_tick.load(Ordering::Relaxed) == ticks {
            return false;
        }
        state.seen_tick.store(ticks, Ordering::Relaxed);
        super::irq::deliver_pending_from_worker();
        true
    }

    fn park(&self, _cpu: usize, timeout: Option<Duration>) {
        let state = this_hart();
        let interrupts_were_enabled = crate::arch::csr::disable_interrupts();
        let start = crate::time::now_ticks();
        state.park_since.store(start, Ordering::Relaxed);
        state.in_wfi.store(true, Ordering::SeqCst);
        // Wakes an interrupt deferred because its hart was busy: from
        // here on, interrupt handlers on this hart deliver them directly.
        super::irq::deliver_pending();
        if !state.token.swap(false, Ordering::SeqCst) {
            let wake_at = timeout.map(|timeout| {
                let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
                start.saturating_add(super::clock::nanos_to_ticks_ceil(nanos))
            });
            if let Some(wake_at) = wake_at {
                crate::timer::wake_at(wake_at);
            }
            state.wfis.fetch_add(1, Ordering::Relaxed);
            crate::arch::wait_for_interrupt();
            if let Some(wake_at) = wake_at {
                let lateness = crate::time::now_ticks().saturating_sub(wake_at);
                state.max_wake_lateness.fetch_max(lateness, Ordering::Relaxed);
            }
        }
        if interrupts_were_enabled {
            // Take whatever ended the `wfi` while `in_wfi` still says the
            // worker is parked (its handler may then wake tasks directly).
            crate::arch::csr::enable_interrupts();
            crate::arch::csr::disable_interrupts();
        }
        state.in_wfi.store(false, Ordering::SeqCst);
        // Clear `park_since` before adding to `idle_ticks`, so a racing
        // `stats` undercounts the idle time rather than counting it twice.
        state.park_since.store(0, Ordering::Relaxed);
        state.idle_ticks.fetch_add(crate::time::now_ticks().saturating_sub(start), Ordering::Relaxed);
        if interrupts_were_enabled {
            crate::arch::csr::enable_interrupts();
        }
    }

    fn unpark(&self, cpu: usize) {
        let Some(state) = HARTS.get(cpu) else { return };
        state.token.store(true, Ordering::SeqCst);
        if cpu != crate::percpu::current().index && state.in_wfi.load(Ordering::SeqCst) {
            state.unpark_ipis.fetch_add(1, Ordering::Relaxed);
            let hart_id = state.hart_id.load(Ordering::Relaxed);
            if let Err(error) = crate::ipi::send(hart_id, crate::ipi::Message::Ping) {
                log::error!("unpark: IPI to hart {hart_id} failed: {error:?}");
            }
        }
    }
}

/// One hart's counters, in `time` ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HartStats {
    /// Time in `wfi` (parked), including a park in progress.
    pub idle_ticks: u64,
    /// Time in the worker loop but not parked: running tasks and the
    /// scheduler itself.
    pub busy_ticks: u64,
    /// Parks that reached `wfi`.
    pub wfis: u64,
    /// IPIs sent to unpark this hart.
    pub unpark_ipis: u64,
    /// Whether the hart is inside its worker loop now.
    pub in_worker: bool,
    /// The latest a timed park left `wfi` after its deadline.
    pub max_wake_lateness_ticks: u64,
}

impl HartStats {
    /// Idle share of the time between `earlier` and `self`, in per mille
    /// (`None` if no worker time passed).
    #[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests compare snapshots so far"))]
    #[must_use]
    pub fn idle_per_mille_since(&self, earlier: &HartStats) -> Option<u64> {
        let idle = self.idle_ticks.saturating_sub(earlier.idle_ticks);
        let busy = self.busy_ticks.saturating_sub(earlier.busy_ticks);
        let total = idle + busy;
        (total > 0).then(|| idle * 1000 / total)
    }
}

/// The counters of the hart with per-CPU index `index` (read racily: each
/// field is consistent, the set is a snapshot taken within microseconds).
#[must_use]
pub fn stats(index: usize) -> Option<HartStats> {
    let state = HARTS.get(index)?;
    let now = crate::time::now_ticks();
    let park_since = state.park_since.load(Ordering::Relaxed);
    let idle = state.idle_ticks.load(Ordering::Relaxed) + if park_since != 0 { now.saturating_sub(park_since) } else { 0 };
    let in_worker = state.worker.load(Ordering::Acquire) != 0;
    let worker = state.worker_ticks.load(Ordering::Relaxed)
        + if in_worker { now.saturating_sub(state.worker_since.load(Ordering::Relaxed)) } else { 0 };
    Some(HartStats {
        idle_ticks: idle,
        busy_ticks: worker.saturating_sub(idle),
        wfis: state.wfis.load(Ordering::Relaxed),
        unpark_ipis: state.unpark_ipis.load(Ordering::Relaxed),
        in_worker,
        max_wake_lateness_ticks: state.max_wake_lateness.load(Ordering::Relaxed),
    })
}
