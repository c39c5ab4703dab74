//! Entering wasm and turning faults into [`Trap`]s.
//!
//! Every host-to-wasm call runs inside an [`Activation`] on the host stack.
//! The activation holds the register state saved by
//! `hypha_wasm_call_guarded`. A trap in compiled code is an illegal
//! instruction (Cranelift `trap`), a guard-page fault, or an arithmetic
//! fault; the platform's handler calls [`handle_fault`], which looks the
//! faulting pc up in the store's code objects, records the trap code and a
//! frame-pointer backtrace in the activation, and resumes at
//! `hypha_wasm_resume`, which returns 1 from the guarded call.
//! Libcalls and host functions that fail record a full [`Trap`] in the
//! activation and return non-zero; the compiled code then executes a
//! "pending" trap instruction and takes the same path.

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "each block touches the one live activation/store pair whose invariant is stated at the block")]

use alloc::vec::Vec;
use core::mem::MaybeUninit;

use crate::error::{Error, Result};
use crate::platform::{Fault, FaultAction};
use crate::trap::{FrameInfo, Trap, TrapCode};
use crate::vm::arch::{JmpBuf, hypha_wasm_call_guarded, hypha_wasm_resume};
use crate::vm::layout::VMFuncRef;
use crate::vm::store::StoreCore;

const MAX_FRAMES: usize = 64;

/// One entry from the host into wasm.
///
/// Lives on the host stack for every call, so the two big arrays are left
/// uninitialised (zeroing them cost more than the rest of a call):
/// `jmpbuf` is written by `hypha_wasm_call_guarded` before anything can
/// resume to it, and only `frames[..num_frames]` is ever read. `repr(C)`
/// keeps the two next to each other and away from the initialised fields,
/// so the compiler does not fold everything into one big memset.
#[repr(C)]
pub(crate) struct Activation {
    jmpbuf: MaybeUninit<JmpBuf>,
    frames: [MaybeUninit<usize>; MAX_FRAMES],
    store: *mut StoreCore,
    /// Highest stack address wasm frames of this activation can have.
    entry_sp: usize,
    num_frames: usize,
    code: Option<TrapCode>,
    /// A trap recorded by a libcall or host function.
    pub pending: Option<Trap>,
}

/// Call `funcref` from the host with arguments and results in `values`.
///
/// # Safety
/// 1. `core` is the live store that owns `funcref`, and no Rust reference
///    into the store is used while wasm runs.
/// 2. `funcref` is a wasm function (non-null `array_call`).
/// 3. `values` has room for max(params, results) 16-byte slots and holds
///    the arguments, correctly typed.
/// 4. `stack_floor` is 0 or an address on the current stack below which
///    wasm must not run (a fiber stack's limit plus the host reserve); it
///    only matters for the outermost activation.
pub(crate) unsafe fn invoke(
    core: *mut StoreCore,
    funcref: *const VMFuncRef,
    values: *mut u128,
    stack_floor: usize,
) -> Result<()> {
    // SAFETY: (1) the store (and so its engine and platform) is live for
    // the whole call; the platform object itself is never mutated.
    let platform: &dyn crate::platform::Platform = unsafe { &**(*core).engine.platform() };
    // SAFETY: (1).
    let prev = unsafe { (*core).activation };
    let mut act = Activation {
        jmpbuf: MaybeUninit::uninit(),
        store: core,
        entry_sp: 0,
        code: None,
        pending: None,
        frames: [MaybeUninit::uninit(); MAX_FRAMES],
        num_frames: 0,
    };
    let here = (&raw const act) as usize;
    act.entry_sp = here;
    // SAFETY: (1); the limits box lives as long as the store.
    let limits = unsafe { &mut (*core).limits };
    let outermost = limits.stack_limit == 0;
    if outermost {
        // SAFETY: (1) engine is live.
        let max = unsafe { (*core).engine.config().max_wasm_stack };
        limits.stack_limit = here.saturating_sub(max).max(stack_floor);
    }
    let act_ptr = &raw mut act;
    let previous_tls = match platform.enter_wasm(act_ptr.cast()) {
        Ok(p) => p,
        Err(e) => {
            if outermost {
                // SAFETY: (1).
                unsafe { (*core).limits.stack_limit = 0 };
            }
            return Err(Error::Resource(alloc::format!("trap handler: {e}")));
        }
    };
    // SAFETY: (1); act lives until the end of this function, and is
    // unlinked again below before it goes away.
    unsafe { (*core).activation = act_ptr };
    // SAFETY: (2) and (3): array_call is the host-to-wasm trampoline for
    // this function's type; the jmpbuf belongs to the live activation
    // (the assembly fills it before calling).
    let status = unsafe {
        hypha_wasm_call_guarded(
            (*act_ptr).jmpbuf.as_mut_ptr(),
            (*funcref).array_call,
            (*funcref).vmctx as usize,
            (*funcref).vmctx as usize,
            (*funcref).code as usize,
            values as usize,
        )
    };
    platform.set_current_activation(previous_tls);
    // SAFETY: (1).
    unsafe { (*core).activation = prev };
    if outermost {
        // SAFETY: (1).
        unsafe { (*core).limits.stack_limit = 0 };
    }
    if status == 0 {
        return Ok(());
    }
    // SAFETY: the activation was filled by handle_fault or a libcall before
    // the resume; reading through the raw pointer the handler wrote through.
    let act = unsafe { &mut *act_ptr };
    let mut trap = act.pending.take().unwrap_or_else(|| Trap::new(act.code.unwrap_or(TrapCode::MemoryOutOfBounds)));
    let mut frames = Vec::with_capacity(act.num_frames);
    for pc in &act.frames[..act.num_frames] {
        // SAFETY: `handle_fault` wrote frames[..num_frames].
        let pc = unsafe { pc.assume_init_ref() };
        // SAFETY: (1).
        if let Some(code) = unsafe { (*core).code_for(*pc) } {
            // Return addresses point after the call; look up pc - 1.
            let lookup = if frames.is_empty() { *pc } else { pc.wrapping_sub(1) };
            if let Some((func_index, code_offset, name)) = code.func_at(lookup) {
                frames.push(FrameInfo { func_index, func_name: name.map(alloc::string::ToString::to_string), code_offset });
            }
        }
    }
    trap.set_backtrace(frames);
    Err(Error::Trap(trap))
}

/// Record `trap` as the pending trap of the store's innermost activation.
///
/// # Safety
/// `core` is a live store currently running wasm (called from a libcall or
/// host function shim).
pub(crate) unsafe fn set_pending(core: *mut StoreCore, trap: Trap) {
    // SAFETY: caller contract: wasm is running, so `activation` is live.
    unsafe {
        let act = (*core).activation;
        if !act.is_null() {
            (*act).pending = Some(trap);
        }
    }
}

/// See [`crate::platform::handle_fault`].
///
/// # Safety
/// `fault.activation` is null or this thread's live activation, and
/// `fault.pc`/`fault.fp` are the faulting context's registers.
pub(crate) unsafe fn handle_fault(fault: &Fault) -> FaultAction {
    let act = fault.activation.cast::<Activation>();
    if act.is_null() {
        return FaultAction::NotWasm;
    }
    // SAFETY: contract: a live activation, whose store is live.
    let (core, entry_sp) = unsafe { ((*act).store, (*act).entry_sp) };
    // SAFETY: as above.
    let Some(code) = (unsafe { (*core).code_for(fault.pc) }) else {
        return FaultAction::NotWasm;
    };
    let recorded = code.trap_at(fault.pc);
    // SAFETY: exclusive access: the thread that owns the activation is the
    // one in this handler.
    let act = unsafe { &mut *act };
    match recorded {
        Some(Some(c)) => act.code = Some(c),
        Some(None) => {}
        None => act.code = Some(TrapCode::MemoryOutOfBounds),
    }
    act.frames[0] = MaybeUninit::new(fault.pc);
    act.num_frames = 1;
    let mut fp = fault.fp;
    while act.num_frames < MAX_FRAMES && fp != 0 && fp < entry_sp && fp.is_multiple_of(8) {
        // SAFETY: wasm code keeps frame pointers; every fp below the entry
        // point is a frame record [saved fp, return address] on this stack.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        // SAFETY: store is live (see above).
        if unsafe { (*core).code_for(ret) }.is_none() {
            break;
        }
        act.frames[act.num_frames] = MaybeUninit::new(ret);
        act.num_frames += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    FaultAction::Resume { pc: hypha_wasm_resume as *const () as usize, arg0: act.jmpbuf.as_mut_ptr() as usize }
}
