//! The executor's clock: the `time` CSR in nanoseconds.

use hypha_executor::Clock;

/// [`Clock`] over the `time` CSR (the same counter on every hart; QEMU
/// `virt` runs it at the device tree's `timebase-frequency`).
#[derive(Debug, Clone, Copy)]
pub struct TimeCsr;

impl Clock for TimeCsr {
    fn now_nanos(&self) -> u64 {
        now_nanos()
    }
}

/// `time` ticks since the counter started, in nanoseconds.
fn now_nanos() -> u64 {
    ticks_to_nanos(crate::time::now_ticks())
}

/// Converts `time` ticks to nanoseconds (rounding down).
pub fn ticks_to_nanos(ticks: u64) -> u64 {
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(crate::time::timebase_hz());
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// Converts nanoseconds to `time` ticks, rounding up (so a wake-up armed
/// this many ticks ahead is never early).
pub fn nanos_to_ticks_ceil(nanos: u64) -> u64 {
    let ticks = (u128::from(nanos) * u128::from(crate::time::timebase_hz())).div_ceil(1_000_000_000);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}
