//! [`ModuleInfo`]: everything about a module except its function bodies,
//! gathered while validating it with wasmparser.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use wasmparser::{
    ElementItems, ElementKind, FuncToValidate, FunctionBody, KnownCustom, Name, Operator, Parser,
    Payload, TypeRef, ValidPayload, Validator, ValidatorResources,
};

use crate::config::Features;
use crate::error::{Error, Result};
use crate::types::{ExternType, FuncType, GlobalType, MemoryType, RefType, TableType, ValType};

/// One instruction of a constant expression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ConstOp {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    GlobalGet(u32),
    RefNull,
    RefFunc(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

/// A constant expression, evaluated at instantiation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConstExpr(pub Box<[ConstOp]>);

impl ConstExpr {
    fn parse(expr: &wasmparser::ConstExpr<'_>) -> Result<Self> {
        let mut ops = Vec::new();
        let mut reader = expr.get_operators_reader();
        while !reader.eof() {
            let offset = reader.original_position();
            let op = match reader.read()? {
                Operator::I32Const { value } => ConstOp::I32(value),
                Operator::I64Const { value } => ConstOp::I64(value),
                Operator::F32Const { value } => ConstOp::F32(value.bits()),
                Operator::F64Const { value } => ConstOp::F64(value.bits()),
                Operator::V128Const { value } => ConstOp::V128(value.i128().cast_unsigned()),
                Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
                Operator::RefNull { .. } => ConstOp::RefNull,
                Operator::RefFunc { function_index } => ConstOp::RefFunc(function_index),
                Operator::I32Add => ConstOp::I32Add,
                Operator::I32Sub => ConstOp::I32Sub,
                Operator::I32Mul => ConstOp::I32Mul,
                Operator::I64Add => ConstOp::I64Add,
                Operator::I64Sub => ConstOp::I64Sub,
                Operator::I64Mul => ConstOp::I64Mul,
                Operator::End => continue,
                other => {
                    return Err(Error::Invalid {
                        offset,
                        message: alloc::format!("unsupported constant instruction {other:?}"),
                    });
                }
            };
            ops.push(op);
        }
        Ok(ConstExpr(ops.into_boxed_slice()))
    }
}

/// Where an export points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntityIndex {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
}

/// One import.
#[derive(Debug, Clone)]
pub(crate) struct ImportInfo {
    pub module: String,
    pub name: String,
    pub ty: ImportKind,
}

/// What an import expects.
#[derive(Debug, Clone)]
pub(crate) enum ImportKind {
    Func(u32),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
}

/// How an element segment is used.
#[derive(Debug, Clone)]
pub(crate) enum SegmentMode {
    Passive,
    Active { index: u32, offset: ConstExpr },
    Declared,
}

/// An element segment.
#[derive(Debug, Clone)]
pub(crate) struct ElementSegment {
    pub mode: SegmentMode,
    pub items: Vec<ConstExpr>,
}

/// A data segment.
#[derive(Debug, Clone)]
pub(crate) struct DataSegment {
    pub mode: SegmentMode,
    pub bytes: Box<[u8]>,
}

/// Everything about a module but its code.
#[derive(Debug, Default)]
pub(crate) struct ModuleInfo {
    pub types: Vec<FuncType>,
    /// Type index of each function, imports first.
    pub funcs: Vec<u32>,
    pub num_imported_funcs: u32,
    pub num_imported_tables: u32,
    pub num_imported_memories: u32,
    pub num_imported_globals: u32,
    pub imports: Vec<ImportInfo>,
    pub tables: Vec<TableType>,
    /// Init expressions of defined tables (`None`: null).
    pub table_inits: Vec<Option<ConstExpr>>,
    pub memories: Vec<MemoryType>,
    pub globals: Vec<GlobalType>,
    /// Init expressions of defined globals.
    pub global_inits: Vec<ConstExpr>,
    pub exports: Vec<(String, EntityIndex)>,
    pub start: Option<u32>,
    pub elements: Vec<ElementSegment>,
    pub data: Vec<DataSegment>,
    /// The (last) `name` custom section, read on demand by
    /// [`function_name`] (backtraces only), shared with the code object.
    pub name_section: Option<Arc<[u8]>>,
    pub custom_sections: Vec<(String, Arc<[u8]>)>,
}

/// A function body waiting to be validated and translated.
pub(crate) struct PendingFunc<'a> {
    pub index: u32,
    pub validator: FuncToValidate<ValidatorResources>,
    pub body: FunctionBody<'a>,
}

impl ModuleInfo {
    /// Number of functions defined (not imported).
    pub fn num_defined_funcs(&self) -> usize {
        self.funcs.len() - self.num_imported_funcs as usize
    }

    /// Signature of function `index`.
    pub fn func_type(&self, index: u32) -> &FuncType {
        &self.types[self.funcs[index as usize] as usize]
    }

    /// Import type, for linking.
    pub fn import_type(&self, kind: &ImportKind) -> ExternType {
        match kind {
            ImportKind::Func(t) => ExternType::Func(self.types[*t as usize].clone()),
            ImportKind::Table(t) => ExternType::Table(*t),
            ImportKind::Memory(m) => ExternType::Memory(*m),
            ImportKind::Global(g) => ExternType::Global(*g),
        }
    }

    /// Export type.
    pub fn entity_type(&self, e: EntityIndex) -> ExternType {
        match e {
            EntityIndex::Func(f) => ExternType::Func(self.func_type(f).clone()),
            EntityIndex::Table(t) => ExternType::Table(self.tables[t as usize]),
            EntityIndex::Memory(m) => ExternType::Memory(self.memories[m as usize]),
            EntityIndex::Global(g) => ExternType::Global(self.globals[g as usize]),
        }
    }
}

/// A function type of the type section (index `index`). Only what typed
/// function references allow: final, no supertype, not shared, naming
/// earlier types only; everything else is GC and rejected.
fn func_type(sub: &wasmparser::SubType, index: usize) -> Result<FuncType> {
    let c = &sub.composite_type;
    if !sub.is_final || sub.supertype_idx.is_some() || c.shared || c.descriptor_idx.is_some() || c.describes_idx.is_some() {
        return Err(Error::Unsupported("GC: subtyping, shared or descriptor types".into()));
    }
    let wasmparser::CompositeInnerType::Func(f) = &c.inner else {
        return Err(Error::Unsupported("GC composite types".into()));
    };
    let convert = |t: &wasmparser::ValType| -> Result<ValType> {
        let v = ValType::from_wasmparser(*t)?;
        match v.as_ref_type().map(|r| r.heap) {
            Some(crate::types::HeapType::Concrete(i)) if i as usize >= index => {
                Err(Error::Unsupported("GC: recursive function types".into()))
            }
            _ => Ok(v),
        }
    };
    let params = f.params().iter().map(convert).collect::<Result<Vec<_>>>()?;
    let results = f.results().iter().map(convert).collect::<Result<Vec<_>>>()?;
    Ok(FuncType::new(params, results))
}

fn table_type(t: &wasmparser::TableType) -> Result<TableType> {
    if t.table64 || t.shared {
        return Err(Error::Unsupported("64-bit or shared tables".into()));
    }
    Ok(TableType { element: RefType::from_wasmparser(t.element_type)?, minimum: t.initial, maximum: t.maximum })
}

fn memory_type(m: &wasmparser::MemoryType) -> Result<MemoryType> {
    if m.memory64 || m.shared || m.page_size_log2.is_some() {
        return Err(Error::Unsupported("64-bit, shared or custom-page-size memories".into()));
    }
    Ok(MemoryType { minimum: m.initial, maximum: m.maximum })
}

fn global_type(g: &wasmparser::GlobalType) -> Result<GlobalType> {
    if g.shared {
        return Err(Error::Unsupported("shared globals".into()));
    }
    Ok(GlobalType { content: ValType::from_wasmparser(g.content_type)?, mutable: g.mutable })
}

/// Validate `bytes` and collect module info plus the function bodies.
pub(crate) fn parse(bytes: &[u8], features: Features) -> Result<(ModuleInfo, Vec<PendingFunc<'_>>)> {
    let wasm_features = features.to_wasmparser();
    let mut validator = Validator::new_with_features(wasm_features);
    let mut info = ModuleInfo::default();
    let mut pending = Vec::new();
    let mut next_func = 0u32;
    // The decoder honours the same features as the validator: without
    // multi-memory a memory index immediate is a single zero byte, and
    // limits are u32 LEBs (2.0 binary rules).
    let mut parser = Parser::new(0);
    parser.set_features(wasm_features);
    for payload in parser.parse_all(bytes) {
        let payload = payload?;
        match validator.payload(&payload)? {
            ValidPayload::Func(validator, body) => {
                let index = info.num_imported_funcs + next_func;
                next_func += 1;
                pending.push(PendingFunc { index, validator, body });
                continue;
            }
            ValidPayload::Parser(_) => {
                return Err(Error::Unsupported("components and nested modules".into()));
            }
            ValidPayload::Ok | ValidPayload::End(_) => {}
        }
        collect(&mut info, payload)?;
    }
    Ok((info, pending))
}

/// Collect module info from `bytes` that are known to be valid (a
/// precompiled artifact names their SHA-256, and the artifact is only made
/// from bytes that passed [`parse`] and full validation): the same walk
/// without the validator, and function bodies skipped. Anything malformed
/// still ends in an error, never a panic, but indices are not checked
/// against each other.
pub(crate) fn parse_known_valid(bytes: &[u8], features: Features) -> Result<ModuleInfo> {
    let mut info = ModuleInfo::default();
    let mut parser = Parser::new(0);
    parser.set_features(features.to_wasmparser());
    for payload in parser.parse_all(bytes) {
        match payload? {
            Payload::CodeSectionStart { .. } | Payload::CodeSectionEntry(_) => {}
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err(Error::Unsupported("components and nested modules".into()));
            }
            payload => collect(&mut info, payload)?,
        }
    }
    Ok(info)
}

/// Record one validated payload in `info` (one function per section kind,
/// each with its own small stack frame).
fn collect(info: &mut ModuleInfo, payload: Payload<'_>) -> Result<()> {
    match payload {
        Payload::TypeSection(reader) => collect_type(info, reader)?,
        Payload::ImportSection(reader) => collect_import(info, reader)?,
        Payload::FunctionSection(reader) => collect_function(info, reader)?,
        Payload::TableSection(reader) => collect_table(info, reader)?,
        Payload::MemorySection(reader) => collect_memory(info, reader)?,
        Payload::GlobalSection(reader) => collect_global(info, reader)?,
        Payload::ExportSection(reader) => collect_export(info, reader)?,
        Payload::StartSection { func, .. } => info.start = Some(func),
        Payload::ElementSection(reader) => collect_element(info, reader)?,
        Payload::DataSection(reader) => collect_data(info, reader)?,
        Payload::CustomSection(reader) => collect_custom(info, reader)?,
        Payload::TagSection(_) => return Err(Error::Unsupported("exception handling".into())),
        _ => {}
    }
    Ok(())
}

#[inline(never)]
fn collect_type(info: &mut ModuleInfo, reader: wasmparser::TypeSectionReader<'_>) -> Result<()> {
    for group in reader {
        let group = group?;
        if group.types().len() != 1 {
            return Err(Error::Unsupported("GC: recursion groups of several types".into()));
        }
        for sub in group.into_types() {
            info.types.push(func_type(&sub, info.types.len())?);
        }
    }
    Ok(())
}

#[inline(never)]
fn collect_import(info: &mut ModuleInfo, reader: wasmparser::ImportSectionReader<'_>) -> Result<()> {
    for import in reader.into_imports() {
        let import = import?;
        let ty = match import.ty {
            TypeRef::Func(t) => {
                info.funcs.push(t);
                info.num_imported_funcs += 1;
                ImportKind::Func(t)
            }
            TypeRef::Table(t) => {
                let t = table_type(&t)?;
                info.tables.push(t);
                info.num_imported_tables += 1;
                ImportKind::Table(t)
            }
            TypeRef::Memory(m) => {
                let m = memory_type(&m)?;
                info.memories.push(m);
                info.num_imported_memories += 1;
                ImportKind::Memory(m)
            }
            TypeRef::Global(g) => {
                let g = global_type(&g)?;
                info.globals.push(g);
                info.num_imported_globals += 1;
                ImportKind::Global(g)
            }
            TypeRef::Tag(_) | TypeRef::FuncExact(_) => {
                return Err(Error::Unsupported("exception tags / exact function imports".into()));
            }
        };
        info.imports.push(ImportInfo { module: import.module.to_string(), name: import.name.to_string(), ty });
    }
    Ok(())
}

#[inline(never)]
fn collect_function(info: &mut ModuleInfo, reader: wasmparser::FunctionSectionReader<'_>) -> Result<()> {
    for t in reader {
        info.funcs.push(t?);
    }
    Ok(())
}

#[inline(never)]
fn collect_table(info: &mut ModuleInfo, reader: wasmparser::TableSectionReader<'_>) -> Result<()> {
    for table in reader {
        let table = table?;
        info.tables.push(table_type(&table.ty)?);
        info.table_inits.push(match table.init {
            wasmparser::TableInit::RefNull => None,
            wasmparser::TableInit::Expr(e) => Some(ConstExpr::parse(&e)?),
        });
    }
    Ok(())
}

#[inline(never)]
fn collect_memory(info: &mut ModuleInfo, reader: wasmparser::MemorySectionReader<'_>) -> Result<()> {
    for m in reader {
        info.memories.push(memory_type(&m?)?);
    }
    Ok(())
}

#[inline(never)]
fn collect_global(info: &mut ModuleInfo, reader: wasmparser::GlobalSectionReader<'_>) -> Result<()> {
    for g in reader {
        let g = g?;
        info.globals.push(global_type(&g.ty)?);
        info.global_inits.push(ConstExpr::parse(&g.init_expr)?);
    }
    Ok(())
}

#[inline(never)]
fn collect_export(info: &mut ModuleInfo, reader: wasmparser::ExportSectionReader<'_>) -> Result<()> {
    for e in reader {
        let e = e?;
        let index = match e.kind {
            wasmparser::ExternalKind::Func | wasmparser::ExternalKind::FuncExact => EntityIndex::Func(e.index),
            wasmparser::ExternalKind::Table => EntityIndex::Table(e.index),
            wasmparser::ExternalKind::Memory => EntityIndex::Memory(e.index),
            wasmparser::ExternalKind::Global => EntityIndex::Global(e.index),
            wasmparser::ExternalKind::Tag => return Err(Error::Unsupported("exception tags".into())),
        };
        info.exports.push((e.name.to_string(), index));
    }
    Ok(())
}

#[inline(never)]
fn collect_element(info: &mut ModuleInfo, reader: wasmparser::ElementSectionReader<'_>) -> Result<()> {
    for e in reader {
        let e = e?;
        let mode = match e.kind {
            ElementKind::Passive => SegmentMode::Passive,
            ElementKind::Declared => SegmentMode::Declared,
            ElementKind::Active { table_index, offset_expr } => {
                SegmentMode::Active { index: table_index.unwrap_or(0), offset: ConstExpr::parse(&offset_expr)? }
            }
        };
        let mut items = Vec::new();
        match e.items {
            ElementItems::Functions(r) => {
                for f in r {
                    items.push(ConstExpr(Box::new([ConstOp::RefFunc(f?)])));
                }
            }
            ElementItems::Expressions(_, r) => {
                for expr in r {
                    items.push(ConstExpr::parse(&expr?)?);
                }
            }
        }
        info.elements.push(ElementSegment { mode, items });
    }
    Ok(())
}

#[inline(never)]
fn collect_data(info: &mut ModuleInfo, reader: wasmparser::DataSectionReader<'_>) -> Result<()> {
    for d in reader {
        let d = d?;
        let mode = match d.kind {
            wasmparser::DataKind::Passive => SegmentMode::Passive,
            wasmparser::DataKind::Active { memory_index, offset_expr } => {
                SegmentMode::Active { index: memory_index, offset: ConstExpr::parse(&offset_expr)? }
            }
        };
        info.data.push(DataSegment { mode, bytes: d.data.into() });
    }
    Ok(())
}

#[inline(never)]
fn collect_custom(info: &mut ModuleInfo, reader: wasmparser::CustomSectionReader<'_>) -> Result<()> {
    let data: Arc<[u8]> = reader.data().into();
    if matches!(reader.as_known(), KnownCustom::Name(_)) {
        info.name_section = Some(data.clone());
    }
    info.custom_sections.push((reader.name().to_string(), data));
    Ok(())
}

/// The name of function `index` in the contents of a `name` custom
/// section, if it has one. Parsed on each call (a linear scan, stopping
/// once past `index`): only backtraces and `Module::func_name` ask, and
/// keeping a map of every name would cost each module its own copies. A
/// malformed section is not an invalid module: whatever parses before the
/// damage is used.
pub(crate) fn function_name(section: &[u8], index: u32) -> Option<&str> {
    let names = wasmparser::NameSectionReader::new(wasmparser::BinaryReader::new(section, 0));
    for name in names.into_iter().map_while(core::result::Result::ok) {
        if let Name::Function(map) = name {
            let mut found = None;
            for naming in map.into_iter().map_while(core::result::Result::ok) {
                if naming.index == index {
                    // A later entry for the same index wins, as when the
                    // names were collected into a map.
                    found = Some(naming.name);
                }
            }
            if found.is_some() {
                return found;
            }
        }
    }
    None
}
