//! Libcalls: runtime functions compiled code calls through the vmctx
//! libcall table (see `layout::Libcall` for the calling convention).

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "each block reads the vmctx slots of one live instance; the shared invariant is stated at `context`")]

use crate::trap::{Trap, TrapCode};

const _: () = assert!(usize::BITS == 64, "hypha-wasm supports 64-bit targets only");
use crate::vm::instance::InstanceData;
use crate::vm::layout::{LIBCALL_COUNT, Libcall};
use crate::vm::store::{EpochPolicy, StoreCore};
use crate::vm::traps::set_pending;

/// The table stored in each store and pointed to by every vmctx.
pub(crate) fn table() -> [usize; LIBCALL_COUNT] {
    let mut t = [0usize; LIBCALL_COUNT];
    t[Libcall::MemoryGrow as usize] = memory_grow as *const () as usize;
    t[Libcall::MemoryCopy as usize] = memory_copy as *const () as usize;
    t[Libcall::MemoryFill as usize] = memory_fill as *const () as usize;
    t[Libcall::MemoryInit as usize] = memory_init as *const () as usize;
    t[Libcall::DataDrop as usize] = data_drop as *const () as usize;
    t[Libcall::TableGrow as usize] = table_grow as *const () as usize;
    t[Libcall::TableCopy as usize] = table_copy as *const () as usize;
    t[Libcall::TableFill as usize] = table_fill as *const () as usize;
    t[Libcall::TableInit as usize] = table_init as *const () as usize;
    t[Libcall::ElemDrop as usize] = elem_drop as *const () as usize;
    t[Libcall::EpochInterrupt as usize] = epoch_interrupt as *const () as usize;
    t[Libcall::OutOfFuel as usize] = out_of_fuel as *const () as usize;
    t[Libcall::MemMove as usize] = mem_move as *const () as usize;
    t[Libcall::MemSet as usize] = mem_set as *const () as usize;
    t
}

/// The store and instance of a vmctx.
///
/// # Safety
/// `vmctx` is the vmctx of a live instance whose store is running wasm on
/// this thread, with no other Rust references into the store alive.
unsafe fn context<'a>(vmctx: *mut u8) -> (&'a mut StoreCore, *mut InstanceData) {
    let slots = vmctx.cast::<usize>();
    // SAFETY: slots 1 and 4 hold the store and instance pointers, written
    // at instantiation (see `layout`).
    unsafe {
        let core = *slots.add(1) as *mut StoreCore;
        let inst = *slots.add(4) as *mut InstanceData;
        (&mut *core, inst)
    }
}

/// Record a trap and return the "trapped" status.
fn trap(core: &mut StoreCore, code: TrapCode) -> u64 {
    // SAFETY: called from a libcall, so the store is running wasm.
    unsafe { set_pending(core, Trap::new(code)) };
    1
}

/// A libcall's u64 carrier of a wasm index or a raw reference, as `usize`
/// (lossless: 64-bit targets only, asserted above).
fn idx(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn range(start: u64, len: u64, bound: u64) -> Option<(usize, usize)> {
    let end = start.checked_add(len)?;
    if end > bound {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u64, delta: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let index = unsafe { (&(*inst).memories)[idx(mem)] };
    match core.memories[index].grow(delta) {
        Some(old) => old,
        None => u64::from(u32::MAX),
    }
}

unsafe extern "C" fn memory_copy(vmctx: *mut u8, dst_mem: u64, src_mem: u64, dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let (d, s) = unsafe { ((&(*inst).memories)[idx(dst_mem)], (&(*inst).memories)[idx(src_mem)]) };
    let dlen = core.memories[d].len_bytes() as u64;
    let slen = core.memories[s].len_bytes() as u64;
    let (Some((ds, de)), Some((ss, se))) = (range(dst, len, dlen), range(src, len, slen)) else {
        return trap(core, TrapCode::MemoryOutOfBounds);
    };
    if d == s {
        core.memories[d].data_mut().copy_within(ss..se, ds);
    } else {
        let src_base = core.memories[s].def.base;
        // SAFETY: distinct memories never overlap; the source range was
        // checked against its length.
        let from = unsafe { core::slice::from_raw_parts(src_base.add(ss), se - ss) };
        core.memories[d].data_mut()[ds..de].copy_from_slice(from);
    }
    0
}

/// `memory.copy` after the compiled code's bounds checks.
///
/// # Safety
/// Called by compiled code only after checking that `[src, src + len)` and
/// `[dst, dst + len)` lie inside the committed part of the source and
/// destination linear memories (the ranges may overlap).
unsafe extern "C" fn mem_move(_vmctx: *mut u8, dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: both ranges were bounds-checked against their memories'
    // current lengths by the caller (see above); `copy` allows overlap.
    unsafe { core::ptr::copy(idx(src) as *const u8, idx(dst) as *mut u8, idx(len)) };
    0
}

/// `memory.fill` after the compiled code's bounds check.
///
/// # Safety
/// Called by compiled code only after checking that `[dst, dst + len)`
/// lies inside the committed part of its linear memory.
unsafe extern "C" fn mem_set(_vmctx: *mut u8, dst: u64, byte: u64, len: u64) -> u64 {
    // SAFETY: the range was bounds-checked against the memory's current
    // length by the caller (see above).
    unsafe { core::ptr::write_bytes(idx(dst) as *mut u8, byte.to_le_bytes()[0], idx(len)) };
    0
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, mem: u64, dst: u64, value: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let m = unsafe { (&(*inst).memories)[idx(mem)] };
    let Some((s, e)) = range(dst, len, core.memories[m].len_bytes() as u64) else {
        return trap(core, TrapCode::MemoryOutOfBounds);
    };
    core.memories[m].data_mut()[s..e].fill(value.to_le_bytes()[0]);
    0
}

unsafe extern "C" fn memory_init(vmctx: *mut u8, mem: u64, data: u64, dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store and is not mutated elsewhere meanwhile.
    let inst = unsafe { &*inst };
    let m = inst.memories[idx(mem)];
    let seg = &inst.module.info().data[idx(data)];
    let seg_len = if inst.data_dropped[idx(data)] { 0 } else { seg.bytes.len() as u64 };
    let (Some((ds, de)), Some((ss, se))) =
        (range(dst, len, core.memories[m].len_bytes() as u64), range(src, len, seg_len))
    else {
        return trap(core, TrapCode::MemoryOutOfBounds);
    };
    core.memories[m].data_mut()[ds..de].copy_from_slice(&seg.bytes[ss..se]);
    0
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (_, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    unsafe { (&mut (*inst).data_dropped)[idx(data)] = true };
    0
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u64, init: u64, delta: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let t = unsafe { (&(*inst).tables)[idx(table)] };
    match core.tables[t].grow(delta, idx(init)) {
        Some(old) => old,
        None => u64::from(u32::MAX),
    }
}

unsafe extern "C" fn table_copy(vmctx: *mut u8, dst_t: u64, src_t: u64, dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let (d, s) = unsafe { ((&(*inst).tables)[idx(dst_t)], (&(*inst).tables)[idx(src_t)]) };
    let (Some((ds, de)), Some((ss, se))) = (range(dst, len, core.tables[d].len()), range(src, len, core.tables[s].len()))
    else {
        return trap(core, TrapCode::TableOutOfBounds);
    };
    if d == s {
        core.tables[d].elements_mut().copy_within(ss..se, ds);
    } else {
        let items: alloc::vec::Vec<usize> = core.tables[s].elements()[ss..se].to_vec();
        core.tables[d].elements_mut()[ds..de].copy_from_slice(&items);
    }
    0
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u64, dst: u64, value: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let t = unsafe { (&(*inst).tables)[idx(table)] };
    let Some((s, e)) = range(dst, len, core.tables[t].len()) else {
        return trap(core, TrapCode::TableOutOfBounds);
    };
    core.tables[t].elements_mut()[s..e].fill(idx(value));
    0
}

unsafe extern "C" fn table_init(vmctx: *mut u8, table: u64, elem: u64, dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    let inst = unsafe { &*inst };
    let t = inst.tables[idx(table)];
    let items: &[usize] = inst.elems[idx(elem)].as_deref().unwrap_or(&[]);
    let (Some((ds, de)), Some((ss, se))) = (range(dst, len, core.tables[t].len()), range(src, len, items.len() as u64))
    else {
        return trap(core, TrapCode::TableOutOfBounds);
    };
    core.tables[t].elements_mut()[ds..de].copy_from_slice(&items[ss..se]);
    0
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u64) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (_, inst) = unsafe { context(vmctx) };
    // SAFETY: the instance lives in the store.
    unsafe { (&mut (*inst).elems)[idx(elem)] = None };
    0
}

// === preemption ===

/// Suspend the running `call_async` fiber after waking its task; the
/// status compiled code expects (0, or 1 with a pending trap).
fn yield_now(core: &mut StoreCore) -> u64 {
    // SAFETY: called from a libcall on the store's running fiber; the
    // `&mut` is not used across the switch (we pass the raw pointer on).
    match unsafe { crate::vm::fiber::suspend(core, true) } {
        Ok(()) => 0,
        Err(t) => {
            // SAFETY: still running wasm on this store.
            unsafe { set_pending(core, t) };
            1
        }
    }
}

unsafe extern "C" fn epoch_interrupt(vmctx: *mut u8) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, _) = unsafe { context(vmctx) };
    let epoch = core.engine.current_epoch();
    // The deadline compiled code compared with may be stale (it is cached
    // per function); only act on the real one.
    if epoch < core.limits.epoch_deadline {
        return 0;
    }
    // SAFETY: `core` is live.
    let in_async = unsafe { crate::vm::fiber::in_async_call(core) };
    match core.epoch_policy {
        EpochPolicy::Yield { delta } if in_async => {
            let resumed = yield_now(core);
            // The next slice counts from the resume, not from the yield:
            // a store that waited in a run queue for more than `delta`
            // epochs would otherwise resume past its deadline and yield at
            // its first check, again and again, while the stores that
            // share its CPU run whole slices (starvation under load).
            // SAFETY: compiled code called us with its own vmctx, and the
            // store runs on this fiber again.
            let (core, _) = unsafe { context(vmctx) };
            core.limits.epoch_deadline = core.engine.current_epoch().saturating_add(delta);
            resumed
        }
        _ => trap(core, TrapCode::Interrupt),
    }
}

unsafe extern "C" fn out_of_fuel(vmctx: *mut u8) -> u64 {
    // SAFETY: called by compiled code with its own vmctx.
    let (core, _) = unsafe { context(vmctx) };
    if core.limits.fuel_consumed < 0 {
        return 0;
    }
    // SAFETY: `core` is live.
    let in_async = unsafe { crate::vm::fiber::in_async_call(core) };
    match core.fuel_yield_interval {
        Some(slice) if in_async && core.fuel_reserve > 0 => {
            let give = slice.min(core.fuel_reserve);
            core.fuel_reserve -= give;
            core.limits.fuel_consumed = core.limits.fuel_consumed.saturating_sub(i64::try_from(give).unwrap_or(i64::MAX));
            yield_now(core)
        }
        _ => trap(core, TrapCode::OutOfFuel),
    }
}
