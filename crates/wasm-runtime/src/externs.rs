//! [`Extern`] and the store objects it can name: [`Memory`], [`Table`],
//! [`Global`] (functions are in `func`).

use alloc::boxed::Box;

use crate::error::{Error, Result};
use crate::func::Func;
use crate::store::{AsContextMut, StoreContext};
use crate::trap::{Trap, TrapCode};
use crate::types::{GlobalType, MemoryType, RefType, TableType};
use crate::values::Val;
use crate::vm::memory::LinearMemory;
use crate::vm::store::{GlobalObj, StoreCore};
use crate::vm::table::TableObj;

/// Something that can be imported or exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A linear memory.
    Memory(Memory),
    /// A table.
    Table(Table),
    /// A global.
    Global(Global),
}

impl From<Func> for Extern {
    fn from(f: Func) -> Self {
        Extern::Func(f)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Self {
        Extern::Memory(m)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Self {
        Extern::Table(t)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Self {
        Extern::Global(g)
    }
}

fn check(core: &StoreCore, id: u64) -> Result<()> {
    if core.id == id { Ok(()) } else { Err(Error::Usage("object from another store".into())) }
}

/// A linear memory handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Memory {
    /// A new memory in `store`.
    ///
    /// # Errors
    /// [`Error::Resource`] if the memory cannot be reserved.
    pub fn new(store: &mut impl AsContextMut, ty: MemoryType) -> Result<Memory> {
        let core = &mut store.as_context_mut().core;
        let mem = LinearMemory::new(core.engine.platform().clone(), ty, core.engine.config().memory_strategy, core.memory_limit_pages)?;
        core.memories.push(Box::new(mem));
        Ok(Memory { store_id: core.id, index: core.memories.len() - 1 })
    }

    fn get<'a, T>(&self, store: &'a StoreContext<T>) -> Result<&'a LinearMemory> {
        check(&store.core, self.store_id)?;
        Ok(&store.core.memories[self.index])
    }

    /// Size in pages.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn size<T>(&self, store: &StoreContext<T>) -> Result<u64> {
        Ok(self.get(store)?.pages())
    }

    /// The memory's type (current minimum).
    ///
    /// # Errors
    /// With a foreign store.
    pub fn ty<T>(&self, store: &StoreContext<T>) -> Result<MemoryType> {
        let m = self.get(store)?;
        Ok(MemoryType { minimum: m.pages(), maximum: m.ty.maximum })
    }

    /// Grow by `delta` pages, returning the old size.
    ///
    /// # Errors
    /// [`Error::Resource`] past the maximum or store limit.
    pub fn grow(&self, store: &mut impl AsContextMut, delta: u64) -> Result<u64> {
        let cx = store.as_context_mut();
        check(&cx.core, self.store_id)?;
        cx.core.memories[self.index].grow(delta).ok_or_else(|| Error::Resource("memory.grow failed".into()))
    }

    /// The memory's bytes.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn data<'a, T>(&self, store: &'a StoreContext<T>) -> Result<&'a [u8]> {
        Ok(self.get(store)?.data())
    }

    /// The memory's bytes, mutably.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn data_mut<'a, T>(&self, store: &'a mut StoreContext<T>) -> Result<&'a mut [u8]> {
        check(&store.core, self.store_id)?;
        Ok(store.core.memories[self.index].data_mut())
    }

    /// The memory's bytes and the store's data at once, so a host
    /// function can access guest memory and its own state together.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn data_and_store_mut<'a, T>(&self, store: &'a mut StoreContext<T>) -> Result<(&'a mut [u8], &'a mut T)> {
        check(&store.core, self.store_id)?;
        let (core, data) = store.split_mut();
        Ok((core.memories[self.index].data_mut(), data))
    }

    /// Copy `buf.len()` bytes at `offset` into `buf`.
    ///
    /// # Errors
    /// An out-of-bounds trap when the range does not fit.
    pub fn read<T>(&self, store: &StoreContext<T>, offset: usize, buf: &mut [u8]) -> Result<()> {
        let data = self.data(store)?;
        let src = offset.checked_add(buf.len()).and_then(|end| data.get(offset..end));
        buf.copy_from_slice(src.ok_or(Error::Trap(Trap::new(TrapCode::MemoryOutOfBounds)))?);
        Ok(())
    }

    /// Copy `buf` to `offset`.
    ///
    /// # Errors
    /// An out-of-bounds trap when the range does not fit.
    pub fn write<T>(&self, store: &mut StoreContext<T>, offset: usize, buf: &[u8]) -> Result<()> {
        let data = self.data_mut(store)?;
        let dst = offset.checked_add(buf.len()).and_then(|end| data.get_mut(offset..end));
        dst.ok_or(Error::Trap(Trap::new(TrapCode::MemoryOutOfBounds)))?.copy_from_slice(buf);
        Ok(())
    }
}

/// A table handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

fn ref_raw(core: &StoreCore, element: RefType, v: Val) -> Result<usize> {
    if v.matches(core, element.into()) {
        usize::try_from(v.to_raw(core)?).map_err(|_| Error::Usage("bad reference".into()))
    } else {
        Err(Error::Usage("value does not match the table's element type".into()))
    }
}

impl Table {
    /// A new table filled with `init`.
    ///
    /// # Errors
    /// [`Error::Usage`] if `init` has the wrong type, [`Error::Resource`] if too large.
    pub fn new(store: &mut impl AsContextMut, ty: TableType, init: Val) -> Result<Table> {
        let core = &mut store.as_context_mut().core;
        let raw = ref_raw(core, ty.element, init)?;
        let t = TableObj::new(ty, raw).ok_or_else(|| Error::Resource("table too large".into()))?;
        core.tables.push(Box::new(t));
        Ok(Table { store_id: core.id, index: core.tables.len() - 1 })
    }

    /// Current length.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn size<T>(&self, store: &StoreContext<T>) -> Result<u64> {
        check(&store.core, self.store_id)?;
        Ok(store.core.tables[self.index].len())
    }

    /// The table's type (current minimum).
    ///
    /// # Errors
    /// With a foreign store.
    pub fn ty<T>(&self, store: &StoreContext<T>) -> Result<TableType> {
        check(&store.core, self.store_id)?;
        let t = &store.core.tables[self.index];
        Ok(TableType { minimum: t.len(), ..t.ty })
    }

    /// Element `index`, or `None` if out of bounds.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn get<T>(&self, store: &StoreContext<T>, index: u64) -> Result<Option<Val>> {
        check(&store.core, self.store_id)?;
        let t = &store.core.tables[self.index];
        Ok(t.get(index).map(|raw| Val::from_raw(raw as u128, t.ty.element.into(), &store.core)))
    }

    /// Set element `index`.
    ///
    /// # Errors
    /// Out of bounds (a table trap), wrong type or foreign store.
    pub fn set<T>(&self, store: &mut StoreContext<T>, index: u64, v: Val) -> Result<()> {
        check(&store.core, self.store_id)?;
        let element = store.core.tables[self.index].ty.element;
        let raw = ref_raw(&store.core, element, v)?;
        store.core.tables[self.index].set(index, raw).ok_or(Error::Trap(Trap::new(TrapCode::TableOutOfBounds)))
    }

    /// Grow by `delta` elements of `init`, returning the old length.
    ///
    /// # Errors
    /// Past the maximum, wrong type or foreign store.
    pub fn grow<T>(&self, store: &mut StoreContext<T>, delta: u64, init: Val) -> Result<u64> {
        check(&store.core, self.store_id)?;
        let element = store.core.tables[self.index].ty.element;
        let raw = ref_raw(&store.core, element, init)?;
        store.core.tables[self.index].grow(delta, raw).ok_or_else(|| Error::Resource("table.grow failed".into()))
    }
}

/// A global handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Global {
    pub(crate) store_id: u64,
    pub(crate) index: usize,
}

impl Global {
    /// A new global.
    ///
    /// # Errors
    /// If `value` does not have type `ty.content`.
    pub fn new(store: &mut impl AsContextMut, ty: GlobalType, value: Val) -> Result<Global> {
        let core = &mut store.as_context_mut().core;
        if !value.matches(core, ty.content) {
            return Err(Error::Usage("global value of the wrong type".into()));
        }
        let raw = value.to_raw(core)?;
        core.globals.push(Box::new(GlobalObj::new(ty, raw)));
        Ok(Global { store_id: core.id, index: core.globals.len() - 1 })
    }

    /// The type.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn ty<T>(&self, store: &StoreContext<T>) -> Result<GlobalType> {
        check(&store.core, self.store_id)?;
        Ok(store.core.globals[self.index].ty)
    }

    /// The current value.
    ///
    /// # Errors
    /// With a foreign store.
    pub fn get<T>(&self, store: &StoreContext<T>) -> Result<Val> {
        check(&store.core, self.store_id)?;
        let g = &store.core.globals[self.index];
        Ok(Val::from_raw(g.get(), g.ty.content, &store.core))
    }

    /// Set the value of a mutable global.
    ///
    /// # Errors
    /// Immutable global, wrong type or foreign store.
    pub fn set<T>(&self, store: &mut StoreContext<T>, value: Val) -> Result<()> {
        check(&store.core, self.store_id)?;
        let ty = store.core.globals[self.index].ty;
        if !ty.mutable || !value.matches(&store.core, ty.content) {
            return Err(Error::Usage("global is immutable or value has the wrong type".into()));
        }
        let raw = value.to_raw(&store.core)?;
        store.core.globals[self.index].set(raw);
        Ok(())
    }
}
