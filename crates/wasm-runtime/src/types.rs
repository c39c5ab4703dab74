//! Public WebAssembly types: [`ValType`], [`FuncType`], and the types of
//! memories, tables and globals.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{Error, Result};

/// A value type.
///
/// `funcref` and `externref` (nullable references to any function / host
/// value) have their own variants; every other reference type of the
/// function-references proposal is [`ValType::Ref`]. The representation is
/// canonical: `Ref` never holds a nullable `func` or `extern` reference
/// (use [`ValType::from`] on a [`RefType`] to get the canonical form).
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
    /// Nullable function reference, `(ref null func)`.
    FuncRef,
    /// Nullable host reference, `(ref null extern)`.
    ExternRef,
    /// Any other reference type (non-nullable, bottom or typed references).
    Ref(RefType),
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
        matches!(self, ValType::FuncRef | ValType::ExternRef | ValType::Ref(_))
    }

    /// The reference type of a reference value type.
    #[must_use]
    pub fn as_ref_type(self) -> Option<RefType> {
        match self {
            ValType::FuncRef => Some(RefType::FUNCREF),
            ValType::ExternRef => Some(RefType::EXTERNREF),
            ValType::Ref(r) => Some(r),
            _ => None,
        }
    }

    /// This type with concrete type indices replaced by `map(index)`.
    pub(crate) fn map_concrete(self, map: &impl Fn(u32) -> u32) -> Self {
        match self {
            ValType::Ref(r) => ValType::Ref(r.map_concrete(map)),
            other => other,
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::FuncRef => f.write_str("funcref"),
            ValType::ExternRef => f.write_str("externref"),
            ValType::Ref(r) => fmt::Display::fmt(r, f),
        }
    }
}

/// The heap type a reference points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeapType {
    /// Any function.
    Func,
    /// Any host value.
    Extern,
    /// No function (the bottom of the function hierarchy; only null).
    NoFunc,
    /// No host value (the bottom of the extern hierarchy; only null).
    NoExtern,
    /// A function of one signature. In a [`Module`](crate::Module)'s types
    /// the number is the module's type index; in types of store objects
    /// (a [`Func`](crate::Func)'s, [`Global`](crate::Global)'s or
    /// [`Table`](crate::Table)'s) it is the store's canonical signature id.
    Concrete(u32),
}

impl HeapType {
    /// Whether this heap type is in the function hierarchy.
    #[must_use]
    pub fn is_func(self) -> bool {
        matches!(self, HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_))
    }

    /// Heap subtyping (function references: no declared subtypes, so a
    /// concrete type is only below itself, `func` and above `nofunc`).
    #[must_use]
    pub fn is_subtype_of(self, other: HeapType) -> bool {
        match (self, other) {
            (a, b) if a == b => true,
            (HeapType::NoFunc | HeapType::Concrete(_), HeapType::Func) | (HeapType::NoFunc, HeapType::Concrete(_)) => true,
            (HeapType::NoExtern, HeapType::Extern) => true,
            _ => false,
        }
    }
}

/// A reference type: nullability plus heap type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RefType {
    /// Whether `null` is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

impl RefType {
    /// `funcref`, i.e. `(ref null func)`.
    pub const FUNCREF: RefType = RefType { nullable: true, heap: HeapType::Func };
    /// `externref`, i.e. `(ref null extern)`.
    pub const EXTERNREF: RefType = RefType { nullable: true, heap: HeapType::Extern };

    pub(crate) fn from_wasmparser(r: wasmparser::RefType) -> Result<Self> {
        use wasmparser::AbstractHeapType as A;
        let heap = match r.heap_type() {
            wasmparser::HeapType::Abstract { shared: false, ty: A::Func } => HeapType::Func,
            wasmparser::HeapType::Abstract { shared: false, ty: A::Extern } => HeapType::Extern,
            wasmparser::HeapType::Abstract { shared: false, ty: A::NoFunc } => HeapType::NoFunc,
            wasmparser::HeapType::Abstract { shared: false, ty: A::NoExtern } => HeapType::NoExtern,
            wasmparser::HeapType::Concrete(idx) => {
                let index = idx
                    .as_module_index()
                    .ok_or_else(|| Error::Unsupported("GC: canonicalised type references".into()))?;
                HeapType::Concrete(index)
            }
            _ => return Err(Error::Unsupported("GC / shared / exception reference types".into())),
        };
        Ok(RefType { nullable: r.is_nullable(), heap })
    }

    /// Reference subtyping.
    #[must_use]
    pub fn is_subtype_of(self, other: RefType) -> bool {
        (!self.nullable || other.nullable) && self.heap.is_subtype_of(other.heap)
    }

    /// This type with a concrete type index replaced by `map(index)`.
    pub(crate) fn map_concrete(self, map: &impl Fn(u32) -> u32) -> Self {
        match self.heap {
            HeapType::Concrete(i) => RefType { heap: HeapType::Concrete(map(i)), ..self },
            _ => self,
        }
    }
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RefType::FUNCREF => return f.write_str("funcref"),
            RefType::EXTERNREF => return f.write_str("externref"),
            _ => {}
        }
        f.write_str(if self.nullable { "(ref null " } else { "(ref " })?;
        match self.heap {
            HeapType::Func => f.write_str("func")?,
            HeapType::Extern => f.write_str("extern")?,
            HeapType::NoFunc => f.write_str("nofunc")?,
            HeapType::NoExtern => f.write_str("noextern")?,
            HeapType::Concrete(i) => write!(f, "{i}")?,
        }
        f.write_str(")")
    }
}

impl From<RefType> for ValType {
    fn from(r: RefType) -> Self {
        match r {
            RefType::FUNCREF => ValType::FuncRef,
            RefType::EXTERNREF => ValType::ExternRef,
            other => ValType::Ref(other),
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

    /// This signature with concrete type indices replaced by `map(index)`.
    pub(crate) fn map_concrete(&self, map: &impl Fn(u32) -> u32) -> FuncType {
        FuncType::new(self.params.iter().map(|t| t.map_concrete(map)), self.results.iter().map(|t| t.map_concrete(map)))
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
