//! Trap entry and exit: every integer register saved on this hart's trap
//! stack, then a call into [`crate::trap::handle`] with the frame.
//!
//! `sscratch` holds the top of the hart's trap stack while the hart runs
//! normal code, and 0 while it is inside the trap handler. A trap taken
//! with `sscratch` = 0 is nested (a fault inside the handler) and is
//! saved below the current frame on the same stack.
//!
//! Before calling Rust, the entry pushes a two-word frame record
//! (`sepc`, interrupted `s0`) so a frame-pointer backtrace taken in the
//! handler continues into the interrupted code.

use core::arch::global_asm;

/// The registers of the interrupted context.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    // NOTE: the layout is written and read by the assembly below:
    // registers[n] is xn (registers[0], x0, is unused), then the CSRs.
    /// x0..x31; `registers[2]` is the interrupted `sp`.
    pub registers: [usize; 32],
    /// `sepc`: where execution resumes.
    pub sepc: usize,
    /// `sstatus` of the interrupted context.
    pub sstatus: usize,
    /// `scause`.
    pub scause: usize,
    /// `stval`.
    pub stval: usize,
    /// What `sscratch` is set to on exit (trap stack top, or 0 when nested).
    pub sscratch_on_exit: usize,
    /// Padding to keep the frame 16-byte aligned.
    pub padding: usize,
}

/// Register numbers for [`TrapFrame::registers`].
pub mod register {
    /// First argument / return value.
    pub const A0: usize = 10;
}

/// `scause` bit 63: the trap is an interrupt.
pub const CAUSE_INTERRUPT: usize = 1 << 63;

global_asm!(
    r#"
    .section .text, "ax"
    .globl hypha_trap_entry
    .balign 4
hypha_trap_entry:
    csrrw sp, sscratch, sp
    bnez sp, 1f
    // Nested: sscratch holds the interrupted sp, already on the trap stack.
    csrr sp, sscratch
1:
    addi sp, sp, -{frame_size}
    sd x1, 1*8(sp)
    sd x3, 3*8(sp)
    sd x4, 4*8(sp)
    sd x5, 5*8(sp)
    sd x6, 6*8(sp)
    sd x7, 7*8(sp)
    sd x8, 8*8(sp)
    sd x9, 9*8(sp)
    sd x10, 10*8(sp)
    sd x11, 11*8(sp)
    sd x12, 12*8(sp)
    sd x13, 13*8(sp)
    sd x14, 14*8(sp)
    sd x15, 15*8(sp)
    sd x16, 16*8(sp)
    sd x17, 17*8(sp)
    sd x18, 18*8(sp)
    sd x19, 19*8(sp)
    sd x20, 20*8(sp)
    sd x21, 21*8(sp)
    sd x22, 22*8(sp)
    sd x23, 23*8(sp)
    sd x24, 24*8(sp)
    sd x25, 25*8(sp)
    sd x26, 26*8(sp)
    sd x27, 27*8(sp)
    sd x28, 28*8(sp)
    sd x29, 29*8(sp)
    sd x30, 30*8(sp)
    sd x31, 31*8(sp)
    // Interrupted sp; sscratch = 0 marks "inside the handler".
    csrrw t0, sscratch, zero
    sd t0, 2*8(sp)
    // On exit restore sscratch to the trap stack top (sp + frame size),
    // unless nested: then the interrupted sp is exactly sp + frame size
    // and sscratch stays 0.
    addi t1, sp, {frame_size}
    mv t2, t1
    bne t0, t1, 2f
    li t2, 0
2:  sd t2, 36*8(sp)
    csrr t1, sepc
    sd t1, 32*8(sp)
    csrr t2, sstatus
    sd t2, 33*8(sp)
    csrr t3, scause
    sd t3, 34*8(sp)
    csrr t4, stval
    sd t4, 35*8(sp)
    mv a0, sp
    // Frame record for backtraces: return address = sepc, previous fp = s0.
    addi sp, sp, -16
    sd s0, 0(sp)
    sd t1, 8(sp)
    addi s0, sp, 16
    call {handler}
    addi sp, sp, 16

    ld t0, 36*8(sp)
    csrw sscratch, t0
    ld t1, 32*8(sp)
    csrw sepc, t1
    ld t2, 33*8(sp)
    csrw sstatus, t2
    ld x1, 1*8(sp)
    ld x3, 3*8(sp)
    ld x4, 4*8(sp)
    ld x5, 5*8(sp)
    ld x6, 6*8(sp)
    ld x7, 7*8(sp)
    ld x8, 8*8(sp)
    ld x9, 9*8(sp)
    ld x10, 10*8(sp)
    ld x11, 11*8(sp)
    ld x12, 12*8(sp)
    ld x13, 13*8(sp)
    ld x14, 14*8(sp)
    ld x15, 15*8(sp)
    ld x16, 16*8(sp)
    ld x17, 17*8(sp)
    ld x18, 18*8(sp)
    ld x19, 19*8(sp)
    ld x20, 20*8(sp)
    ld x21, 21*8(sp)
    ld x22, 22*8(sp)
    ld x23, 23*8(sp)
    ld x24, 24*8(sp)
    ld x25, 25*8(sp)
    ld x26, 26*8(sp)
    ld x27, 27*8(sp)
    ld x28, 28*8(sp)
    ld x29, 29*8(sp)
    ld x30, 30*8(sp)
    ld x31, 31*8(sp)
    ld x2, 2*8(sp)
    sret
"#,
    frame_size = const core::mem::size_of::<TrapFrame>(),
    handler = sym trap_handler,
);

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 38 * 8);
const _: () = assert!(core::mem::size_of::<TrapFrame>().is_multiple_of(16));

unsafe extern "C" {
    fn hypha_trap_entry();
}

extern "C" fn trap_handler(frame: &mut TrapFrame) {
    crate::trap::handle(frame);
}

/// Installs the trap vector on this hart and points `sscratch` at its trap
/// stack.
///
/// # Safety
///
/// `trap_stack_top` is the 16-byte-aligned top of a stack that belongs to
/// this hart alone and is large enough for the trap handler.
pub unsafe fn init_hart(trap_stack_top: usize) {
    let vector = hypha_trap_entry as *const () as usize;
    // SAFETY: `hypha_trap_entry` is 4-byte aligned (direct mode), and
    // saves and restores all state; sscratch gets a stack the caller
    // guarantees is ours.
    unsafe {
        core::arch::asm!(
            "csrw sscratch, {stack}",
            "csrw stvec, {vector}",
            stack = in(reg) trap_stack_top,
            vector = in(reg) vector,
            options(nostack),
        );
    }
}
