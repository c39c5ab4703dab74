//! x86_64 System V context switch.
//!
//! Saved frame, from the saved stack pointer upwards (64 bytes):
//!
//! ```text
//!  +0   MXCSR (4 bytes) | x87 control word (2 bytes) | pad
//!  +8   r15
//!  +16  r14
//!  +24  r13
//!  +32  r12
//!  +40  rbx
//!  +48  rbp
//!  +56  return address
//! ```
//!
//! The MXCSR control bits and the x87 control word are callee-saved in the
//! System V ABI, so they travel with each context; their status flags do not
//! matter but come along for free.

use super::EntryFn;

/// Bytes of the first frame built below a fiber stack's top.
pub(crate) const INIT_FRAME_SIZE: usize = 64;

/// MXCSR at reset: all exceptions masked, round to nearest.
const MXCSR_DEFAULT: usize = 0x1f80;
/// x87 control word at `fninit`: all exceptions masked, 64-bit precision, round to nearest.
const FCW_DEFAULT: usize = 0x037f;

/// The switch itself; see [`switch`]. A naked function rather than
/// `global_asm!` so calls to it are direct, not through the GOT.
///
/// # Safety
///
/// As for [`switch`].
#[unsafe(naked)]
unsafe extern "C" fn hypha_fiber_switch(save_sp: *mut usize, load_sp: usize) {
    // rdi = where to save our stack pointer, rsi = stack pointer to load.
    core::arch::naked_asm!(
        "push rbp",
        "push rbx",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "sub rsp, 8",
        "stmxcsr [rsp]",
        "fnstcw [rsp + 4]",
        "mov rax, rsp",
        "mov [rdi], rsp",
        "mov rsp, rsi",
        // Loading MXCSR / the x87 control word is slow and they rarely
        // differ between contexts: load only when they do.
        "mov ecx, [rsp]",
        "cmp ecx, [rax]",
        "je 2f",
        "ldmxcsr [rsp]",
        "2:",
        "movzx ecx, word ptr [rsp + 4]",
        "cmp cx, [rax + 4]",
        "je 3f",
        "fldcw [rsp + 4]",
        "3:",
        "add rsp, 8",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbx",
        "pop rbp",
        "ret",
    );
}

core::arch::global_asm!(
    ".pushsection .text.hypha_fiber_start,\"ax\",@progbits",
    // First code run on a new fiber stack: rbx = data, r12 = entry, rbp = 0,
    // rsp 16-byte aligned. The return address is marked undefined so DWARF
    // unwinders and backtraces stop here; rbp = 0 ends frame-pointer walks.
    ".globl hypha_fiber_start",
    ".hidden hypha_fiber_start",
    ".type hypha_fiber_start,@function",
    ".p2align 4",
    "hypha_fiber_start:",
    ".cfi_startproc",
    ".cfi_undefined rip",
    "mov rdi, rbx",
    "call r12",
    "ud2",
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
    // SAFETY: forwarded from the caller; the assembly saves and restores
    // every callee-saved register of the System V ABI, so to the compiler it
    // is an ordinary `extern "C"` call that may read and write any escaped
    // memory.
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
    let sp = top - INIT_FRAME_SIZE;
    let frame: [usize; 8] = [
        MXCSR_DEFAULT | (FCW_DEFAULT << 32),
        0,                                       // r15
        0,                                       // r14
        0,                                       // r13
        entry as usize,                          // r12: entry
        data.expose_provenance(),                // rbx: data
        0,                                       // rbp: ends frame-pointer walks
        hypha_fiber_start_addr(), // return address of the switch
    ];
    let dst = core::ptr::with_exposed_provenance_mut::<[usize; 8]>(sp);
    // SAFETY: the caller owns `[sp, top)`, which is 64 bytes and 16-aligned
    // (`top` is 16-aligned, 64 is a multiple of 16).
    unsafe { dst.write(frame) };
    sp
}

/// The current stack pointer.
#[inline(always)]
pub(crate) fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: reads rsp into a register; no memory or flags touched.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    sp
}
