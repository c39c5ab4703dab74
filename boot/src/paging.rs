//! Building the kernel's first page table with `kmem`, from frames carved
//! out of the loader's memory map.

use hypha_boot_info::{MemoryKind, MemoryMap};
use hypha_kmem::{FrameSource, IdentityMap, MapError, OutOfFrames, PageFlags, PageTable, PagingMode, PhysAddr, VirtAddr};

/// Page-table frames, taken from usable RAM in the memory map.
pub struct TableFrames<'a> {
    /// The map frames are carved from (as [`MemoryKind::PAGE_TABLES`]).
    pub map: &'a mut MemoryMap,
}

// SAFETY: frames come from `MemoryMap::allocate`, which hands out usable,
// page-aligned RAM that is no longer marked usable (so nobody else gets
// it); we zero each one through its physical address, which is valid
// because the loader runs with paging off (the `IdentityMap` used with this
// source).
unsafe impl FrameSource for TableFrames<'_> {
    fn alloc_zeroed_frame(&mut self) -> Result<PhysAddr, OutOfFrames> {
        let start = self.map.allocate(4096, 4096, MemoryKind::PAGE_TABLES).map_err(|_| OutOfFrames)?;
        // SAFETY: the frame was usable RAM until just now and is ours alone;
        // paging is off, so its physical address is a valid pointer.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, 4096) };
        Ok(PhysAddr::new(start))
    }

    unsafe fn free_frame(&mut self, _frame: PhysAddr) {
        // The loader never unmaps; a frame handed back stays marked as page
        // tables (leaked) rather than being reused.
    }
}

/// The physical map used while paging is off.
pub fn identity() -> IdentityMap {
    // SAFETY: the loader runs with `satp` = 0 (except inside the probe,
    // which touches no page table), so every physical address is reachable
    // as a pointer.
    unsafe { IdentityMap::new() }
}

/// Maps `[virt, virt + len)` to `[phys, …)` with `flags`, rounding out to pages.
///
/// # Errors
///
/// Whatever `kmem` reports.
pub fn map(table: &mut PageTable, frames: &mut TableFrames<'_>, virt: u64, phys: u64, len: u64, flags: PageFlags) -> Result<(), MapError> {
    let start = virt & !0xfff;
    let phys_start = phys & !0xfff;
    let end = (virt + len).div_ceil(4096) * 4096;
    let len = usize::try_from(end - start).map_err(|_| MapError::Misaligned)?;
    let start = usize::try_from(start).map_err(|_| MapError::Misaligned)?;
    table.map(VirtAddr::new(start), PhysAddr::new(phys_start), len, flags, frames, &identity())
}

/// Picks Sv48 when the hart supports it, else Sv39, by writing `satp` with
/// a small table that identity-maps the loader and reading it back.
pub fn choose_mode(frames: &mut TableFrames<'_>, loader_start: u64, loader_end: u64) -> PagingMode {
    let Ok(mut probe) = PageTable::new(PagingMode::Sv48, frames) else { return PagingMode::Sv39 };
    let flags = PageFlags::READ_WRITE | PageFlags::EXECUTE;
    if map(&mut probe, frames, loader_start, loader_start, loader_end - loader_start, flags).is_err() {
        return PagingMode::Sv39;
    }
    // SAFETY: `probe` is an Sv48 table identity-mapping the whole loader
    // image (code, data, bss with the boot stack), which is all the probe
    // and its caller touch; paging is off here.
    let supported = unsafe { crate::arch::probe_paging_mode(PagingMode::Sv48.satp_mode(), probe.root().as_u64()) };
    if supported { PagingMode::Sv48 } else { PagingMode::Sv39 }
}
