//! [`Store`]: owns instances and their objects, plus the embedder's data.

use alloc::boxed::Box;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::vm::store::EpochPolicy;
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

    // === epochs ===

    /// Interrupt wasm once the engine's epoch reaches
    /// `current epoch + ticks_beyond_current`. Until this is first called
    /// the deadline is "never". Only effective with
    /// [`Config::epoch_interruption`](crate::Config::epoch_interruption).
    pub fn set_epoch_deadline(&mut self, ticks_beyond_current: u64) {
        let now = self.core.engine.current_epoch();
        self.core.limits.epoch_deadline = now.saturating_add(ticks_beyond_current);
    }

    /// When the deadline passes, trap with [`TrapCode::Interrupt`]
    /// (`"interrupt"`). The default.
    ///
    /// [`TrapCode::Interrupt`]: crate::TrapCode::Interrupt
    pub fn epoch_deadline_trap(&mut self) {
        self.core.epoch_policy = EpochPolicy::Trap;
    }

    /// When the deadline passes inside [`Func::call_async`], yield: the
    /// call's future wakes its task and returns `Pending`; when the call is
    /// polled again and the guest resumes, the deadline moves to `epoch at
    /// the resume + delta` (Wasmtime counts from the yield instead, which
    /// starves a store that waits in a run queue longer than `delta`
    /// epochs). A synchronous call still traps.
    ///
    /// [`Func::call_async`]: crate::Func::call_async
    pub fn epoch_deadline_async_yield_and_update(&mut self, delta: u64) {
        self.core.epoch_policy = EpochPolicy::Yield { delta };
    }

    // === fuel ===

    fn fuel_enabled(&self) -> Result<()> {
        if self.core.engine.config().consume_fuel {
            Ok(())
        } else {
            Err(Error::Usage("fuel is not enabled (Config::consume_fuel)".into()))
        }
    }

    /// Give the store exactly `fuel` units (replacing what was left). Each
    /// executed wasm operator costs one unit (`nop`, `block`, `loop`,
    /// `end`, `else`: zero); running out traps with [`TrapCode::OutOfFuel`]
    /// (`"all fuel consumed"`).
    ///
    /// # Errors
    /// [`Error::Usage`] unless [`Config::consume_fuel`](crate::Config::consume_fuel) is on.
    ///
    /// [`TrapCode::OutOfFuel`]: crate::TrapCode::OutOfFuel
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.fuel_enabled()?;
        let slice = self.core.fuel_yield_interval.map_or(fuel, |s| s.min(fuel));
        self.core.fuel_reserve = fuel - slice;
        self.core.limits.fuel_consumed = -i64::try_from(slice).unwrap_or(i64::MAX);
        Ok(())
    }

    /// Fuel left. Fuel is counted per basic block, so between checks the
    /// store may overshoot by the length of one block; what is left never
    /// goes below zero.
    ///
    /// # Errors
    /// [`Error::Usage`] unless fuel is enabled.
    pub fn get_fuel(&self) -> Result<u64> {
        self.fuel_enabled()?;
        let in_slice = u64::try_from(self.core.limits.fuel_consumed.saturating_neg()).unwrap_or(0);
        Ok(self.core.fuel_reserve.saturating_add(in_slice))
    }

    /// Inside [`Func::call_async`], hand fuel out in slices of `interval`
    /// units and yield (the future returns `Pending` after waking its task)
    /// each time a slice is used up, until all fuel is gone; then trap.
    /// `None` (the default): no yields. Applies from the next
    /// [`set_fuel`](Self::set_fuel) on.
    ///
    /// # Errors
    /// [`Error::Usage`] unless fuel is enabled, or for a zero interval.
    ///
    /// [`Func::call_async`]: crate::Func::call_async
    pub fn fuel_async_yield_interval(&mut self, interval: Option<u64>) -> Result<()> {
        self.fuel_enabled()?;
        if interval == Some(0) {
            return Err(Error::Usage("fuel yield interval must be non-zero".into()));
        }
        self.core.fuel_yield_interval = interval;
        Ok(())
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
