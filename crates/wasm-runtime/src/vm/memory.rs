//! Linear memory: one reservation per memory ([`Platform::reserve_memory`]),
//! pages made accessible on grow (committed then, or on first touch where
//! the platform pages on demand);
//! reservations of a module's memories are reused through a [`MemoryPool`]
//! when the platform can reset them.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::config::MemoryStrategy;
use crate::error::{Error, Result};
use crate::platform::{MemoryImage, Platform, Protection};
use crate::types::MemoryType;
use crate::vm::layout::VMMemoryDef;
use crate::vm::spin::SpinLock;

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
    /// Where the reservation goes when the memory is dropped, for the
    /// next instance of the same module memory.
    pool: Option<Arc<MemoryPool>>,
    /// Whether the module's memory image is already in place.
    pub image_applied: bool,
}

fn bytes(pages: u64) -> Result<usize> {
    usize::try_from(pages * WASM_PAGE).map_err(|_| Error::Resource("memory larger than the address space".into()))
}

/// The page limit and reservation size of a memory of type `ty`.
fn sizes(ty: MemoryType, strategy: MemoryStrategy, limit_pages: u64) -> Result<(u64, usize)> {
    let max_pages = ty.maximum.unwrap_or(MAX_PAGES).min(MAX_PAGES).min(limit_pages);
    if ty.minimum > max_pages {
        return Err(Error::Resource(alloc::format!("memory minimum of {} pages exceeds the limit of {max_pages}", ty.minimum)));
    }
    let reserved = match strategy {
        MemoryStrategy::GuardPages => {
            usize::try_from(GUARD_RESERVATION).map_err(|_| Error::Resource("address space too small for guard pages".into()))?
        }
        MemoryStrategy::BoundsChecks => bytes(max_pages.max(1))?,
    };
    Ok((max_pages, reserved))
}

impl LinearMemory {
    /// A memory of type `ty`, with at most `limit_pages` pages in this store.
    pub fn new(platform: Arc<dyn Platform>, ty: MemoryType, strategy: MemoryStrategy, limit_pages: u64) -> Result<Self> {
        let (max_pages, reserved) = sizes(ty, strategy, limit_pages)?;
        let base = platform.reserve_memory(reserved).map_err(|e| Error::Resource(alloc::format!("memory reservation: {e}")))?;
        let mut mem = LinearMemory {
            def: VMMemoryDef { base: base.as_ptr(), length_bytes: 0 },
            reserved,
            pages: 0,
            max_pages,
            platform,
            ty,
            pool: None,
            image_applied: false,
        };
        if mem.grow(ty.minimum).is_none() {
            return Err(Error::Resource("cannot commit initial memory".into()));
        }
        Ok(mem)
    }

    /// As [`LinearMemory::new`], reusing a reservation from `pool` when it
    /// has one of the right size; the memory returns there when dropped.
    pub fn from_pool(pool: &Arc<MemoryPool>, ty: MemoryType, strategy: MemoryStrategy, limit_pages: u64) -> Result<Self> {
        let (max_pages, reserved) = sizes(ty, strategy, limit_pages)?;
        let mut mem = match pool.take(reserved, ty.minimum) {
            Some(slot) => LinearMemory {
                def: VMMemoryDef { base: slot.base.as_ptr(), length_bytes: ty.minimum * WASM_PAGE },
                reserved,
                pages: ty.minimum,
                max_pages,
                platform: pool.platform.clone(),
                ty,
                pool: None,
                image_applied: slot.imaged,
            },
            None => Self::new(pool.platform.clone(), ty, strategy, limit_pages)?,
        };
        mem.pool = Some(pool.clone());
        Ok(mem)
    }

    /// Reset the memory to its initial state (contents as committed, size
    /// `ty.minimum`) for reuse; `false` if the platform cannot.
    fn reset(&mut self, base: NonNull<u8>) -> bool {
        let (Ok(len), Ok(initial)) = (usize::try_from(self.def.length_bytes), bytes(self.ty.minimum)) else { return false };
        // SAFETY: [base, base+len) is the committed part of our
        // reservation; the store (and all code using it) is being dropped.
        if unsafe { self.platform.discard(base, len) }.is_err() {
            return false;
        }
        if len > initial {
            let Some(grown) = NonNull::new(base.as_ptr().wrapping_add(initial)) else { return false };
            // SAFETY: as above; the pages past the initial size become
            // inaccessible again (their contents were just discarded).
            if unsafe { self.platform.protect(grown, len - initial, Protection::None) }.is_err() {
                return false;
            }
        }
        true
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
        if self.image_applied {
            return Ok(());
        }
        let len = image.bytes().len();
        let page = self.platform.page_size();
        if offset.checked_add(len).is_none_or(|end| end > self.len_bytes()) || !offset.is_multiple_of(page) {
            return Err(Error::Resource("memory image outside the memory".into()));
        }
        let dst = NonNull::new(self.def.base.wrapping_add(offset)).ok_or_else(|| Error::Resource("null memory".into()))?;
        // SAFETY: [offset, offset + len) is page-aligned, inside the
        // committed part of our reservation (checked above), and `&mut
        // self` means no Rust reference points into it.
        unsafe { self.platform.map_image(dst, image) }.map_err(|e| Error::Resource(alloc::format!("memory image: {e}")))?;
        self.image_applied = true;
        Ok(())
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
        let Some(base) = NonNull::new(self.def.base) else { return };
        if let Some(pool) = self.pool.take() {
            let slot = Slot { base, reserved: self.reserved, pages: self.ty.minimum, imaged: self.image_applied };
            if self.reset(base) && pool.put(slot) {
                return;
            }
        }
        // SAFETY: `base`/`reserved` are exactly our reservation, and the
        // store owning this memory (and all code using it) is being dropped.
        unsafe { self.platform.release(base, self.reserved) };
    }
}

// === impl MemoryPool ===

/// Reserved memories kept for reuse.
const POOL_SLOTS: usize = 4;

/// A reset reservation: its first `pages` pages committed and reading as
/// zero or (when `imaged`) as the module's image, the rest inaccessible.
#[derive(Debug, Clone, Copy)]
struct Slot {
    base: NonNull<u8>,
    reserved: usize,
    pages: u64,
    imaged: bool,
}

// SAFETY: a slot is an unused reservation owned by its pool; its address
// may be handed to a memory on any thread.
unsafe impl Send for Slot {}

/// Reservations of dropped memories of one module memory, reset and kept
/// for the next instance (at most [`POOL_SLOTS`]): instantiating then
/// costs no system call for that memory. Released when the pool goes
/// (with the module and its last memory).
#[derive(Debug)]
pub(crate) struct MemoryPool {
    platform: Arc<dyn Platform>,
    slots: SpinLock<Vec<Slot>>,
}

impl MemoryPool {
    /// An empty pool.
    pub fn new(platform: Arc<dyn Platform>) -> Self {
        MemoryPool { platform, slots: SpinLock::new(Vec::new()) }
    }

    fn take(&self, reserved: usize, pages: u64) -> Option<Slot> {
        self.slots.with(|s| {
            let i = s.iter().position(|x| x.reserved == reserved && x.pages == pages)?;
            Some(s.swap_remove(i))
        })
    }

    fn put(&self, slot: Slot) -> bool {
        self.slots.with(|s| {
            if s.len() < POOL_SLOTS && s.try_reserve(1).is_ok() {
                s.push(slot);
                true
            } else {
                false
            }
        })
    }
}

impl Drop for MemoryPool {
    fn drop(&mut self) {
        for slot in self.slots.with(core::mem::take) {
            // SAFETY: a pooled slot is a whole reservation nobody uses.
            unsafe { self.platform.release(slot.base, slot.reserved) };
        }
    }
}
