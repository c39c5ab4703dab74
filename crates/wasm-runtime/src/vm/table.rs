//! Tables: a growable vector of `usize` references.

use alloc::vec::Vec;

use crate::types::TableType;
use crate::vm::layout::VMTableDef;

/// Upper bound on table length in one store (10 million elements).
pub(crate) const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table owned by a store.
#[derive(Debug)]
pub(crate) struct TableObj {
    /// What compiled code reads; kept in sync with `elements`.
    pub def: VMTableDef,
    elements: Vec<usize>,
    pub ty: TableType,
}

impl TableObj {
    /// A table of `ty.minimum` copies of `init`; `None` if too large.
    pub fn new(ty: TableType, init: usize) -> Option<Self> {
        let mut t = TableObj {
            def: VMTableDef { base: core::ptr::null_mut(), length: 0 },
            elements: Vec::new(),
            ty,
        };
        t.grow(ty.minimum, init)?;
        Some(t)
    }

    fn sync(&mut self) {
        self.def.base = self.elements.as_mut_ptr();
        self.def.length = self.elements.len() as u64;
    }

    /// Current length.
    pub fn len(&self) -> u64 {
        self.elements.len() as u64
    }

    /// Grow by `delta` copies of `init`; old length or `None`.
    pub fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        let old = self.len();
        let new = old.checked_add(delta)?;
        if new > self.ty.maximum.unwrap_or(u64::from(u32::MAX)) || new > MAX_TABLE_ELEMENTS {
            return None;
        }
        let new_len = usize::try_from(new).ok()?;
        self.elements.try_reserve(new_len - self.elements.len()).ok()?;
        self.elements.resize(new_len, init);
        self.sync();
        Some(old)
    }

    /// Element `index`.
    pub fn get(&self, index: u64) -> Option<usize> {
        self.elements.get(usize::try_from(index).ok()?).copied()
    }

    /// Set element `index`; `None` if out of bounds.
    pub fn set(&mut self, index: u64, value: usize) -> Option<()> {
        *self.elements.get_mut(usize::try_from(index).ok()?)? = value;
        Some(())
    }

    /// All elements, mutably.
    pub fn elements_mut(&mut self) -> &mut [usize] {
        &mut self.elements
    }

    /// All elements.
    pub fn elements(&self) -> &[usize] {
        &self.elements
    }
}
