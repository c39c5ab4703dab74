//! [`Val`]: a WebAssembly value crossing the API, and [`ExternRef`].

use alloc::boxed::Box;
use core::any::Any;

use crate::error::{Error, Result};
use crate::func::Func;
use crate::store::{AsContextMut, StoreContext};
use crate::types::{HeapType, ValType};
use crate::vm::store::StoreCore;

/// A host reference (`externref`) stored in a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternRef {
    store_id: u64,
    index: usize,
}

impl ExternRef {
    /// Store `data` and return a reference to it.
    pub fn new(store: &mut impl AsContextMut, data: impl Any + Send + Sync) -> ExternRef {
        let core = &mut store.as_context_mut().core;
        core.externrefs.push(Box::new(data));
        ExternRef { store_id: core.id, index: core.externrefs.len() - 1 }
    }

    /// The store this reference belongs to.
    pub(crate) fn store_id(&self) -> u64 {
        self.store_id
    }

    /// The raw slot form (index + 1; 0 is null).
    pub(crate) fn raw(&self) -> u128 {
        (self.index + 1) as u128
    }

    /// From the raw slot form: `None` for null.
    pub(crate) fn from_raw(store_id: u64, raw: u64) -> Option<ExternRef> {
        usize::try_from(raw).ok()?.checked_sub(1).map(|index| ExternRef { store_id, index })
    }

    /// The data behind the reference.
    #[must_use]
    pub fn data<'a, T>(&self, store: &'a StoreContext<T>) -> Option<&'a (dyn Any + Send + Sync)> {
        if store.core.id != self.store_id {
            return None;
        }
        store.core.externrefs.get(self.index).map(|b| &**b)
    }
}

/// A WebAssembly value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    /// i32.
    I32(i32),
    /// i64.
    I64(i64),
    /// f32, as raw bits (keeps NaN payloads).
    F32(u32),
    /// f64, as raw bits.
    F64(u64),
    /// v128.
    V128(u128),
    /// funcref (`None` = null).
    FuncRef(Option<Func>),
    /// externref (`None` = null).
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The type of this value.
    #[must_use]
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::V128(_) => ValType::V128,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// Whether this value is of type `ty` (reference subtyping included;
    /// concrete function types are engine-wide signature ids).
    pub(crate) fn matches(&self, core: &StoreCore, ty: ValType) -> bool {
        let Some(r) = ty.as_ref_type() else { return self.ty() == ty };
        match self {
            Val::FuncRef(None) => r.nullable && r.heap.is_func(),
            Val::ExternRef(None) => r.nullable && !r.heap.is_func(),
            Val::FuncRef(Some(f)) => match r.heap {
                HeapType::Func => true,
                HeapType::Concrete(id) => f.type_id(core) == Some(u64::from(id)),
                _ => false,
            },
            Val::ExternRef(Some(_)) => r.heap == HeapType::Extern,
            _ => false,
        }
    }

    /// The zero / null value of `ty` (for a non-nullable reference type,
    /// which has no default, the null of its hierarchy).
    #[must_use]
    pub fn default_for(ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
            ValType::Ref(r) if r.heap.is_func() => Val::FuncRef(None),
            ValType::Ref(_) => Val::ExternRef(None),
        }
    }

    /// The raw 16-byte slot representation.
    pub(crate) fn to_raw(self, core: &StoreCore) -> Result<u128> {
        Ok(match self {
            Val::I32(v) => u128::from(v.cast_unsigned()),
            Val::I64(v) => u128::from(v.cast_unsigned()),
            Val::F32(v) => u128::from(v),
            Val::F64(v) => u128::from(v),
            Val::V128(v) => v,
            Val::FuncRef(None) | Val::ExternRef(None) => 0,
            Val::FuncRef(Some(f)) => {
                if f.store_id() != core.id {
                    return Err(Error::Usage("function from another store".into()));
                }
                f.raw() as usize as u128
            }
            Val::ExternRef(Some(r)) => {
                if r.store_id != core.id {
                    return Err(Error::Usage("externref from another store".into()));
                }
                r.raw()
            }
        })
    }

    /// The value of type `ty` in a raw slot.
    #[expect(clippy::cast_possible_truncation, reason = "a raw slot holds the value in its low bits; truncating to the type's width is the decoding")]
    pub(crate) fn from_raw(raw: u128, ty: ValType, core: &StoreCore) -> Val {
        let low64 = (raw & u128::from(u64::MAX)) as u64;
        match ty {
            ValType::I32 => Val::I32((low64 as u32).cast_signed()),
            ValType::I64 => Val::I64(low64.cast_signed()),
            ValType::F32 => Val::F32(low64 as u32),
            ValType::F64 => Val::F64(low64),
            ValType::V128 => Val::V128(raw),
            ValType::FuncRef => Val::FuncRef(Func::from_raw(core, low64 as usize as *const _)),
            ValType::Ref(r) if r.heap.is_func() => Val::FuncRef(Func::from_raw(core, low64 as usize as *const _)),
            ValType::ExternRef | ValType::Ref(_) => Val::ExternRef(ExternRef::from_raw(core.id, low64)),
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}
