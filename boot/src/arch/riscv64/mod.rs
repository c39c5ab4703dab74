//! Everything in the loader that names a RISC-V instruction, CSR or SBI call.

mod entry;
pub mod sbi;

pub use entry::{HartLaunch, enter_kernel, secondary_entry_address};

/// Reads the `time` CSR.
#[must_use]
pub fn read_time() -> u64 {
    let ticks: u64;
    // SAFETY: `rdtime` reads a counter; it has no side effects and OpenSBI
    // lets S-mode read it (emulated or through `mcounteren`).
    unsafe { core::arch::asm!("rdtime {0}", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// Stops this hart for good (interrupts are off in the loader, so `wfi`
/// never returns for long).
pub fn halt() -> ! {
    loop {
        // SAFETY: `wfi` only waits; the loop makes spurious wake-ups harmless.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}

/// The `satp` value selecting `mode` (8 = Sv39, 9 = Sv48) with root table
/// at physical address `root`.
#[must_use]
pub const fn satp_value(mode: u64, root: u64) -> u64 {
    (mode << 60) | (root >> 12)
}

/// Whether the hart supports paging mode `mode` (`satp.MODE` value).
///
/// Writing an unsupported mode to `satp` has no effect, so the probe writes
/// the mode with `probe_root` and reads it back. If the mode is supported,
/// translation is live for a moment, so `probe_root` must identity-map the
/// loader (see `paging::build_probe_table`).
///
/// # Safety
///
/// 1. `probe_root` is the physical address of a page table of `mode` that
///    identity-maps all code and data this function and its caller touch.
/// 2. Paging is off (`satp` = 0) on entry; it is off again on return.
pub unsafe fn probe_paging_mode(mode: u64, probe_root: u64) -> bool {
    let written = satp_value(mode, probe_root);
    let read: u64;
    // SAFETY: per the contract, the table identity-maps everything the next
    // instructions touch, so enabling translation is invisible to them; we
    // switch it off again before returning.
    unsafe {
        core::arch::asm!(
            "sfence.vma",
            "csrw satp, {written}",
            "sfence.vma",
            "csrr {read}, satp",
            "csrw satp, zero",
            "sfence.vma",
            written = in(reg) written,
            read = out(reg) read,
            options(nostack),
        );
    }
    read >> 60 == mode
}
