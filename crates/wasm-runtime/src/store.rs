//! [`Store`]: owns instances and their objects, plus the embedder's data.

use alloc::boxed::Box;

use crate::engine::Engine;
use crate::vm::store::StoreCore;

/// A store: every instance, memory, table, global and function created in
/// it lives until the store is dropped.
pub struct Store<T> {
    inner: Box<StoreContext<T>>,
}

/// The heap-allocated body of a [`Store`], also what a host function's
/// [`crate::Caller`] reaches. Stays at one address for the store's life.
pub struct StoreContext<T> {
    pub(crate) core: StoreCore,
    data: T,
}

impl<T> core::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store").field("core", &self.inner.core).finish_non_exhaustive()
    }
}

impl<T> core::fmt::Debug for StoreContext<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreContext").field("core", &self.core).finish_non_exhaustive()
    }
}

impl<T> Store<T> {
    /// A new, empty store.
    pub fn new(engine: &Engine, data: T) -> Self {
        Store { inner: Box::new(StoreContext { core: StoreCore::new(engine.clone()), data }) }
    }
}

impl<T> core::ops::Deref for Store<T> {
    type Target = StoreContext<T>;
    fn deref(&self) -> &StoreContext<T> {
        &self.inner
    }
}

impl<T> core::ops::DerefMut for Store<T> {
    fn deref_mut(&mut self) -> &mut StoreContext<T> {
        &mut self.inner
    }
}

impl<T> StoreContext<T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// The runtime's part and the embedder's data, borrowed separately.
    pub(crate) fn split_mut(&mut self) -> (&mut StoreCore, &mut T) {
        (&mut self.core, &mut self.data)
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.core.engine
    }

    /// Cap every memory of this store at `pages` 64 KiB pages (applies to
    /// memories created afterwards). `memory.grow` past it returns -1.
    pub fn set_memory_limit_pages(&mut self, pages: u64) {
        self.core.memory_limit_pages = pages;
    }
}

/// Anything that gives mutable access to a store: [`Store`],
/// [`StoreContext`] or a host function's [`crate::Caller`].
pub trait AsContextMut {
    /// The embedder data type.
    type Data: 'static;
    /// The store body.
    fn as_context_mut(&mut self) -> &mut StoreContext<Self::Data>;
}

impl<T: 'static> AsContextMut for Store<T> {
    type Data = T;
    fn as_context_mut(&mut self) -> &mut StoreContext<T> {
        &mut self.inner
    }
}

impl<T: 'static> AsContextMut for StoreContext<T> {
    type Data = T;
    fn as_context_mut(&mut self) -> &mut StoreContext<T> {
        self
    }
}

impl<S: AsContextMut> AsContextMut for &mut S {
    type Data = S::Data;
    fn as_context_mut(&mut self) -> &mut StoreContext<S::Data> {
        (**self).as_context_mut()
    }
}
