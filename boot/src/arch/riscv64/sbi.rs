//! The few SBI calls the loader makes.

/// An SBI error code (negative `a0` on return).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SbiError(pub i64);

const EXTENSION_HSM: u64 = 0x0048_534D;
const EXTENSION_SYSTEM_RESET: u64 = 0x5352_5354;
const EXTENSION_LEGACY_PUTCHAR: u64 = 0x01;

fn call(extension: u64, function: u64, arg0: u64, arg1: u64, arg2: u64) -> Result<u64, SbiError> {
    let error: u64;
    let value: u64;
    // SAFETY: `ecall` from S-mode traps to OpenSBI, which only reads the
    // argument registers and writes a0/a1; it does not touch our memory
    // except as the called function documents (none of these do).
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") arg0 => error,
            inlateout("a1") arg1 => value,
            in("a2") arg2,
            in("a6") function,
            in("a7") extension,
            options(nostack),
        );
    }
    if error == 0 { Ok(value) } else { Err(SbiError(i64::from_ne_bytes(error.to_ne_bytes()))) }
}

/// HSM `hart_start`: starts `hart_id` at physical `start` with `a1 = opaque`.
///
/// # Errors
///
/// The SBI error (for instance the hart is already started).
pub fn hart_start(hart_id: u64, start: u64, opaque: u64) -> Result<(), SbiError> {
    call(EXTENSION_HSM, 0, hart_id, start, opaque).map(|_| ())
}

/// Writes one byte through the legacy SBI console (before the UART is known).
pub fn legacy_putchar(byte: u8) {
    // Legacy calls return nothing meaningful; a missing console is not an error here.
    let _ = call(EXTENSION_LEGACY_PUTCHAR, 0, u64::from(byte), 0, 0);
}

/// SRST system reset: shutdown (`reset_type` 0) with `reason` 0 (none) or
/// 1 (system failure). Only returns if the firmware refuses.
pub fn system_reset(failure: bool) {
    let _ = call(EXTENSION_SYSTEM_RESET, 0, 0, u64::from(failure), 0);
}
