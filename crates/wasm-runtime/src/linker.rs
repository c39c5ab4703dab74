//! [`Linker`]: resolves imports by (module, name) from host functions and
//! registered externs/instances.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::externs::Extern;
use crate::func::{Caller, Func, HostFn};
use crate::instance::Instance;
use crate::module::Module;
use crate::store::AsContextMut;
use crate::trap::Trap;
use crate::types::FuncType;
use crate::values::Val;

enum Definition<T> {
    Extern(Extern),
    HostFunc(FuncType, HostFn<T>),
}

/// Import resolution by name.
pub struct Linker<T> {
    defs: BTreeMap<(String, String), Definition<T>>,
}

impl<T> core::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.defs.keys()).finish()
    }
}

impl<T> Default for Linker<T> {
    fn default() -> Self {
        Linker { defs: BTreeMap::new() }
    }
}

impl<T: 'static> Linker<T> {
    /// An empty linker.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Define `module::name` as `item` (replacing any earlier definition).
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> &mut Self {
        self.defs.insert((module.to_string(), name.to_string()), Definition::Extern(item.into()));
        self
    }

    /// Define a host function; a fresh [`Func`] is created in each store
    /// that instantiates through this linker.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync + 'static,
    ) -> &mut Self {
        self.defs.insert((module.to_string(), name.to_string()), Definition::HostFunc(ty, Arc::new(f)));
        self
    }

    /// Define an async host function (see [`Func::new_async`]); usable
    /// from [`Func::call_async`] calls.
    pub fn func_new_async<F>(&mut self, module: &str, name: &str, ty: FuncType, f: F) -> &mut Self
    where
        F: for<'a> Fn(Caller<'a, T>, &'a [Val], &'a mut [Val]) -> crate::func_async::HostFuture<'a> + Send + Sync + 'static,
    {
        self.defs
            .insert((module.to_string(), name.to_string()), Definition::HostFunc(ty, crate::func_async::async_host_fn(f)));
        self
    }

    /// Define every export of `instance` under module name `module`.
    pub fn instance(&mut self, store: &mut impl AsContextMut<Data = T>, module: &str, instance: Instance) -> &mut Self {
        for (name, item) in instance.exports(store) {
            self.define(module, &name, item);
        }
        self
    }

    /// Look a definition up (materialising host functions in `store`).
    ///
    /// # Errors
    /// If a host function's trampoline cannot be built.
    pub fn get(&self, store: &mut impl AsContextMut<Data = T>, module: &str, name: &str) -> Result<Option<Extern>> {
        match self.defs.get(&(module.to_string(), name.to_string())) {
            None => Ok(None),
            Some(Definition::Extern(e)) => Ok(Some(*e)),
            Some(Definition::HostFunc(ty, f)) => {
                Ok(Some(Extern::Func(Func::from_host_fn(store.as_context_mut(), ty.clone(), f.clone())?)))
            }
        }
    }

    /// Resolve `module`'s imports and instantiate it.
    ///
    /// # Errors
    /// [`Error::Link`] for an unknown import, otherwise as [`Instance::new`].
    pub fn instantiate(&self, store: &mut impl AsContextMut<Data = T>, module: &Module) -> Result<Instance> {
        let mut imports = Vec::new();
        for (m, n, _) in module.imports() {
            let e = self.get(store, m, n)?.ok_or_else(|| Error::Link(alloc::format!("unknown import `{m}::{n}`")))?;
            imports.push(e);
        }
        Instance::new(store, module, &imports)
    }
}
