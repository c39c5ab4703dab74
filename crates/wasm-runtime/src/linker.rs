//! [`Linker`]: resolves imports by (module, name) from host functions and
//! registered externs/instances.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::externs::Extern;
use crate::func::{Caller, Func, HostDef, HostFn, IntoFunc};
use crate::instance::Instance;
use crate::module::Module;
use crate::store::AsContextMut;
use crate::trap::Trap;
use crate::types::FuncType;
use crate::values::Val;

enum Definition<T> {
    Extern(Extern),
    Host(HostDef<T>),
}

/// Import resolution by name.
pub struct Linker<T> {
    /// Module name -> field name -> definition (two levels, so lookups
    /// borrow the names instead of building a key).
    defs: BTreeMap<String, BTreeMap<String, Definition<T>>>,
}

impl<T> core::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.defs.iter().flat_map(|(m, names)| names.keys().map(move |n| (m, n)))).finish()
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

    fn insert(&mut self, module: &str, name: &str, def: Definition<T>) -> &mut Self {
        self.defs.entry(module.to_string()).or_default().insert(name.to_string(), def);
        self
    }

    /// Define `module::name` as `item` (replacing any earlier definition).
    pub fn define(&mut self, module: &str, name: &str, item: impl Into<Extern>) -> &mut Self {
        self.insert(module, name, Definition::Extern(item.into()))
    }

    /// Define a host function with dynamically typed parameters and
    /// results; a fresh [`Func`] is created in each store that
    /// instantiates through this linker. [`Linker::func_wrap`] is the
    /// faster, typed form.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync + 'static,
    ) -> &mut Self {
        let f: HostFn<T> = Arc::new(f);
        self.insert(module, name, Definition::Host(HostDef::dynamic(ty, f)))
    }

    /// Define a host function from a typed Rust closure (see
    /// [`Func::wrap`]): arguments and results cross without allocation.
    ///
    /// ```
    /// # use hypha_wasm::*;
    /// let mut linker = Linker::<u64>::new();
    /// linker.func_wrap("env", "add", |mut caller: Caller<'_, u64>, a: i64, b: i64| -> Result<i64, Trap> {
    ///     *caller.data_mut() += 1;
    ///     a.checked_add(b).ok_or_else(|| Trap::host("overflow"))
    /// });
    /// ```
    pub fn func_wrap<Params, Results>(&mut self, module: &str, name: &str, f: impl IntoFunc<T, Params, Results>) -> &mut Self {
        self.insert(module, name, Definition::Host(f.into_host_def().0))
    }

    /// Define an async host function (see [`Func::new_async`]); usable
    /// from [`Func::call_async`] calls.
    pub fn func_new_async<F>(&mut self, module: &str, name: &str, ty: FuncType, f: F) -> &mut Self
    where
        F: for<'a> Fn(Caller<'a, T>, &'a [Val], &'a mut [Val]) -> crate::func_async::HostFuture<'a> + Send + Sync + 'static,
    {
        self.insert(module, name, Definition::Host(HostDef::dynamic(ty, crate::func_async::async_host_fn(f))))
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
        match self.defs.get(module).and_then(|names| names.get(name)) {
            None => Ok(None),
            Some(Definition::Extern(e)) => Ok(Some(*e)),
            Some(Definition::Host(def)) => Ok(Some(Extern::Func(Func::from_host_def(store.as_context_mut(), def)?))),
        }
    }

    /// Resolve `module`'s imports and instantiate it.
    ///
    /// # Errors
    /// [`Error::Link`] for an unknown import, otherwise as [`Instance::new`].
    pub fn instantiate(&self, store: &mut impl AsContextMut<Data = T>, module: &Module) -> Result<Instance> {
        let mut imports = Vec::with_capacity(module.info().imports.len());
        for import in &module.info().imports {
            let (m, n) = (import.module.as_str(), import.name.as_str());
            let e = self.get(store, m, n)?.ok_or_else(|| Error::Link(alloc::format!("unknown import `{m}::{n}`")))?;
            imports.push(e);
        }
        Instance::new(store, module, &imports)
    }
}
