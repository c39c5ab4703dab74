//! [`Reservation`]: a named range of kernel address space whose pages are
//! committed (backed by fresh zeroed frames), decommitted and protected on
//! demand: what a WebAssembly linear memory or a code arena needs. A
//! demand-zero reservation ([`Reservation::new_demand_zero`]) only moves an
//! accessibility watermark; its pages are committed by the page-fault path
//! on first touch (`demand.rs`).

use super::{MemError, demand, space};
use hypha_kmem::{PAGE_SIZE, PageFlags, Region, RegionKind, VirtAddr, align_up};

/// A reserved range of kernel address space. Nothing is mapped until
/// [`commit`](Self::commit); dropping it unmaps and frees whatever is
/// committed and releases the range.
#[derive(Debug)]
pub struct Reservation {
    region: Region,
    /// Registered as a demand-zero area (pages committed on first touch).
    demand: bool,
}

impl Reservation {
    /// Reserves `len` bytes (rounded up to pages) of kernel address space.
    /// `flags` are the permissions committed pages get by default (W and X
    /// never together).
    ///
    /// # Errors
    ///
    /// [`MemError::InvalidSize`] for 0, [`MemError::OutOfAddressSpace`]
    /// when no gap fits, [`MemError::Region`] for invalid flags.
    pub fn new(
        len: usize,
        flags: PageFlags,
        kind: RegionKind,
        name: &'static str,
    ) -> Result<Self, MemError> {
        if len == 0 {
            return Err(MemError::InvalidSize);
        }
        let len = align_up(len, PAGE_SIZE).ok_or(MemError::InvalidSize)?;
        let region = space::reserve(len, flags.union(PageFlags::GLOBAL), kind, name, 0)?;
        Ok(Self { region, demand: false })
    }

    /// Reserves `len` bytes (rounded up to pages) of kernel address space
    /// whose pages, once made accessible with
    /// [`make_accessible`](Self::make_accessible), are committed read-write
    /// one at a time when first touched. Falls back to an ordinary
    /// reservation (committed by `make_accessible`) when the demand-zero
    /// table is full; [`is_demand_zero`](Self::is_demand_zero) tells.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn new_demand_zero(len: usize, kind: RegionKind, name: &'static str) -> Result<Self, MemError> {
        let mut reservation = Self::new(len, PageFlags::READ_WRITE, kind, name)?;
        reservation.demand = demand::register(reservation.region.start.as_usize(), reservation.region.len);
        Ok(reservation)
    }

    /// Whether pages are committed on first touch.
    #[must_use]
    pub fn is_demand_zero(&self) -> bool {
        self.demand
    }

    /// Makes `[offset, offset + len)` usable read-write: for a demand-zero
    /// reservation without committing anything (the range must start at
    /// or below what is accessible already), else by committing it.
    ///
    /// # Errors
    ///
    /// [`MemError::InvalidSize`] for a misaligned or out-of-range request
    /// (or a gap above the accessible part); as [`commit`](Self::commit)
    /// for an ordinary reservation.
    pub fn make_accessible(&mut self, offset: usize, len: usize) -> Result<(), MemError> {
        self.range(offset, len)?;
        if self.demand {
            demand::make_accessible(self.region.start.as_usize(), offset, len)
        } else {
            self.commit(offset, len)
        }
    }

    /// First address.
    #[must_use]
    pub fn start(&self) -> VirtAddr {
        self.region.start
    }

    /// Length in bytes.
    #[must_use]
    pub fn len_bytes(&self) -> usize {
        self.region.len
    }

    /// `[start + offset, +len)` as an address, if it is page aligned and
    /// inside the reservation.
    fn range(&self, offset: usize, len: usize) -> Result<VirtAddr, MemError> {
        let end = offset.checked_add(len).ok_or(MemError::InvalidSize)?;
        if len == 0
            || end > self.region.len
            || !offset.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
        {
            return Err(MemError::InvalidSize);
        }
        Ok(VirtAddr::new(self.region.start.as_usize() + offset))
    }

    /// Backs `[offset, offset + len)` with fresh zeroed frames, mapped with
    /// the reservation's flags.
    ///
    /// # Errors
    ///
    /// [`MemError::InvalidSize`] for a misaligned or out-of-range request,
    /// [`MemError::Map`] if part of it is already committed,
    /// [`MemError::OutOfMemory`]; [`MemError::CommitsOnTouch`] for a
    /// demand-zero reservation. Nothing is committed on error.
    pub fn commit(&mut self, offset: usize, len: usize) -> Result<(), MemError> {
        let va = self.range(offset, len)?;
        if self.demand {
            return Err(MemError::CommitsOnTouch);
        }
        space::map_new_memory(va, len, self.region.flags)
    }

    /// Unmaps and frees whatever is committed in `[offset, offset + len)`.
    ///
    /// # Safety
    ///
    /// Nothing uses that memory any more (no reference into it survives).
    ///
    /// # Errors
    ///
    /// [`MemError::InvalidSize`] for a misaligned or out-of-range request,
    /// [`MemError::OutOfMemory`] if splitting a large page needs a frame.
    pub unsafe fn decommit(&mut self, offset: usize, len: usize) -> Result<(), MemError> {
        let va = self.range(offset, len)?;
        if self.demand {
            // SAFETY: forwarded from the caller.
            return unsafe { demand::make_inaccessible(self.region.start.as_usize(), offset, len) };
        }
        // SAFETY: the range lies in this reservation, whose pages were
        // mapped only by `commit` (fresh frames owned by it), and the
        // caller guarantees nothing uses them.
        unsafe { space::unmap_present_and_free(va, len) }.map(|_| ())
    }

    /// Changes the permissions of committed pages in `[offset, offset + len)`.
    ///
    /// # Safety
    ///
    /// Removing a permission must not break code relying on it (only code
    /// prepared for the fault may still use the old permission).
    ///
    /// # Errors
    ///
    /// [`MemError::InvalidSize`], [`MemError::Map`] if part of the range is
    /// not committed or the flags are invalid, [`MemError::OutOfMemory`].
    pub unsafe fn protect(
        &mut self,
        offset: usize,
        len: usize,
        flags: PageFlags,
    ) -> Result<(), MemError> {
        let va = self.range(offset, len)?;
        if flags.contains(PageFlags::WRITE) && flags.contains(PageFlags::EXECUTE) {
            return Err(MemError::Region(hypha_kmem::RegionError::WriteAndExecute));
        }
        // SAFETY: forwarded from the caller.
        unsafe { space::protect(va, len, flags.union(PageFlags::GLOBAL)) }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.demand {
            // No page is mapped by a fault after this.
            demand::unregister(self.region.start.as_usize());
        }
        // SAFETY: the reservation is being dropped by its owner, so nothing
        // uses its pages; they were mapped only by `commit` or the fault
        // path (fresh frames, owned by the reservation).
        let unmapped = unsafe { space::unmap_present_and_free(self.region.start, self.region.len) };
        if let Err(error) = unmapped {
            log::error!(
                "mem: reservation {} not unmapped: {error}",
                self.region.name
            );
            return;
        }
        if let Err(error) = space::release(self.region.start) {
            log::error!(
                "mem: reservation {} not released: {error}",
                self.region.name
            );
        }
    }
}
