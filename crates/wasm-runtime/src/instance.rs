//! [`Instance`]: an instantiated module in a store.

use alloc::string::String;
use alloc::vec::Vec;

use crate::compile::info::EntityIndex;
use crate::error::{Error, Result};
use crate::externs::{Extern, Global, Memory, Table};
use crate::func::Func;
use crate::module::Module;
use crate::store::{AsContextMut, StoreContext};
use crate::vm::instance::{ResolvedImport, instantiate};
use crate::vm::store::StoreCore;

/// An instance handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    store_id: u64,
    index: usize,
}

fn resolve(core: &StoreCore, e: &Extern) -> Result<ResolvedImport> {
    let (id, r) = match *e {
        Extern::Func(f) => (f.store_id(), ResolvedImport::Func(f.raw())),
        Extern::Memory(m) => (m.store_id, ResolvedImport::Memory(m.index)),
        Extern::Table(t) => (t.store_id, ResolvedImport::Table(t.index)),
        Extern::Global(g) => (g.store_id, ResolvedImport::Global(g.index)),
    };
    if id == core.id { Ok(r) } else { Err(Error::Usage("import from another store".into())) }
}

impl Instance {
    /// Instantiate `module` with `imports` in import order, then run its
    /// start function.
    ///
    /// # Errors
    /// [`Error::Link`] for missing or mistyped imports, [`Error::Trap`] if a
    /// segment initialiser or the start function traps.
    pub fn new<T: 'static>(store: &mut impl AsContextMut<Data = T>, module: &Module, imports: &[Extern]) -> Result<Instance> {
        let cx = store.as_context_mut();
        if !module.engine().same(&cx.core.engine) {
            return Err(Error::Usage("module compiled by a different engine".into()));
        }
        let resolved = imports.iter().map(|e| resolve(&cx.core, e)).collect::<Result<Vec<_>>>()?;
        let index = instantiate(&mut cx.core, module, &resolved)?;
        let instance = Instance { store_id: cx.core.id, index };
        if let Some(start) = module.info().start {
            let f = Func::from_raw(&cx.core, cx.core.instances[index].funcs[start as usize])
                .ok_or_else(|| Error::Usage("start function missing".into()))?;
            f.call(cx, &[], &mut [])?;
        }
        Ok(instance)
    }

    pub(crate) fn from_index(core: &StoreCore, index: usize) -> Instance {
        Instance { store_id: core.id, index }
    }

    /// The export called `name`.
    pub fn get_export(&self, store: &mut impl AsContextMut, name: &str) -> Option<Extern> {
        let core = &store.as_context_mut().core;
        if core.id != self.store_id {
            return None;
        }
        let inst = &core.instances[self.index];
        let (_, entity) = inst.module.info().exports.iter().find(|(n, _)| n == name)?;
        Self::extern_of(core, self.index, *entity)
    }

    fn extern_of(core: &StoreCore, index: usize, entity: EntityIndex) -> Option<Extern> {
        let inst = &core.instances[index];
        Some(match entity {
            EntityIndex::Func(f) => Extern::Func(Func::from_raw(core, inst.funcs[f as usize])?),
            EntityIndex::Memory(m) => Extern::Memory(Memory { store_id: core.id, index: inst.memories[m as usize] }),
            EntityIndex::Table(t) => Extern::Table(Table { store_id: core.id, index: inst.tables[t as usize] }),
            EntityIndex::Global(g) => Extern::Global(Global { store_id: core.id, index: inst.globals[g as usize] }),
        })
    }

    /// All exports, in order.
    pub fn exports(&self, store: &mut impl AsContextMut) -> Vec<(String, Extern)> {
        let core = &store.as_context_mut().core;
        if core.id != self.store_id {
            return Vec::new();
        }
        let inst = &core.instances[self.index];
        inst.module.info().exports.iter().filter_map(|(n, e)| Some((n.clone(), Self::extern_of(core, self.index, *e)?))).collect()
    }

    /// The exported function `name`.
    pub fn get_func(&self, store: &mut impl AsContextMut, name: &str) -> Option<Func> {
        match self.get_export(store, name)? {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The exported memory `name`.
    pub fn get_memory(&self, store: &mut impl AsContextMut, name: &str) -> Option<Memory> {
        match self.get_export(store, name)? {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The exported global `name`.
    pub fn get_global(&self, store: &mut impl AsContextMut, name: &str) -> Option<Global> {
        match self.get_export(store, name)? {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The exported table `name`.
    pub fn get_table(&self, store: &mut impl AsContextMut, name: &str) -> Option<Table> {
        match self.get_export(store, name)? {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The exported function `name` with static types.
    ///
    /// # Errors
    /// [`Error::Link`] if missing, [`Error::Usage`] if the types differ.
    pub fn get_typed_func<P: crate::func::WasmParams, R: crate::func::WasmResults, T: 'static>(
        &self,
        store: &mut StoreContext<T>,
        name: &str,
    ) -> Result<crate::func::TypedFunc<P, R>> {
        let f = self.get_func(store, name).ok_or_else(|| Error::Link(alloc::format!("no exported function `{name}`")))?;
        f.typed(store)
    }
}
