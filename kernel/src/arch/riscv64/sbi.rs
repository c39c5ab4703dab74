//! Calls into the SBI firmware (OpenSBI).

/// An SBI error code (negative `a0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SbiError(pub i64);

const EXTENSION_TIMER: usize = 0x5449_4D45;
const EXTENSION_IPI: usize = 0x0073_5049;
const EXTENSION_SYSTEM_RESET: usize = 0x5352_5354;
const EXTENSION_DEBUG_CONSOLE: usize = 0x4442_434E;
const EXTENSION_REMOTE_FENCE: usize = 0x5246_4E43;

fn call(extension: usize, function: usize, arg0: usize, arg1: usize) -> Result<usize, SbiError> {
    let error: usize;
    let value: usize;
    // SAFETY: `ecall` traps to the firmware, which reads a0/a1/a6/a7 and
    // writes a0/a1 only; none of the calls used here touch kernel memory.
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") arg0 => error,
            inlateout("a1") arg1 => value,
            in("a6") function,
            in("a7") extension,
            options(nostack),
        );
    }
    if error == 0 { Ok(value) } else { Err(SbiError(i64::from_ne_bytes(error.to_ne_bytes()))) }
}

/// Schedules this hart's next timer interrupt at `deadline` ticks.
///
/// # Errors
///
/// The firmware's error (none is expected).
pub fn set_timer(deadline: u64) -> Result<(), SbiError> {
    let deadline = usize::try_from(deadline).unwrap_or(usize::MAX);
    call(EXTENSION_TIMER, 0, deadline, 0).map(|_| ())
}

/// Sends an IPI (supervisor software interrupt) to the harts in `mask`
/// (bit `n` = hart `base + n`).
///
/// # Errors
///
/// The firmware's error, e.g. an invalid hart id.
pub fn send_ipi(mask: usize, base: usize) -> Result<(), SbiError> {
    call(EXTENSION_IPI, 0, mask, base).map(|_| ())
}

/// Executes `fence.i` on the harts in `mask` (bit `n` = hart `base + n`;
/// `base` = `usize::MAX` means every hart).
///
/// # Errors
///
/// The firmware's error, e.g. no RFENCE extension.
pub fn remote_fence_i(mask: usize, base: usize) -> Result<(), SbiError> {
    call(EXTENSION_REMOTE_FENCE, 0, mask, base).map(|_| ())
}

/// System reset: shut down, reporting failure or not. Returns only if the
/// firmware refuses.
pub fn shutdown(failure: bool) {
    let _ = call(EXTENSION_SYSTEM_RESET, 0, 0, usize::from(failure));
}

/// Writes `text` through the SBI debug console (used only when no UART
/// is known).
pub fn debug_console_write(text: &[u8]) {
    for &byte in text {
        let _ = call(EXTENSION_DEBUG_CONSOLE, 2, usize::from(byte), 0);
    }
}
