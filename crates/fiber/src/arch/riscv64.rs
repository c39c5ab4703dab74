//! riscv64 (lp64 / lp64d) context switch.
//!
//! Saved frame, from the saved stack pointer upwards:
//!
//! ```text
//!  +0    ra
//!  +8    s0 (fp)
//!  +16   s1 .. +96 s11
//!  +104  fs0 .. +192 fs11
//! ```
//!
//! Requires the `D` extension (riscv64gc). Rust cannot test
//! `target_feature = "d"` on stable for riscv, so the floating-point
//! registers are saved unconditionally (the assembly enables `+d` for itself). The kernel
//! must keep `sstatus.FS` non-Off while fibers switch (it needs that for
//! floating-point guest code anyway).
//!
//! `fcsr` is not saved: the psABI gives it thread storage duration, and all
//! fibers of a thread share it.

use super::EntryFn;

/// Bytes of one saved context (200 rounded up to a 16-byte multiple).
pub(crate) const INIT_FRAME_SIZE: usize = 208;

/// The switch itself; see [`switch`]. A naked function rather than
/// `global_asm!` so calls to it are direct, not through the GOT.
///
/// # Safety
///
/// As for [`switch`].
#[unsafe(naked)]
unsafe extern "C" fn hypha_fiber_switch(save_sp: *mut usize, load_sp: usize) {
    // a0 = where to save our sp, a1 = sp to load. `+d` because naked and
    // module-level assembly do not always see the target's `d` feature.
    core::arch::naked_asm!(
        ".option push",
        ".option arch, +d",
        "addi sp, sp, -208",
        "sd ra, 0(sp)",
        "sd s0, 8(sp)",
        "sd s1, 16(sp)",
        "sd s2, 24(sp)",
        "sd s3, 32(sp)",
        "sd s4, 40(sp)",
        "sd s5, 48(sp)",
        "sd s6, 56(sp)",
        "sd s7, 64(sp)",
        "sd s8, 72(sp)",
        "sd s9, 80(sp)",
        "sd s10, 88(sp)",
        "sd s11, 96(sp)",
        "fsd fs0, 104(sp)",
        "fsd fs1, 112(sp)",
        "fsd fs2, 120(sp)",
        "fsd fs3, 128(sp)",
        "fsd fs4, 136(sp)",
        "fsd fs5, 144(sp)",
        "fsd fs6, 152(sp)",
        "fsd fs7, 160(sp)",
        "fsd fs8, 168(sp)",
        "fsd fs9, 176(sp)",
        "fsd fs10, 184(sp)",
        "fsd fs11, 192(sp)",
        "sd sp, 0(a0)",
        "mv sp, a1",
        "ld ra, 0(sp)",
        "ld s0, 8(sp)",
        "ld s1, 16(sp)",
        "ld s2, 24(sp)",
        "ld s3, 32(sp)",
        "ld s4, 40(sp)",
        "ld s5, 48(sp)",
        "ld s6, 56(sp)",
        "ld s7, 64(sp)",
        "ld s8, 72(sp)",
        "ld s9, 80(sp)",
        "ld s10, 88(sp)",
        "ld s11, 96(sp)",
        "fld fs0, 104(sp)",
        "fld fs1, 112(sp)",
        "fld fs2, 120(sp)",
        "fld fs3, 128(sp)",
        "fld fs4, 136(sp)",
        "fld fs5, 144(sp)",
        "fld fs6, 152(sp)",
        "fld fs7, 160(sp)",
        "fld fs8, 168(sp)",
        "fld fs9, 176(sp)",
        "fld fs10, 184(sp)",
        "fld fs11, 192(sp)",
        "addi sp, sp, 208",
        "ret",
        ".option pop",
    );
}

core::arch::global_asm!(
    ".pushsection .text.hypha_fiber_start,\"ax\",@progbits",
    // First code on a new fiber stack: s1 = data, s2 = entry, s0 = 0,
    // sp 16-aligned. `ra` undefined stops DWARF unwinders; s0 = 0
    // ends frame-pointer walks.
    ".globl hypha_fiber_start",
    ".hidden hypha_fiber_start",
    ".type hypha_fiber_start,@function",
    ".p2align 2",
    "hypha_fiber_start:",
    ".cfi_startproc",
    ".cfi_undefined ra",
    "mv a0, s1",
    "jalr s2",
    "unimp",
    ".cfi_endproc",
    ".size hypha_fiber_start, . - hypha_fiber_start",
    ".popsection",
);

unsafe extern "C" {
    fn hypha_fiber_start();
}

/// Address of the start trampoline (the first return address of a fiber).
pub(crate) fn hypha_fiber_start_addr() -> usize {
    (hypha_fiber_start as *const ()).addr()
}

/// Saves the current context, storing its stack pointer to `*save_sp`, and
/// resumes the context saved at `load_sp`. Returns when something switches
/// back to the stack pointer stored in `*save_sp`.
///
/// # Safety
///
/// `save_sp` is valid for a write; `load_sp` is a stack pointer produced by
/// [`init_stack`] or stored by an earlier `switch` whose context has not been
/// resumed since, on memory that is still mapped.
#[inline]
pub(crate) unsafe fn switch(save_sp: *mut usize, load_sp: usize) {
    // SAFETY: forwarded from the caller; the assembly saves and restores ra,
    // sp, s0-s11 and fs0-fs11, every callee-saved register of the
    // psABI, so to the compiler it is an ordinary `extern "C"` call.
    unsafe { hypha_fiber_switch(save_sp, load_sp) }
}

/// Builds the first frame below `top` so that switching to the returned
/// stack pointer runs `entry(data)`.
///
/// # Safety
///
/// `[top - INIT_FRAME_SIZE, top)` is writable memory owned by the caller and
/// `top` is 16-byte aligned.
pub(crate) unsafe fn init_stack(top: usize, entry: EntryFn, data: *mut u8) -> usize {
    const WORDS: usize = INIT_FRAME_SIZE / 8;
    let sp = top - INIT_FRAME_SIZE;
    let mut frame = [0_usize; WORDS];
    frame[0] = hypha_fiber_start_addr(); // ra
    frame[1] = 0; // s0: ends frame-pointer walks
    frame[2] = data.expose_provenance(); // s1: data
    frame[3] = entry as usize; // s2: entry
    let dst = core::ptr::with_exposed_provenance_mut::<[usize; WORDS]>(sp);
    // SAFETY: the caller owns `[sp, top)` (INIT_FRAME_SIZE bytes, 16-aligned).
    unsafe { dst.write(frame) };
    sp
}

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copies sp into a register; no memory touched.
    unsafe { core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
