//! Faults in compiled WebAssembly become traps of the call that ran it.

use crate::arch::trap::{TrapFrame, register};
use hypha_wasm::platform::{Fault, FaultAction};

/// Exception codes compiled code can raise on purpose or by accident:
/// illegal instruction (Cranelift's trap instruction), misaligned and
/// access faults, page faults (guard regions of linear memory).
const WASM_FAULTS: [usize; 9] = [1, 2, 4, 5, 6, 7, 12, 13, 15];

/// Called by the trap handler for every synchronous exception before
/// anything else. If this hart is running wasm and the faulting pc is in
/// that activation's compiled code, records the trap in the activation and
/// redirects `frame` to the runtime's resume point (returning `true`); the
/// interrupted wasm frames are abandoned. Otherwise returns `false` and
/// leaves `frame` alone.
pub fn handle_fault(frame: &mut TrapFrame) -> bool {
    if !WASM_FAULTS.contains(&frame.scause) {
        return false;
    }
    let activation = super::platform::current_activation();
    if activation.is_null() {
        return false;
    }
    let fault = Fault { pc: frame.sepc, fp: frame.registers[register::S0], activation };
    // SAFETY: `activation` is this hart's live activation (the runtime sets
    // the slot around every entry into wasm and clears it after), and pc
    // and fp are the faulting context's registers.
    match unsafe { hypha_wasm::platform::handle_fault(&fault) } {
        FaultAction::Resume { pc, arg0 } => {
            log::trace!("wasm: fault {} at pc {:#x}, stval {:#x}: trap", frame.scause, frame.sepc, frame.stval);
            frame.sepc = pc;
            frame.registers[register::A0] = arg0;
            true
        }
        FaultAction::NotWasm => false,
    }
}
