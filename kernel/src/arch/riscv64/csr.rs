//! Control and status registers the kernel uses.

/// `sie`/`sip` bit: supervisor software interrupt (IPIs).
pub const SSI: usize = 1 << 1;
/// `sie`/`sip` bit: supervisor timer interrupt.
pub const STI: usize = 1 << 5;
/// `sie`/`sip` bit: supervisor external interrupt (PLIC).
pub const SEI: usize = 1 << 9;
const SSTATUS_SIE: usize = 1 << 1;

/// Reads the `time` CSR.
#[inline]
#[must_use]
pub fn read_time() -> u64 {
    let ticks: u64;
    // SAFETY: reading a counter has no side effects.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) ticks, options(nomem, nostack)) };
    ticks
}

/// Reads the `cycle` CSR (OpenSBI lets S-mode read it). Under QEMU TCG
/// it counts host clock ticks; with `-icount` it counts guest
/// instructions (the benchmarks' "cycles", `kernel/src/bench`).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the kernel benchmarks (test builds) read it"))]
#[inline]
#[must_use]
pub fn read_cycle() -> u64 {
    let cycles: u64;
    // SAFETY: reading a counter has no side effects.
    unsafe { core::arch::asm!("rdcycle {0}", out(reg) cycles, options(nomem, nostack)) };
    cycles
}

/// Waits for an interrupt (returns at once if one is pending, even when
/// `sstatus.SIE` is clear).
#[inline]
pub fn wait_for_interrupt() {
    // SAFETY: `wfi` only waits.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
}

/// Enables interrupts on this hart (`sstatus.SIE`).
#[inline]
pub fn enable_interrupts() {
    // SAFETY: setting SIE lets interrupt handlers run; they save and restore
    // all state (trap.rs). Acts as a compiler barrier (no `nomem`).
    unsafe { core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_SIE, options(nostack)) };
}

/// Disables interrupts on this hart and returns whether they were enabled.
#[inline]
pub fn disable_interrupts() -> bool {
    let previous: usize;
    // SAFETY: clearing SIE only defers interrupts. Compiler barrier.
    unsafe { core::arch::asm!("csrrc {0}, sstatus, {1}", out(reg) previous, in(reg) SSTATUS_SIE, options(nostack)) };
    previous & SSTATUS_SIE != 0
}

/// Whether interrupts are enabled on this hart.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests ask so far"))]
#[inline]
#[must_use]
pub fn interrupts_enabled() -> bool {
    let sstatus: usize;
    // SAFETY: reading sstatus has no side effects.
    unsafe { core::arch::asm!("csrr {0}, sstatus", out(reg) sstatus, options(nomem, nostack)) };
    sstatus & SSTATUS_SIE != 0
}

/// Sets bits in `sie` (which interrupt sources may trap).
#[inline]
pub fn enable_interrupt_sources(bits: usize) {
    // SAFETY: enabling a source only matters once its handler exists; all
    // three have one in trap.rs.
    unsafe { core::arch::asm!("csrs sie, {0}", in(reg) bits, options(nostack)) };
}

/// Clears the pending supervisor software interrupt (IPI) bit.
#[inline]
pub fn clear_software_interrupt() {
    // SAFETY: clearing SSIP acknowledges an IPI; nothing else uses it.
    unsafe { core::arch::asm!("csrc sip, {0}", in(reg) SSI, options(nomem, nostack)) };
}

/// Writes `stimecmp` (Sstc): the next timer interrupt at `deadline` ticks.
#[inline]
pub fn write_stimecmp(deadline: u64) {
    // SAFETY: only called when the hart has Sstc (checked by the caller via
    // the device tree); writing stimecmp schedules a timer interrupt.
    unsafe { core::arch::asm!("csrw 0x14d, {0}", in(reg) deadline, options(nomem, nostack)) };
}

/// Reads `satp`.
#[inline]
#[must_use]
pub fn read_satp() -> u64 {
    let satp: u64;
    // SAFETY: reading satp has no side effects.
    unsafe { core::arch::asm!("csrr {0}, satp", out(reg) satp, options(nomem, nostack)) };
    satp
}

/// Flushes this hart's TLB for every address.
#[inline]
pub fn flush_tlb() {
    // SAFETY: a TLB flush only makes later accesses re-walk the tables.
    unsafe { core::arch::asm!("sfence.vma", options(nostack)) };
}

/// Flushes this hart's TLB entries for the page holding `address` (all
/// address spaces).
#[inline]
pub fn flush_tlb_page(address: usize) {
    // SAFETY: a TLB flush only makes later accesses re-walk the tables.
    unsafe { core::arch::asm!("sfence.vma {0}, zero", in(reg) address, options(nostack)) };
}

/// Makes this hart's instruction fetch see every store made before it
/// (after new code was written).
#[inline]
pub fn fence_i() {
    // SAFETY: `fence.i` only orders instruction fetch after earlier stores.
    unsafe { core::arch::asm!("fence.i", options(nostack)) };
}

/// Sets `sstatus.VS` to Initial (if it is Off) so this hart may execute
/// vector instructions (compiled WebAssembly SIMD uses the V extension).
/// Returns whether the field took the value (a hart without V keeps VS
/// hard-wired to Off).
pub fn enable_vector() -> bool {
    const VS_MASK: usize = 3 << 9;
    const VS_INITIAL: usize = 1 << 9;
    let sstatus: usize;
    // SAFETY: setting VS only changes whether vector instructions trap; no
    // vector state is live in the kernel's own code.
    unsafe {
        core::arch::asm!("csrr {0}, sstatus", out(reg) sstatus, options(nomem, nostack));
    }
    if sstatus & VS_MASK == 0 {
        // SAFETY: as above.
        unsafe { core::arch::asm!("csrs sstatus, {0}", in(reg) VS_INITIAL, options(nomem, nostack)) };
    }
    let after: usize;
    // SAFETY: reading sstatus has no side effects.
    unsafe { core::arch::asm!("csrr {0}, sstatus", out(reg) after, options(nomem, nostack)) };
    after & VS_MASK != 0
}
