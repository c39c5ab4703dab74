//! The engine-wide signature registry: every function type a module or
//! host function uses gets one id, shared by all stores of the engine, so
//! `call_indirect` compares ids and instantiation copies a module's ids
//! (computed once at `Module::new`) instead of interning its types in
//! every new store.
//!
//! Append-only: an id is never reused or freed (a registry holds one
//! entry per distinct signature ever seen by the engine).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::types::FuncType;
use crate::vm::spin::SpinLock;

#[derive(Default)]
struct Tables {
    ids: BTreeMap<FuncType, u64>,
    types: Vec<FuncType>,
}

/// Signature ids behind a spin lock (no_std: no OS mutex), held for one
/// lookup or insertion at a time.
#[derive(Default, Debug)]
pub(crate) struct TypeRegistry {
    tables: SpinLock<Tables>,
}

impl TypeRegistry {
    /// The id of `ty` (whose concrete type references are already ids).
    pub fn intern(&self, ty: &FuncType) -> u64 {
        self.tables.with(|t| {
            if let Some(id) = t.ids.get(ty) {
                return *id;
            }
            let id = t.types.len() as u64;
            t.types.push(ty.clone());
            t.ids.insert(ty.clone(), id);
            id
        })
    }

    /// The ids of a module's types, in type order. A signature may name
    /// earlier types (typed function references); those indices are
    /// rewritten to ids first, so two modules' types get the same id
    /// exactly when they are structurally the same.
    pub fn intern_module(&self, types: &[FuncType]) -> Vec<u64> {
        let mut ids: Vec<u64> = Vec::with_capacity(types.len());
        for ty in types {
            // The parser rejects forward and self references, so every
            // index named here is already mapped; u32::MAX is never an id.
            let canonical = ty.map_concrete(&|i| ids.get(i as usize).and_then(|id| u32::try_from(*id).ok()).unwrap_or(u32::MAX));
            ids.push(self.intern(&canonical));
        }
        ids
    }

    /// The signature with id `id`.
    pub fn get(&self, id: u64) -> Option<FuncType> {
        self.tables.with(|t| t.types.get(usize::try_from(id).ok()?).cloned())
    }
}
