//! Trap entry and exit: every integer register saved on this hart's trap
//! stack, then a call into [`crate::trap::handle`] with the frame.
//!
//! `sscratch` holds the top of the hart's trap stack while the hart runs
//! normal code, and 0 while it is inside the trap handler. A trap taken
//! with `sscratch` = 0 is nested (a fault inside the handler) and is
//! saved below the current frame on the same stack.
//!
//! Floating-point registers are saved too when the interrupted code has
//! used them: every hart starts with `sstatus.FS` = Initial, the hardware
//! marks it Dirty on the first FP write, and the entry saves `f0..f31` and
//! `fcsr` only then (and restores them on exit).
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
    /// f0..f31, saved only when the interrupted `sstatus.FS` was Dirty.
    pub float_registers: [u64; 32],
    /// `fcsr`, saved with them.
    pub fcsr: usize,
    /// Padding to keep the frame 16-byte aligned.
    pub padding_2: usize,
}

/// Register numbers for [`TrapFrame::registers`].
pub mod register {
    /// First argument / return value.
    pub const A0: usize = 10;
    /// Frame pointer (`s0`).
    pub const S0: usize = 8;
}

/// `scause` bit 63: the trap is an interrupt.
pub const CAUSE_INTERRUPT: usize = 1 << 63;

global_asm!(
    r#"
    .section .text, "ax"
    // The FP save and restore below need the D extension in the assembler
    // whatever features the surrounding code generation unit was given.
    .option push
    .option arch, +d
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
    // FS (bits 13-14) == 3 (Dirty): the interrupted code has live FP state.
    srli t3, t2, 13
    andi t3, t3, 3
    li t4, 3
    bne t3, t4, 3f
    fsd f0, 38*8(sp)
    fsd f1, 39*8(sp)
    fsd f2, 40*8(sp)
    fsd f3, 41*8(sp)
    fsd f4, 42*8(sp)
    fsd f5, 43*8(sp)
    fsd f6, 44*8(sp)
    fsd f7, 45*8(sp)
    fsd f8, 46*8(sp)
    fsd f9, 47*8(sp)
    fsd f10, 48*8(sp)
    fsd f11, 49*8(sp)
    fsd f12, 50*8(sp)
    fsd f13, 51*8(sp)
    fsd f14, 52*8(sp)
    fsd f15, 53*8(sp)
    fsd f16, 54*8(sp)
    fsd f17, 55*8(sp)
    fsd f18, 56*8(sp)
    fsd f19, 57*8(sp)
    fsd f20, 58*8(sp)
    fsd f21, 59*8(sp)
    fsd f22, 60*8(sp)
    fsd f23, 61*8(sp)
    fsd f24, 62*8(sp)
    fsd f25, 63*8(sp)
    fsd f26, 64*8(sp)
    fsd f27, 65*8(sp)
    fsd f28, 66*8(sp)
    fsd f29, 67*8(sp)
    fsd f30, 68*8(sp)
    fsd f31, 69*8(sp)
    frcsr t3
    sd t3, 70*8(sp)
3:
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
    // Restore FP state if it was saved (FS of the saved sstatus is Dirty);
    // FS must be on while doing so, which restoring sstatus below keeps.
    srli t3, t2, 13
    andi t3, t3, 3
    li t4, 3
    bne t3, t4, 4f
    li t3, 0x6000
    csrs sstatus, t3
    fld f0, 38*8(sp)
    fld f1, 39*8(sp)
    fld f2, 40*8(sp)
    fld f3, 41*8(sp)
    fld f4, 42*8(sp)
    fld f5, 43*8(sp)
    fld f6, 44*8(sp)
    fld f7, 45*8(sp)
    fld f8, 46*8(sp)
    fld f9, 47*8(sp)
    fld f10, 48*8(sp)
    fld f11, 49*8(sp)
    fld f12, 50*8(sp)
    fld f13, 51*8(sp)
    fld f14, 52*8(sp)
    fld f15, 53*8(sp)
    fld f16, 54*8(sp)
    fld f17, 55*8(sp)
    fld f18, 56*8(sp)
    fld f19, 57*8(sp)
    fld f20, 58*8(sp)
    fld f21, 59*8(sp)
    fld f22, 60*8(sp)
    fld f23, 61*8(sp)
    fld f24, 62*8(sp)
    fld f25, 63*8(sp)
    fld f26, 64*8(sp)
    fld f27, 65*8(sp)
    fld f28, 66*8(sp)
    fld f29, 67*8(sp)
    fld f30, 68*8(sp)
    fld f31, 69*8(sp)
    ld t3, 70*8(sp)
    fscsr t3
4:  csrw sstatus, t2
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
    .option pop
"#,
    frame_size = const core::mem::size_of::<TrapFrame>(),
    handler = sym trap_handler,
);

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 72 * 8);
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
    // FS = Initial: the hardware marks it Dirty when FP registers are
    // written, which tells the trap entry whether to save them.
    // SAFETY: changes only the FP-state tracking field; no FP value the
    // kernel relies on exists yet on this hart.
    unsafe { core::arch::asm!("li t0, 0x6000", "csrc sstatus, t0", "li t0, 0x2000", "csrs sstatus, t0", out("t0") _, options(nostack)) };
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
