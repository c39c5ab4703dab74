//! Public WebAssembly types: [`ValType`], [`FuncType`], and the types of
//! memories, tables and globals.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{Error, Result};

/// A value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 128-bit vector.
    V128,
    /// Nullable function reference.
    FuncRef,
    /// Nullable host reference.
    ExternRef,
}

impl ValType {
    pub(crate) fn from_wasmparser(t: wasmparser::ValType) -> Result<Self> {
        use wasmparser::ValType as W;
        Ok(match t {
            W::I32 => ValType::I32,
            W::I64 => ValType::I64,
            W::F32 => ValType::F32,
            W::F64 => ValType::F64,
            W::V128 => ValType::V128,
            W::Ref(r) => RefType::from_wasmparser(r)?.into(),
        })
    }

    /// Whether this is a reference type.
    #[must_use]
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A reference type (element type of tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefType {
    /// `funcref`.
    FuncRef,
    /// `externref`.
    ExternRef,
}

impl RefType {
    pub(crate) fn from_wasmparser(r: wasmparser::RefType) -> Result<Self> {
        if !r.is_nullable() {
            return Err(Error::Unsupported("non-nullable references (function references)".into()));
        }
        match r.heap_type() {
            wasmparser::HeapType::Abstract { shared: false, ty: wasmparser::AbstractHeapType::Func } => {
                Ok(RefType::FuncRef)
            }
            wasmparser::HeapType::Abstract { shared: false, ty: wasmparser::AbstractHeapType::Extern } => {
                Ok(RefType::ExternRef)
            }
            _ => Err(Error::Unsupported("GC / typed function references".into())),
        }
    }
}

impl From<RefType> for ValType {
    fn from(r: RefType) -> Self {
        match r {
            RefType::FuncRef => ValType::FuncRef,
            RefType::ExternRef => ValType::ExternRef,
        }
    }
}

/// A function signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A signature from parameter and result types.
    pub fn new(params: impl IntoIterator<Item = ValType>, results: impl IntoIterator<Item = ValType>) -> Self {
        FuncType {
            params: params.into_iter().collect::<Vec<_>>().into_boxed_slice(),
            results: results.into_iter().collect::<Vec<_>>().into_boxed_slice(),
        }
    }

    /// Parameter types.
    #[must_use]
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// Result types.
    #[must_use]
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

/// Limits and type of a linear memory, in 64 KiB pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryType {
    /// Initial pages.
    pub minimum: u64,
    /// Maximum pages, if declared.
    pub maximum: Option<u64>,
}

/// Element type and limits of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableType {
    /// Element type.
    pub element: RefType,
    /// Initial elements.
    pub minimum: u64,
    /// Maximum elements, if declared.
    pub maximum: Option<u64>,
}

/// Value type and mutability of a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalType {
    /// Value type.
    pub content: ValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// The type of an import or export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternType {
    /// A function.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}
