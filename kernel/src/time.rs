//! Time since boot, from the `time` CSR and the device tree's
//! `timebase-frequency`.

use core::sync::atomic::{AtomicU64, Ordering};

static TIMEBASE_HZ: AtomicU64 = AtomicU64::new(10_000_000);
static KERNEL_ENTRY_TICKS: AtomicU64 = AtomicU64::new(0);

/// Records the timebase and the boot hart's kernel entry time.
pub fn init(timebase_hz: u64, entry_ticks: u64) {
    TIMEBASE_HZ.store(timebase_hz.max(1), Ordering::Relaxed);
    KERNEL_ENTRY_TICKS.store(entry_ticks, Ordering::Relaxed);
}

/// `time` CSR ticks per second.
#[must_use]
pub fn timebase_hz() -> u64 {
    TIMEBASE_HZ.load(Ordering::Relaxed)
}

/// Converts ticks to microseconds.
#[must_use]
pub fn ticks_to_us(ticks: u64) -> u64 {
    let us = u128::from(ticks) * 1_000_000 / u128::from(timebase_hz());
    u64::try_from(us).unwrap_or(u64::MAX)
}

/// Converts milliseconds to ticks.
#[must_use]
pub fn ms_to_ticks(ms: u64) -> u64 {
    ms.saturating_mul(timebase_hz()) / 1000
}

/// The `time` CSR now.
#[must_use]
pub fn now_ticks() -> u64 {
    crate::arch::read_time()
}

/// Microseconds since the boot hart entered the kernel.
#[must_use]
pub fn uptime_us() -> u64 {
    ticks_to_us(now_ticks().saturating_sub(KERNEL_ENTRY_TICKS.load(Ordering::Relaxed)))
}

/// Spins (with `wfi` when interrupts are on) until `ms` milliseconds pass.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests wait on time so far"))]
pub fn delay_ms(ms: u64) {
    let deadline = now_ticks() + ms_to_ticks(ms);
    while now_ticks() < deadline {
        core::hint::spin_loop();
    }
}
