//! The loader's entry points and the jump into the kernel.

use core::arch::global_asm;

// OpenSBI enters here on the boot hart in S-mode with paging off:
// a0 = hart id, a1 = physical address of the device tree.
global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    la sp, __boot_stack_top
    la t0, __bss_start
    la t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call loader_main
3:  wfi
    j 3b

    .section .text, "ax"
    .globl hypha_enter_kernel
    .balign 4
// a0 = hart id, a1 = physical address of a HartLaunch. Used by the boot
// hart (called from Rust) and by secondary harts (SBI hart_start with
// opaque = the HartLaunch). Enables paging and jumps to the kernel with
// a0 = hart id, a1 = BootInfo address, sp and tp set.
hypha_enter_kernel:
    ld t0, 0(a1)        // satp
    ld sp, 8(a1)        // stack top
    ld tp, 16(a1)       // per-CPU block
    ld t1, 24(a1)       // kernel entry
    ld a1, 32(a1)       // BootInfo (virtual)
    sfence.vma
    csrw satp, t0
    sfence.vma
    mv ra, zero
    mv fp, zero
    jr t1
"#
);

unsafe extern "C" {
    fn hypha_enter_kernel(hart_id: u64, launch: *const HartLaunch) -> !;
}

/// What a hart needs to enter the kernel. The trampoline reads it through
/// its physical address with paging off.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HartLaunch {
    // NOTE: the field order is read by `hypha_enter_kernel`.
    /// Value for `satp`.
    pub satp: u64,
    /// Initial `sp` (virtual).
    pub stack_top: u64,
    /// Initial `tp` (virtual per-CPU block).
    pub per_cpu: u64,
    /// Kernel entry point (virtual, after relocation).
    pub entry: u64,
    /// `BootInfo` (virtual).
    pub boot_info: u64,
}

/// Physical address secondary harts start at (for SBI `hart_start`).
#[must_use]
pub fn secondary_entry_address() -> u64 {
    hypha_enter_kernel as *const () as u64
}

/// Switches on paging and enters the kernel on this hart.
///
/// # Safety
///
/// 1. `launch` describes a page table that identity-maps the loader's code
///    (the trampoline keeps running after `satp` is written) and maps the
///    kernel entry, stack, per-CPU block and `BootInfo` it names.
/// 2. The kernel image at `launch.entry` is relocated and complete.
pub unsafe fn enter_kernel(hart_id: u64, launch: &HartLaunch) -> ! {
    // SAFETY: the caller guarantees the page table and kernel are ready;
    // `launch` stays alive because the trampoline reads it before leaving.
    unsafe { hypha_enter_kernel(hart_id, launch) }
}
