//! The layout of runtime structures that compiled code reads directly.
//!
//! Every offset compiled code relies on is defined here, next to the
//! `#[repr(C)]` struct it describes, so the translator and the runtime
//! cannot disagree.
//!
//! ## `vmctx`
//!
//! Each instance has one `vmctx`: a flat array of pointer-sized slots.
//!
//! | slot | contents |
//! |---|---|
//! | 0 | magic (`VMCTX_MAGIC`) |
//! | 1 | `*mut StoreCore` of the owning store |
//! | 2 | `*const VMRuntimeLimits` (store-wide stack limit) |
//! | 3 | `*const [usize; LIBCALL_COUNT]` libcall table |
//! | 4 | `*mut InstanceData` |
//! | 5.. | one `*mut VMMemoryDef` per memory (imports first) |
//! | .. | one `*mut VMTableDef` per table |
//! | .. | one `*mut VMGlobal` per global |
//! | .. | one `*const VMFuncRef` per function |
//! | .. | one engine-wide signature id per type index |
//! | .. | one base address per memory (a memory never moves) |
//! | .. | two slots (16 value bytes) per defined global, inline |
//!
//! Compiled code reads a defined global inline (one load at a constant
//! offset) and an imported one through its pointer slot; the pointer slot
//! of a defined global points at its inline bytes.

use crate::compile::info::ModuleInfo;

/// Value of slot 0, to recognise a vmctx in a debugger.
pub(crate) const VMCTX_MAGIC: u64 = 0x6879_7068_6176_6d63; // "hyphavmc"
/// Byte offset of the runtime limits pointer.
pub(crate) const VMCTX_LIMITS: i32 = 16;
/// Byte offset of the libcall table pointer.
pub(crate) const VMCTX_LIBCALLS: i32 = 24;
const HEADER_SLOTS: u32 = 5;

/// Where a linear memory currently is. Compiled code loads `base` and
/// `length_bytes` from here on every access.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMMemoryDef {
    // NOTE: compiled code reads the vmctx copy of `base` (see
    // `VmOffsets::memory_base`), not this field.
    pub base: *mut u8,
    // NOTE: offset 8 is read by compiled code.
    pub length_bytes: u64,
}
pub(crate) const MEMORY_LENGTH: i32 = 8;

/// Where a table's elements are. Elements are `usize`: a `*const VMFuncRef`
/// for funcref tables, an externref handle for externref tables, 0 for null.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMTableDef {
    // NOTE: offset 0 is read by compiled code.
    pub base: *mut usize,
    // NOTE: offset 8 is read by compiled code.
    pub length: u64,
}
pub(crate) const TABLE_BASE: i32 = 0;
pub(crate) const TABLE_LENGTH: i32 = 8;

/// Storage for one global: 16 bytes, little-endian value at offset 0.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct VMGlobal {
    pub bytes: [u8; 16],
}

/// A function as compiled code sees it: what `call_indirect`, `ref.func`
/// and imported calls go through.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMFuncRef {
    // NOTE: offset 0: code with the wasm calling convention
    // `(callee_vmctx, caller_vmctx, params...) -> results`.
    pub code: *const u8,
    // NOTE: offset 8: the callee vmctx (a `HostFuncCtx` for host functions).
    pub vmctx: *mut u8,
    // NOTE: offset 16: engine-wide signature id, compared by `call_indirect`.
    pub type_id: u64,
    /// Host-to-wasm trampoline `(vmctx, caller_vmctx, code, values)`;
    /// null for host functions.
    pub array_call: *const u8,
}
pub(crate) const FUNCREF_CODE: i32 = 0;
pub(crate) const FUNCREF_VMCTX: i32 = 8;
pub(crate) const FUNCREF_TYPE_ID: i32 = 16;

/// Store-wide limits read by function prologues (and, when enabled, by the
/// epoch and fuel checks).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMRuntimeLimits {
    // NOTE: offset 0: lowest stack address wasm code may use.
    pub stack_limit: usize,
    // NOTE: offset 8: the engine's epoch counter (read with a plain load).
    pub epoch_ptr: *const core::sync::atomic::AtomicU64,
    // NOTE: offset 16: compiled code calls `EpochInterrupt` once the epoch
    // is >= this.
    pub epoch_deadline: u64,
    // NOTE: offset 24: fuel consumed minus fuel given: out of fuel when >= 0.
    pub fuel_consumed: i64,
}
pub(crate) const LIMITS_STACK_LIMIT: i32 = 0;
pub(crate) const LIMITS_EPOCH_PTR: i32 = 8;
pub(crate) const LIMITS_EPOCH_DEADLINE: i32 = 16;
pub(crate) const LIMITS_FUEL_CONSUMED: i32 = 24;

/// Slot positions of one module's vmctx.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VmOffsets {
    memories: u32,
    tables: u32,
    globals: u32,
    funcs: u32,
    type_ids: u32,
    memory_bases: u32,
    defined_globals: u32,
    num_imported_globals: u32,
    slots: u32,
}

fn len_u32(n: usize) -> u32 {
    // Validation caps every index space well below u32::MAX.
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn byte_offset(slot: u32) -> i32 {
    // A vmctx has at most a few million slots (validator limits), so the
    // byte offset of any slot fits in an i32.
    i32::try_from(u64::from(slot) * 8).unwrap_or(i32::MAX)
}

impl VmOffsets {
    pub fn new(info: &ModuleInfo) -> Self {
        let memories = HEADER_SLOTS;
        let tables = memories + len_u32(info.memories.len());
        let globals = tables + len_u32(info.tables.len());
        let funcs = globals + len_u32(info.globals.len());
        let type_ids = funcs + len_u32(info.funcs.len());
        let memory_bases = type_ids + len_u32(info.types.len());
        let defined_globals = memory_bases + len_u32(info.memories.len());
        let num_defined_globals = len_u32(info.globals.len()).saturating_sub(info.num_imported_globals);
        let slots = defined_globals + 2 * num_defined_globals;
        VmOffsets { memories, tables, globals, funcs, type_ids, memory_bases, defined_globals, num_imported_globals: info.num_imported_globals, slots }
    }
    pub fn slots(&self) -> usize {
        self.slots as usize
    }
    pub fn memory(&self, i: u32) -> i32 {
        byte_offset(self.memories + i)
    }
    pub fn table(&self, i: u32) -> i32 {
        byte_offset(self.tables + i)
    }
    pub fn global(&self, i: u32) -> i32 {
        byte_offset(self.globals + i)
    }
    /// Byte offset of global `i`'s inline value bytes; `None` for an
    /// imported global (reached through its pointer slot, `global`).
    pub fn defined_global(&self, i: u32) -> Option<i32> {
        let defined = i.checked_sub(self.num_imported_globals)?;
        Some(byte_offset(self.defined_globals + 2 * defined))
    }
    pub fn func(&self, i: u32) -> i32 {
        byte_offset(self.funcs + i)
    }
    pub fn type_id(&self, i: u32) -> i32 {
        byte_offset(self.type_ids + i)
    }
    /// Byte offset of memory `i`'s base address (a copy of its
    /// `VMMemoryDef::base`, one load closer to compiled code).
    pub fn memory_base(&self, i: u32) -> i32 {
        byte_offset(self.memory_bases + i)
    }
    pub fn memory_slot(&self, i: u32) -> usize {
        (self.memories + i) as usize
    }
    pub fn table_slot(&self, i: u32) -> usize {
        (self.tables + i) as usize
    }
    pub fn global_slot(&self, i: u32) -> usize {
        (self.globals + i) as usize
    }
    /// First of the two slots holding defined global `defined`'s value.
    pub fn defined_global_slot(&self, defined: u32) -> usize {
        (self.defined_globals + 2 * defined) as usize
    }
    pub fn func_slot(&self, i: u32) -> usize {
        (self.funcs + i) as usize
    }
    pub fn type_id_slot(&self, i: u32) -> usize {
        (self.type_ids + i) as usize
    }
    pub fn memory_base_slot(&self, i: u32) -> usize {
        (self.memory_bases + i) as usize
    }
}

/// Indices into the libcall table (`vmctx` slot 3). Every libcall uses the
/// platform's C calling convention, takes `vmctx` first and all other
/// arguments as 64-bit integers, and returns one 64-bit integer. Those that
/// can trap return 0 for success and 1 after recording the trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Libcall {
    /// `(mem, delta_pages) -> old_pages or -1`
    MemoryGrow = 0,
    /// `(dst_mem, src_mem, dst, src, len) -> status`
    MemoryCopy,
    /// `(mem, dst, byte, len) -> status`
    MemoryFill,
    /// `(mem, data, dst, src, len) -> status`
    MemoryInit,
    /// `(data) -> 0`
    DataDrop,
    /// `(table, init, delta) -> old_len or -1`
    TableGrow,
    /// `(dst_table, src_table, dst, src, len) -> status`
    TableCopy,
    /// `(table, dst, value, len) -> status`
    TableFill,
    /// `(table, elem, dst, src, len) -> status`
    TableInit,
    /// `(elem) -> 0`
    ElemDrop,
    /// `() -> status`: the epoch reached the deadline; apply the store's
    /// policy (yield or trap). Compiled code reloads the deadline after it.
    EpochInterrupt,
    /// `() -> status`: fuel ran out; trap (or yield and refuel). Compiled
    /// code reloads the fuel counter after it.
    OutOfFuel,
    /// `(dst_addr, src_addr, len) -> 0`: a raw overlapping copy between
    /// host addresses that compiled code has already bounds-checked
    /// (`memory.copy`).
    MemMove,
    /// `(dst_addr, byte, len) -> 0`: a raw fill of a host range that
    /// compiled code has already bounds-checked (`memory.fill`).
    MemSet,
}
pub(crate) const LIBCALL_COUNT: usize = 14;

impl Libcall {
    /// Number of arguments after `vmctx`.
    pub fn arity(self) -> usize {
        match self {
            Libcall::EpochInterrupt | Libcall::OutOfFuel => 0,
            Libcall::DataDrop | Libcall::ElemDrop => 1,
            Libcall::MemoryGrow => 2,
            Libcall::TableGrow | Libcall::MemMove | Libcall::MemSet => 3,
            Libcall::MemoryFill | Libcall::TableFill => 4,
            Libcall::MemoryCopy | Libcall::MemoryInit | Libcall::TableCopy | Libcall::TableInit => 5,
        }
    }
}
