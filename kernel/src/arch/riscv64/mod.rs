//! Everything in the kernel that names a RISC-V CSR, instruction or SBI
//! call. The rest of the kernel goes through the functions here.

pub mod csr;
mod entry;
pub mod recovery;
pub mod sbi;
pub mod trap;

pub use csr::{read_time, wait_for_interrupt};

/// Reads the frame pointer (`s0`) of the caller's frame.
#[inline(always)]
#[must_use]
pub fn frame_pointer() -> usize {
    let fp: usize;
    // SAFETY: reading a register has no side effects.
    unsafe { core::arch::asm!("mv {0}, s0", out(reg) fp, options(nomem, nostack, preserves_flags)) };
    fp
}

/// Reads the stack pointer.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests look at sp so far"))]
#[inline(always)]
#[must_use]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reading a register has no side effects.
    unsafe { core::arch::asm!("mv {0}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}

/// Reads `tp`, which holds this hart's per-CPU block.
#[inline(always)]
#[must_use]
pub fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reading a register has no side effects.
    unsafe { core::arch::asm!("mv {0}, tp", out(reg) tp, options(nomem, nostack, preserves_flags)) };
    tp
}

/// Waits for interrupts forever.
pub fn halt() -> ! {
    csr::disable_interrupts();
    loop {
        wait_for_interrupt();
    }
}
