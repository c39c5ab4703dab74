//! Instantiation: allocate an instance's objects, fill its vmctx, run its
//! segment initialisers.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::compile::info::{ConstExpr, ConstOp, ImportKind, SegmentMode};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::trap::{Trap, TrapCode};
use crate::types::{GlobalType, RefType, TableType, ValType};
use crate::vm::layout::{self, VMFuncRef};
use crate::vm::memory::LinearMemory;
use crate::vm::store::{GlobalObj, StoreCore};
use crate::vm::table::TableObj;

/// An import resolved to a store object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ResolvedImport {
    Func(*const VMFuncRef),
    Memory(usize),
    Table(usize),
    Global(usize),
}

/// One instance's runtime state, owned by the store.
#[derive(Debug)]
pub(crate) struct InstanceData {
    pub module: Module,
    /// The vmctx slots (see `layout`).
    pub vmctx: Box<[usize]>,
    /// Defined functions.
    pub func_refs: Box<[VMFuncRef]>,
    /// Every function of the index space.
    pub funcs: Vec<*const VMFuncRef>,
    /// Store indices of memories, tables and globals.
    pub memories: Vec<usize>,
    pub tables: Vec<usize>,
    pub globals: Vec<usize>,
    /// Element segments, evaluated; `None` once dropped.
    pub elems: Vec<Option<Box<[usize]>>>,
    pub data_dropped: Vec<bool>,
}

fn limits_match(actual_min: u64, actual_max: Option<u64>, min: u64, max: Option<u64>) -> bool {
    actual_min >= min
        && match max {
            None => true,
            Some(m) => actual_max.is_some_and(|am| am <= m),
        }
}

fn incompatible(module: &str, name: &str) -> Error {
    Error::Link(alloc::format!("incompatible import type for `{module}::{name}`"))
}

/// The value of a constant operator that takes no operands; `None` for
/// the arithmetic ones.
fn leaf(core: &StoreCore, globals: &[usize], funcs: &[*const VMFuncRef], op: ConstOp) -> Result<Option<u128>> {
    let bad = || Error::Compile("malformed constant expression".into());
    Ok(Some(match op {
        ConstOp::I32(v) => u128::from(v.cast_unsigned()),
        ConstOp::I64(v) => u128::from(v.cast_unsigned()),
        ConstOp::F32(b) => u128::from(b),
        ConstOp::F64(b) => u128::from(b),
        ConstOp::V128(b) => b,
        ConstOp::RefNull => 0,
        ConstOp::RefFunc(f) => *funcs.get(f as usize).ok_or_else(bad)? as usize as u128,
        ConstOp::GlobalGet(g) => {
            let index = *globals.get(g as usize).ok_or_else(bad)?;
            core.globals[index].get()
        }
        ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul | ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => return Ok(None),
    }))
}

/// Evaluate a constant expression to a raw 16-byte value.
#[expect(clippy::cast_possible_truncation, reason = "i32/i64 arithmetic on the low bits of raw 16-byte slots is the intended truncation")]
fn eval(core: &StoreCore, globals: &[usize], funcs: &[*const VMFuncRef], expr: &ConstExpr) -> Result<u128> {
    let bad = || Error::Compile("malformed constant expression".into());
    // Almost every expression is one operator (`i32.const`, `ref.func`):
    // no operand stack for those.
    if let [op] = &*expr.0 {
        return leaf(core, globals, funcs, *op)?.ok_or_else(bad);
    }
    let mut stack: Vec<u128> = Vec::with_capacity(2);
    for op in expr.0.iter() {
        let v = match leaf(core, globals, funcs, *op)? {
            Some(v) => v,
            None => {
                let b = stack.pop().ok_or_else(bad)?;
                let a = stack.pop().ok_or_else(bad)?;
                match *op {
                    ConstOp::I32Add => u128::from((a as u32).wrapping_add(b as u32)),
                    ConstOp::I32Sub => u128::from((a as u32).wrapping_sub(b as u32)),
                    ConstOp::I32Mul => u128::from((a as u32).wrapping_mul(b as u32)),
                    ConstOp::I64Add => u128::from((a as u64).wrapping_add(b as u64)),
                    ConstOp::I64Sub => u128::from((a as u64).wrapping_sub(b as u64)),
                    _ => u128::from((a as u64).wrapping_mul(b as u64)),
                }
            }
        };
        stack.push(v);
    }
    stack.pop().ok_or_else(bad)
}

/// Truncate a raw value to what a global of type `ty` stores.
fn normalise(ty: ValType, raw: u128) -> u128 {
    match ty {
        ValType::I32 | ValType::F32 => raw & 0xffff_ffff,
        ValType::I64 | ValType::F64 | ValType::FuncRef | ValType::ExternRef | ValType::Ref(_) => raw & u128::from(u64::MAX),
        ValType::V128 => raw,
    }
}

fn store_id_of(ids: &[u64], i: u32) -> u32 {
    ids.get(i as usize).and_then(|id| u32::try_from(*id).ok()).unwrap_or(u32::MAX)
}

/// `t` with module type indices replaced by store ids.
fn canonical_val(ids: &[u64], t: ValType) -> ValType {
    t.map_concrete(&|i| store_id_of(ids, i))
}

/// `r` with a module type index replaced by its store id.
fn canonical_ref(ids: &[u64], r: RefType) -> RefType {
    r.map_concrete(&|i| store_id_of(ids, i))
}

/// Whether a store global of type `have` satisfies an import of type `want`.
fn global_matches(have: GlobalType, want: GlobalType) -> bool {
    if have.mutable != want.mutable {
        return false;
    }
    match (have.content.as_ref_type(), want.content.as_ref_type()) {
        (Some(h), Some(w)) if !want.mutable => h.is_subtype_of(w),
        _ => have.content == want.content,
    }
}

/// Check imports, allocate everything, run element and data segments.
/// Returns the new instance's index in the store. The instance stays in
/// the store even when a segment traps (its functions may already be in
/// imported tables).
#[expect(clippy::cast_possible_truncation, reason = "index spaces are bounded by the validator far below u32::MAX; raw slots hold pointers/ids that fit usize on the 64-bit targets we support")]
pub(crate) fn instantiate(core: &mut StoreCore, module: &Module, imports: &[ResolvedImport]) -> Result<usize> {
    let info = module.info();
    if imports.len() != info.imports.len() {
        return Err(Error::Link(alloc::format!("expected {} imports, got {}", info.imports.len(), imports.len())));
    }
    let mut funcs: Vec<*const VMFuncRef> = Vec::with_capacity(info.funcs.len());
    let mut memories = Vec::with_capacity(info.memories.len());
    let mut tables = Vec::with_capacity(info.tables.len());
    let mut globals = Vec::with_capacity(info.globals.len());
    let ids = module.type_ids();
    for (import, resolved) in info.imports.iter().zip(imports) {
        let (m, n) = (import.module.as_str(), import.name.as_str());
        match (&import.ty, *resolved) {
            (ImportKind::Func(t), ResolvedImport::Func(f)) => {
                // SAFETY: `f` is a funcref of this store, alive as long as it.
                let id = unsafe { (*f).type_id };
                if ids.get(*t as usize) != Some(&id) {
                    return Err(incompatible(m, n));
                }
                funcs.push(f);
            }
            (ImportKind::Memory(ty), ResolvedImport::Memory(i)) => {
                let mem = &core.memories[i];
                if !limits_match(mem.pages(), mem.ty.maximum, ty.minimum, ty.maximum) {
                    return Err(incompatible(m, n));
                }
                memories.push(i);
            }
            (ImportKind::Table(ty), ResolvedImport::Table(i)) => {
                let t = &core.tables[i];
                if t.ty.element != canonical_ref(ids, ty.element) || !limits_match(t.len(), t.ty.maximum, ty.minimum, ty.maximum) {
                    return Err(incompatible(m, n));
                }
                tables.push(i);
            }
            (ImportKind::Global(ty), ResolvedImport::Global(i)) => {
                let want = GlobalType { content: canonical_val(ids, ty.content), ..*ty };
                if !global_matches(core.globals[i].ty, want) {
                    return Err(incompatible(m, n));
                }
                globals.push(i);
            }
            _ => return Err(incompatible(m, n)),
        }
    }

    let offsets = module.offsets();
    let n_defined = info.num_defined_funcs();
    let mut inst = Box::new(InstanceData {
        module: module.clone(),
        vmctx: alloc::vec![0usize; offsets.slots()].into_boxed_slice(),
        func_refs: Box::new([]),
        funcs: Vec::new(),
        memories: Vec::new(),
        tables: Vec::new(),
        globals: Vec::new(),
        elems: Vec::new(),
        data_dropped: alloc::vec![false; info.data.len()],
    });
    let vmctx_ptr = inst.vmctx.as_mut_ptr().cast::<u8>();
    let code = module.code();
    core.register_code(code);
    let mut refs = Vec::with_capacity(n_defined);
    for i in 0..n_defined {
        let index = info.num_imported_funcs as usize + i;
        let type_index = info.funcs[index];
        refs.push(VMFuncRef {
            code: code.addr(module.func_offset(i)),
            vmctx: vmctx_ptr,
            type_id: ids[type_index as usize],
            array_call: code.addr(module.array_trampoline(type_index)),
        });
    }
    inst.func_refs = refs.into_boxed_slice();
    for r in inst.func_refs.iter() {
        funcs.push(core::ptr::from_ref(r));
    }

    // Memories.
    let strategy = core.engine.config().memory_strategy;
    // A reused reservation may already hold the memory image. That is only
    // unobservable if a failing element segment cannot leave this
    // instance's functions behind in someone else's table.
    let reuse = info.num_imported_tables == 0;
    for (defined, ty) in info.memories[info.num_imported_memories as usize..].iter().enumerate() {
        let mem = match module.memory_pool(defined) {
            Some(pool) if reuse => LinearMemory::from_pool(pool, *ty, strategy, core.memory_limit_pages)?,
            _ => LinearMemory::new(core.engine.platform().clone(), *ty, strategy, core.memory_limit_pages)?,
        };
        memories.push(core.memories.len());
        core.memories.push(Box::new(mem));
    }
    // Globals: defined ones live inline in the vmctx.
    let first_global_obj = core.globals.len();
    for (defined, (ty, init)) in info.globals[info.num_imported_globals as usize..].iter().zip(&info.global_inits).enumerate() {
        let raw = match eval(core, &globals, &funcs, init) {
            Ok(raw) => normalise(ty.content, raw),
            Err(e) => {
                // The objects pushed so far point into `inst`'s vmctx.
                core.globals.truncate(first_global_obj);
                return Err(e);
            }
        };
        let ty = GlobalType { content: canonical_val(ids, ty.content), ..*ty };
        let slot = offsets.defined_global_slot(defined as u32);
        let cell = inst.vmctx.as_mut_ptr().wrapping_add(slot).cast::<u8>();
        // SAFETY: `slot` and `slot + 1` are inside the vmctx (`VmOffsets`
        // reserves two slots per defined global); the vmctx is a heap
        // allocation that never moves and is owned by `inst`, which the
        // store keeps as long as the global object (on an error below the
        // objects are removed again before `inst` is dropped).
        let obj = unsafe { GlobalObj::inline(ty, cell) };
        let mut obj = Box::new(obj);
        obj.set(raw);
        globals.push(core.globals.len());
        core.globals.push(obj);
    }
    match finish_instantiate(core, module, inst, funcs, memories, tables, globals) {
        Ok(index) => {
            initialise_segments(core, index)?;
            Ok(index)
        }
        Err(e) => {
            core.globals.truncate(first_global_obj);
            Err(e)
        }
    }
}

/// Tables, element segments and the vmctx of a new instance whose
/// functions, memories and globals exist; pushes the instance and returns
/// its index.
#[expect(clippy::cast_possible_truncation, reason = "index spaces are bounded by the validator far below u32::MAX; raw slots hold pointers/ids that fit usize on the 64-bit targets we support")]
fn finish_instantiate(core: &mut StoreCore, module: &Module, mut inst: Box<InstanceData>, funcs: Vec<*const VMFuncRef>, memories: Vec<usize>, mut tables: Vec<usize>, globals: Vec<usize>) -> Result<usize> {
    let info = module.info();
    let ids = module.type_ids();
    let offsets = module.offsets();
    // Tables.
    for (ty, init) in info.tables[info.num_imported_tables as usize..].iter().zip(&info.table_inits) {
        let init = match init {
            Some(e) => usize::try_from(eval(core, &globals, &funcs, e)?).unwrap_or(0),
            None => 0,
        };
        let table = TableObj::new(TableType { element: canonical_ref(ids, ty.element), ..*ty }, init).ok_or_else(|| Error::Resource("table too large".into()))?;
        tables.push(core.tables.len());
        core.tables.push(Box::new(table));
    }
    // Element segments, evaluated once.
    let mut elems = Vec::with_capacity(info.elements.len());
    for seg in &info.elements {
        let mut items = Vec::with_capacity(seg.items.len());
        for e in &seg.items {
            items.push(usize::try_from(eval(core, &globals, &funcs, e)?).unwrap_or(0));
        }
        elems.push(Some(items.into_boxed_slice()));
    }

    // Fill the vmctx.
    let core_ptr: *mut StoreCore = core;
    let v = &mut inst.vmctx;
    v[0] = layout::VMCTX_MAGIC as usize;
    v[1] = core_ptr as usize;
    v[2] = (&raw const *core.limits) as usize;
    v[3] = core.libcalls.as_ptr() as usize;
    for (i, m) in memories.iter().enumerate() {
        v[offsets.memory_slot(i as u32)] = (&raw mut core.memories[*m].def) as usize;
        // A memory's base never changes (it reserves its whole range up
        // front), so compiled code may read this copy instead of the def.
        v[offsets.memory_base_slot(i as u32)] = core.memories[*m].def.base as usize;
    }
    for (i, t) in tables.iter().enumerate() {
        v[offsets.table_slot(i as u32)] = (&raw mut core.tables[*t].def) as usize;
    }
    for (i, g) in globals.iter().enumerate() {
        v[offsets.global_slot(i as u32)] = core.globals[*g].cell_ptr() as usize;
    }
    for (i, f) in funcs.iter().enumerate() {
        v[offsets.func_slot(i as u32)] = *f as usize;
    }
    for (i, id) in ids.iter().enumerate() {
        let id = *id;
        inst.vmctx[offsets.type_id_slot(i as u32)] = usize::try_from(id).unwrap_or(usize::MAX);
    }
    inst.funcs = funcs;
    inst.memories = memories;
    inst.tables = tables;
    inst.globals = globals;
    inst.elems = elems;
    let inst_ptr: *mut InstanceData = &raw mut *inst;
    inst.vmctx[4] = inst_ptr as usize;
    let index = core.instances.len();
    core.instances.push(inst);
    Ok(index)
}

#[expect(clippy::cast_possible_truncation, reason = "segment offsets are i32 values held in raw slots: the low 32 bits are the offset")]
fn initialise_segments(core: &mut StoreCore, index: usize) -> Result<()> {
    let module = core.instances[index].module.clone();
    let info = module.info();
    for (i, seg) in info.elements.iter().enumerate() {
        match &seg.mode {
            SegmentMode::Active { index: table, offset } => {
                let inst = &core.instances[index];
                let start = eval(core, &inst.globals, &inst.funcs, offset)? as u32;
                let table_index = inst.tables[*table as usize];
                let items = inst.elems[i].clone().unwrap_or_default();
                let t = &mut core.tables[table_index];
                let start = start as usize;
                let end = start.checked_add(items.len());
                match end {
                    Some(end) if end as u64 <= t.len() => t.elements_mut()[start..end].copy_from_slice(&items),
                    _ => return Err(Trap::new(TrapCode::TableOutOfBounds).into()),
                }
                core.instances[index].elems[i] = None;
            }
            SegmentMode::Declared => core.instances[index].elems[i] = None,
            SegmentMode::Passive => {}
        }
    }
    if let Some(images) = module.memory_images() {
        // Every active segment is in the images, none can trap.
        let imported = info.num_imported_memories as usize;
        for init in images {
            let mem_index = core.instances[index].memories[imported + init.defined_memory as usize];
            core.memories[mem_index].apply_image(init.offset, &init.image)?;
        }
        for (i, seg) in info.data.iter().enumerate() {
            if let SegmentMode::Active { .. } = seg.mode {
                core.instances[index].data_dropped[i] = true;
            }
        }
        return Ok(());
    }
    for (i, seg) in info.data.iter().enumerate() {
        if let SegmentMode::Active { index: memory, offset } = &seg.mode {
            let inst = &core.instances[index];
            let start = eval(core, &inst.globals, &inst.funcs, offset)? as u32 as usize;
            let mem_index = inst.memories[*memory as usize];
            let mem = &mut core.memories[mem_index];
            let end = start.checked_add(seg.bytes.len());
            match end {
                Some(end) if end <= mem.len_bytes() => mem.data_mut()[start..end].copy_from_slice(&seg.bytes),
                _ => return Err(Trap::new(TrapCode::MemoryOutOfBounds).into()),
            }
            core.instances[index].data_dropped[i] = true;
        }
    }
    Ok(())
}
