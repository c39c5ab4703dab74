//! Expected-fault recovery: run a closure so that a synchronous exception
//! inside it returns an error instead of ending the kernel.
//!
//! The mechanism is setjmp/longjmp-shaped: [`hypha_try_call`] saves the
//! callee-saved registers, `sp` and `ra` in a [`RecoveryPoint`] registered
//! in the per-CPU block, and calls the closure. If the closure faults, the
//! trap handler points `sepc` at [`hypha_fault_landing`] with `a0` = the
//! recovery point, which restores those registers and returns 1 from
//! `hypha_try_call`, as if the closure had returned.

use core::arch::global_asm;

/// Saved registers: ra, sp, s0..s11.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RecoveryPoint {
    // NOTE: layout used by the assembly below.
    registers: [usize; 14],
}

global_asm!(
    r#"
    .section .text, "ax"
    .globl hypha_try_call
    .balign 4
// a0 = *mut RecoveryPoint, a1 = extern "C" fn(*mut u8), a2 = argument.
// Returns 0 when the function returned, 1 when it faulted.
hypha_try_call:
    sd ra, 0(a0)
    sd sp, 8(a0)
    sd s0, 16(a0)
    sd s1, 24(a0)
    sd s2, 32(a0)
    sd s3, 40(a0)
    sd s4, 48(a0)
    sd s5, 56(a0)
    sd s6, 64(a0)
    sd s7, 72(a0)
    sd s8, 80(a0)
    sd s9, 88(a0)
    sd s10, 96(a0)
    sd s11, 104(a0)
    // Keep the recovery point in s1 (callee-saved) across the call.
    mv s1, a0
    mv a0, a2
    jalr a1
    mv a0, s1
    ld ra, 0(a0)
    ld s1, 24(a0)
    li a0, 0
    ret

    .globl hypha_fault_landing
    .balign 4
hypha_fault_landing:
    ld ra, 0(a0)
    ld sp, 8(a0)
    ld s0, 16(a0)
    ld s1, 24(a0)
    ld s2, 32(a0)
    ld s3, 40(a0)
    ld s4, 48(a0)
    ld s5, 56(a0)
    ld s6, 64(a0)
    ld s7, 72(a0)
    ld s8, 80(a0)
    ld s9, 88(a0)
    ld s10, 96(a0)
    ld s11, 104(a0)
    li a0, 1
    ret
"#
);

unsafe extern "C" {
    fn hypha_try_call(point: *mut RecoveryPoint, function: extern "C" fn(*mut u8), argument: *mut u8) -> usize;
    fn hypha_fault_landing();
}

/// The address the trap handler resumes at after a recovered fault.
#[must_use]
pub fn landing_address() -> usize {
    hypha_fault_landing as *const () as usize
}

/// Calls `function(argument)` with `point` as the recovery point. Returns
/// `true` if it returned normally, `false` if a fault landed.
///
/// # Safety
///
/// 1. `point` is registered as this hart's recovery point for exactly the
///    duration of the call, so only faults inside `function` land there.
/// 2. Code in `function` that may fault holds nothing whose destructor
///    must run (locks, borrows of shared state): on a fault, its frames are
///    discarded without unwinding.
pub unsafe fn try_call(point: &mut RecoveryPoint, function: extern "C" fn(*mut u8), argument: *mut u8) -> bool {
    // SAFETY: the assembly saves and restores every callee-saved register
    // per the C ABI on both paths; the caller upholds the contract above.
    unsafe { hypha_try_call(point, function, argument) == 0 }
}
