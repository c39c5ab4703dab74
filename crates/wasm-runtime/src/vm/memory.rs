//! Linear memory: one reservation per memory, pages committed on grow.

use alloc::sync::Arc;
use core::ptr::NonNull;

use crate::config::MemoryStrategy;
use crate::error::{Error, Result};
use crate::platform::{MemoryImage, Platform, Protection};
use crate::types::MemoryType;
use crate::vm::layout::VMMemoryDef;

/// Bytes in a wasm page.
pub(crate) const WASM_PAGE: u64 = 65536;
/// Pages addressable by a 32-bit memory.
pub(crate) const MAX_PAGES: u64 = 65536;
/// Guard-page strategy reservation: 4 GiB of index space, 4 GiB of guard
/// for static offsets, plus one page for the widest access past both.
const GUARD_RESERVATION: u64 = 8 * (1 << 30) + WASM_PAGE;

/// A linear memory owned by a store.
#[derive(Debug)]
pub(crate) struct LinearMemory {
    /// What compiled code reads. Boxed with the memory so its address is stable.
    pub def: VMMemoryDef,
    reserved: usize,
    pages: u64,
    max_pages: u64,
    platform: Arc<dyn Platform>,
    pub ty: MemoryType,
}

fn bytes(pages: u64) -> Result<usize> {
    usize::try_from(pages * WASM_PAGE).map_err(|_| Error::Resource("memory larger than the address space".into()))
}

impl LinearMemory {
    /// A memory of type `ty`, with at most `limit_pages` pages in this store.
    pub fn new(platform: Arc<dyn Platform>, ty: MemoryType, strategy: MemoryStrategy, limit_pages: u64) -> Result<Self> {
        let max_pages = ty.maximum.unwrap_or(MAX_PAGES).min(MAX_PAGES).min(limit_pages);
        if ty.minimum > max_pages {
            return Err(Error::Resource(alloc::format!(
                "memory minimum of {} pages exceeds the limit of {max_pages}",
                ty.minimum
            )));
        }
        let reserved = match strategy {
            MemoryStrategy::GuardPages => usize::try_from(GUARD_RESERVATION)
                .map_err(|_| Error::Resource("address space too small for guard pages".into()))?,
            MemoryStrategy::BoundsChecks => bytes(max_pages.max(1))?,
        };
        let base = platform.reserve(reserved).map_err(|e| Error::Resource(alloc::format!("memory reservation: {e}")))?;
        let mut mem = LinearMemory {
            def: VMMemoryDef { base: base.as_ptr(), length_bytes: 0 },
            reserved,
            pages: 0,
            max_pages,
            platform,
            ty,
        };
        if mem.grow(ty.minimum).is_none() {
            return Err(Error::Resource("cannot commit initial memory".into()));
        }
        Ok(mem)
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Current size in bytes.
    pub fn len_bytes(&self) -> usize {
        // length_bytes <= 4 GiB, which fits the reservation we made.
        usize::try_from(self.def.length_bytes).unwrap_or(0)
    }

    /// Grow by `delta` pages; the old size, or `None` if over a limit or
    /// out of memory.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages;
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        if delta > 0 {
            let start = bytes(old).ok()?;
            let len = bytes(delta).ok()?;
            let ptr = NonNull::new(self.def.base.wrapping_add(start))?;
            // SAFETY: [start, start+len) lies within our reservation because
            // new <= max_pages, whose bytes fit the reservation; no Rust
            // reference points into the not-yet-committed range.
            unsafe { self.platform.protect(ptr, len, Protection::ReadWrite) }.ok()?;
        }
        self.pages = new;
        self.def.length_bytes = new * WASM_PAGE;
        Some(old)
    }

    /// Give `[offset, offset + image len)` the image's contents (mapped
    /// copy-on-write where the platform can).
    ///
    /// # Errors
    /// [`Error::Resource`] if the window is outside the memory or the
    /// platform cannot map it.
    pub fn apply_image(&mut self, offset: usize, image: &MemoryImage) -> Result<()> {
        let len = image.bytes().len();
        let page = self.platform.page_size();
        if offset.checked_add(len).is_none_or(|end| end > self.len_bytes()) || !offset.is_multiple_of(page) {
            return Err(Error::Resource("memory image outside the memory".into()));
        }
        let dst = NonNull::new(self.def.base.wrapping_add(offset)).ok_or_else(|| Error::Resource("null memory".into()))?;
        // SAFETY: [offset, offset + len) is page-aligned, inside the
        // committed part of our reservation (checked above), and `&mut
        // self` means no Rust reference points into it.
        unsafe { self.platform.map_image(dst, image) }.map_err(|e| Error::Resource(alloc::format!("memory image: {e}")))
    }

    /// The accessible bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: [base, base+len) is committed read-write memory owned by
        // this object; the shared borrow of self prevents concurrent grow.
        unsafe { core::slice::from_raw_parts(self.def.base, self.len_bytes()) }
    }

    /// The accessible bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, with exclusive access through &mut self.
        unsafe { core::slice::from_raw_parts_mut(self.def.base, self.len_bytes()) }
    }
}

impl Drop for LinearMemory {
    fn drop(&mut self) {
        if let Some(base) = NonNull::new(self.def.base) {
            // SAFETY: `base`/`reserved` are exactly our reservation, and the
            // store owning this memory (and all code using it) is being dropped.
            unsafe { self.platform.release(base, self.reserved) };
        }
    }
}
