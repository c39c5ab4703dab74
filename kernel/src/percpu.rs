//! Per-hart state, in the per-CPU block the loader gave each hart (`tp`).
//!
//! Fields another hart reads are atomics; the rest is only touched by the
//! owning hart. [`all`] lists every online hart's block for tests and the
//! `cpus` command.

use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use hypha_boot_info::{HartInfo, MAX_HARTS};

/// One hart's state.
#[derive(Debug)]
pub struct PerCpu {
    /// The hart id (`mhartid`).
    pub hart_id: usize,
    /// Position in `BootInfo::harts` (0 = boot hart).
    pub index: usize,
    /// `[bottom, top)` of the kernel stack; the guard page is just below.
    pub stack: (usize, usize),
    /// `[bottom, top)` of the trap stack; also guard-paged.
    pub trap_stack: (usize, usize),
    /// Timer interrupts taken.
    pub timer_ticks: AtomicU64,
    /// IPIs taken.
    pub ipis: AtomicU64,
    /// External (PLIC) interrupts taken.
    pub external_interrupts: AtomicU64,
    /// Pending IPI messages (bit set of `ipi::Message`).
    pub ipi_messages: AtomicUsize,
    /// A function the next `Call` IPI runs on this hart (address, 0 = none).
    pub call: AtomicUsize,
    /// When the running ktest times out (`time` ticks, 0 = none).
    pub test_deadline: AtomicU64,
    /// The registered fault recovery point (null = none).
    pub recovery: AtomicPtr<crate::arch::recovery::RecoveryPoint>,
    /// The last recovered fault: `scause`, `sepc`, `stval`.
    pub last_fault: [AtomicUsize; 3],
}

static ONLINE: [AtomicPtr<PerCpu>; MAX_HARTS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_HARTS];
static ONLINE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Sets up this hart's block at `tp` from `hart`.
///
/// # Safety
///
/// 1. `tp` holds the address of `hart.per_cpu`, a zeroed, writable block of
///    `hart.per_cpu_len_bytes` bytes that only this hart writes, alive forever.
/// 2. Called once per hart, before [`current`].
pub unsafe fn init(hart: &HartInfo, index: usize) -> &'static PerCpu {
    let address = crate::arch::thread_pointer();
    let len = usize::try_from(hart.per_cpu_len_bytes).unwrap_or(0);
    if address == 0 || len < size_of::<PerCpu>() || !address.is_multiple_of(align_of::<PerCpu>()) {
        // Nothing to report with yet; the boot checks print this.
        crate::arch::halt();
    }
    let stack_top = usize::try_from(hart.stack_top).unwrap_or(0);
    let stack_len = usize::try_from(hart.stack_len_bytes).unwrap_or(0);
    let trap_top = usize::try_from(hart.trap_stack_top).unwrap_or(0);
    let trap_len = usize::try_from(hart.trap_stack_len_bytes).unwrap_or(0);
    let block = PerCpu {
        hart_id: usize::try_from(hart.hart_id).unwrap_or(usize::MAX),
        index,
        stack: (stack_top - stack_len, stack_top),
        trap_stack: (trap_top - trap_len, trap_top),
        timer_ticks: AtomicU64::new(0),
        ipis: AtomicU64::new(0),
        external_interrupts: AtomicU64::new(0),
        ipi_messages: AtomicUsize::new(0),
        call: AtomicUsize::new(0),
        test_deadline: AtomicU64::new(0),
        recovery: AtomicPtr::new(core::ptr::null_mut()),
        last_fault: [const { AtomicUsize::new(0) }; 3],
    };
    let pointer = core::ptr::with_exposed_provenance_mut::<PerCpu>(address);
    // SAFETY: per the contract, the block is ours, large enough (checked
    // above), aligned (checked above) and lives forever.
    unsafe { pointer.write(block) };
    // SAFETY: just initialised; from now on only shared references exist.
    let per_cpu = unsafe { &*pointer };
    if let Some(slot) = ONLINE.get(index) {
        slot.store(pointer, Ordering::Release);
        ONLINE_COUNT.fetch_add(1, Ordering::AcqRel);
    }
    per_cpu
}

/// This hart's block.
#[must_use]
pub fn current() -> &'static PerCpu {
    let address = crate::arch::thread_pointer();
    let pointer = core::ptr::with_exposed_provenance::<PerCpu>(address);
    // SAFETY: `tp` points at this hart's block, initialised by `init`
    // before any code that calls `current` runs (the entry path calls
    // `init` first), and never freed.
    unsafe { &*pointer }
}

/// Every hart that has come online, in BootInfo order.
pub fn all() -> impl Iterator<Item = &'static PerCpu> {
    ONLINE.iter().filter_map(|slot| {
        let pointer = slot.load(Ordering::Acquire);
        // SAFETY: non-null entries were published by `init` after the
        // block was written, and blocks live forever.
        (!pointer.is_null()).then(|| unsafe { &*pointer })
    })
}

/// How many harts are online.
#[must_use]
pub fn online_count() -> usize {
    ONLINE_COUNT.load(Ordering::Acquire)
}
