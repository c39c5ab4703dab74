//! What happens after the trap entry saved the interrupted registers:
//! interrupts go to their drivers, exceptions either land on a fault
//! recovery point (tests expecting a fault) or end the kernel with a
//! report: cause, PC and faulting address (as link-time addresses), then
//! the panic's backtrace.

use crate::arch::trap::{CAUSE_INTERRUPT, TrapFrame, register};
use core::sync::atomic::Ordering;

/// A fault that a recovery point caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// `scause` (exception code).
    pub cause: usize,
    /// Runtime address of the faulting instruction.
    pub pc: usize,
    /// `stval`: the faulting address for memory faults.
    pub address: usize,
}

impl Fault {
    /// Whether this is a store/AMO page fault (a write to a page that is
    /// not writable, or not mapped).
    #[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests classify faults so far"))]
    #[must_use]
    pub const fn is_store_page_fault(&self) -> bool {
        self.cause == 15
    }

    /// Whether the faulting address is in the guard page below the current
    /// hart's kernel or trap stack.
    #[must_use]
    pub fn is_stack_overflow(&self) -> bool {
        is_guard_page_hit(self.address)
    }
}

/// The name of exception code `cause`.
#[must_use]
pub const fn exception_name(cause: usize) -> &'static str {
    match cause {
        0 => "instruction address misaligned",
        1 => "instruction access fault",
        2 => "illegal instruction",
        3 => "breakpoint",
        4 => "load address misaligned",
        5 => "load access fault",
        6 => "store address misaligned",
        7 => "store access fault",
        8 => "environment call from U-mode",
        9 => "environment call from S-mode",
        12 => "instruction page fault",
        13 => "load page fault",
        15 => "store page fault",
        _ => "unknown exception",
    }
}

fn is_guard_page_hit(address: usize) -> bool {
    let per_cpu = crate::percpu::current();
    let guard = usize::try_from(hypha_boot_info::layout::GUARD_LEN).unwrap_or(0);
    [per_cpu.stack.0, per_cpu.trap_stack.0].iter().any(|&bottom| address < bottom && address >= bottom - guard)
}

/// Handles one trap; called by the entry code with the saved registers.
pub fn handle(frame: &mut TrapFrame) {
    let cause = frame.scause;
    if cause & CAUSE_INTERRUPT != 0 {
        match cause & !CAUSE_INTERRUPT {
            1 => crate::ipi::handle(),
            5 => crate::timer::handle(),
            9 => crate::interrupts::handle_external(),
            other => log::warn!("spurious interrupt {other}"),
        }
        crate::sched::after_interrupt();
        return;
    }
    // A load/store page fault in the accessible part of a demand-zero
    // reservation (a linear memory) gets its page and is retried, whoever
    // faulted: compiled code, or the kernel copying into guest memory.
    let mut out_of_memory = false;
    if matches!(cause, 13 | 15) {
        match crate::mem::handle_demand_fault(frame.stval, cause == 15) {
            crate::mem::DemandFault::Retry => return,
            crate::mem::DemandFault::OutOfMemory => out_of_memory = true,
            crate::mem::DemandFault::NotDemand => {}
        }
    }
    // A fault in compiled WebAssembly is a trap of that call, not a
    // kernel fault.
    if crate::wasm::handle_fault(frame) {
        if out_of_memory {
            // Compiled code holds no kernel lock, so logging is safe here.
            log::warn!(
                "wasm: no frame left to commit linear memory at {:#x}: the call traps",
                frame.stval
            );
        }
        return;
    }
    let fault = Fault { cause, pc: frame.sepc, address: frame.stval };
    let per_cpu = crate::percpu::current();
    let recovery = per_cpu.recovery.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !recovery.is_null() {
        per_cpu.last_fault[0].store(fault.cause, Ordering::Relaxed);
        per_cpu.last_fault[1].store(fault.pc, Ordering::Relaxed);
        per_cpu.last_fault[2].store(fault.address, Ordering::Relaxed);
        frame.sepc = crate::arch::recovery::landing_address();
        frame.registers[register::A0] = recovery as usize;
        return;
    }
    let slide = crate::boot::kaslr_slide();
    let link_pc = fault.pc.wrapping_sub(slide);
    // The memory manager knows every region, including stacks allocated
    // after boot; it answers without blocking (None if it is busy).
    let region = crate::mem::classify_fault(fault.address);
    let overflow = match region {
        Some(crate::mem::FaultKind::StackOverflow(stack)) => Some(stack.name),
        _ if fault.is_stack_overflow() => Some("boot stack"),
        _ => None,
    };
    if let Some(stack) = overflow {
        panic!(
            "kernel stack overflow on hart {} ({stack}): {} at pc {link_pc:#x} touched guard page address {:#x}",
            per_cpu.hart_id,
            exception_name(cause),
            fault.address
        );
    }
    let region_name = match region {
        _ if out_of_memory => "demand-zero memory, no frame left to commit it",
        Some(crate::mem::FaultKind::InRegion(region)) => region.name,
        Some(crate::mem::FaultKind::Unknown) => "no region",
        _ => "region unknown",
    };
    panic!(
        "kernel fault on hart {}: {} (scause {cause}) at pc {link_pc:#x}, stval {:#x} ({region_name})",
        per_cpu.hart_id,
        exception_name(cause),
        fault.address
    );
}

/// Runs `body`, turning a synchronous exception inside it into
/// `Err(Fault)` instead of a kernel panic.
///
/// On a fault, `body`'s frames are abandoned without running destructors:
/// `body` should only touch the memory it tests and hold no lock.
///
/// # Errors
///
/// The [`Fault`] that happened.
pub fn catch_fault<F: FnOnce()>(body: F) -> Result<(), Fault> {
    extern "C" fn call<F: FnOnce()>(argument: *mut u8) {
        let slot = argument.cast::<Option<F>>();
        // SAFETY: `argument` is the `Option<F>` below, alive for the call
        // and not otherwise accessed during it.
        if let Some(body) = unsafe { (*slot).take() } {
            body();
        }
    }
    let mut body = Some(body);
    let mut point = crate::arch::recovery::RecoveryPoint::default();
    let per_cpu = crate::percpu::current();
    let previous = per_cpu.recovery.swap(&raw mut point, Ordering::AcqRel);
    // SAFETY: `point` is registered for exactly this call (and restored
    // after); the closure's frames are abandoned on a fault, which the
    // function's documentation asks callers to allow for.
    let returned = unsafe { crate::arch::recovery::try_call(&mut point, call::<F>, (&raw mut body).cast()) };
    per_cpu.recovery.store(previous, Ordering::Release);
    if returned {
        return Ok(());
    }
    Err(Fault {
        cause: per_cpu.last_fault[0].load(Ordering::Relaxed),
        pc: per_cpu.last_fault[1].load(Ordering::Relaxed),
        address: per_cpu.last_fault[2].load(Ordering::Relaxed),
    })
}
