//! The kernel address space: the live page table the loader built (which
//! every hart runs on) and the layout of named regions in the upper half.

use super::{MemError, frames};
use crate::sync::SpinLock;
use core::sync::atomic::{AtomicUsize, Ordering};
use hypha_boot_info::{BootInfo, layout};
use hypha_kmem::{
    AddressSpaceLayout, GIGA_PAGE_SIZE, Mapping, OffsetMap, PAGE_SIZE, PageFlags, PageTable,
    PagingMode, PhysAddr, Region, RegionKind, UnmapStats, VirtAddr, ZeroedFrames,
    addr::usize_to_u64, align_up,
};

/// The kernel's page table; `None` until [`init`].
static TABLE: SpinLock<Option<PageTable>> = SpinLock::new(None);
/// The kernel's regions; `None` until [`init_layout`] (it needs the heap).
static LAYOUT: SpinLock<Option<AddressSpaceLayout>> = SpinLock::new(None);
/// Virtual = physical + this, for all RAM (set once by [`init`]).
static PHYSMAP_OFFSET: AtomicUsize = AtomicUsize::new(0);
/// One past the physical-map window (set once by [`init`]).
static PHYSMAP_END: AtomicUsize = AtomicUsize::new(0);

/// Bytes of virtual address space reserved for the kernel heap.
pub(super) const HEAP_RESERVATION: usize = 16 * GIGA_PAGE_SIZE;
/// Unmapped gap between the physical map and the heap.
const GAP: usize = GIGA_PAGE_SIZE;

/// Flags for kernel data mappings: read-write, global.
pub(super) const KERNEL_RW: PageFlags = PageFlags::READ_WRITE.union(PageFlags::GLOBAL);

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __kernel_end: u8;
}

/// Adopts the loader's page table (the active one) and the physical map.
pub(super) fn init(boot_info: &BootInfo) -> Result<(), MemError> {
    let mode = PagingMode::from_satp_mode(boot_info.paging_mode.0)
        .ok_or(MemError::BadBootInfo("paging mode"))?;
    let root = PhysAddr::new(boot_info.root_page_table_physical);
    let active = crate::arch::csr::read_satp();
    if active & ((1 << 44) - 1) != root.frame_number() || active >> 60 != mode.satp_mode() {
        return Err(MemError::BadBootInfo(
            "satp does not name the loader's page table",
        ));
    }
    let offset = usize::try_from(boot_info.physical_memory_offset)
        .map_err(|_| MemError::BadBootInfo("offset"))?;
    let ram_end = boot_info
        .memory_map
        .regions()
        .last()
        .map_or(0, |region| region.end());
    let ram_end = usize::try_from(ram_end).map_err(|_| MemError::BadBootInfo("RAM end"))?;
    // The loader maps [0, RAM end rounded up to 1 GiB) at the offset.
    let physmap_len = align_up(ram_end, GIGA_PAGE_SIZE).ok_or(MemError::BadBootInfo("RAM end"))?;
    PHYSMAP_OFFSET.store(offset, Ordering::Release);
    PHYSMAP_END.store(offset.wrapping_add(physmap_len), Ordering::Release);
    // SAFETY: `root` is the table the loader built and this hart runs on
    // (checked against satp above). Its frames are PAGE_TABLES memory,
    // which the frame allocator manages as allocated, so tables emptied by
    // an unmap can go back to it; the physical map reaches them; and from
    // now on only this module edits the table, under `TABLE`.
    let table = unsafe { PageTable::from_root(mode, root, 0) };
    *TABLE.lock() = Some(table);
    Ok(())
}

/// The physical map (all RAM at a fixed offset).
pub(super) fn physmap() -> OffsetMap {
    // SAFETY: the loader maps all RAM read-write at this offset in the
    // kernel's page table, and the kernel never unmaps that window.
    unsafe { OffsetMap::new(PHYSMAP_OFFSET.load(Ordering::Acquire)) }
}

/// Where the heap reservation starts: above the physical map and a gap,
/// 1 GiB aligned.
pub(super) fn heap_base() -> Result<usize, MemError> {
    let end = PHYSMAP_END.load(Ordering::Acquire);
    if end == 0 {
        return Err(MemError::NotInitialized);
    }
    align_up(end, GIGA_PAGE_SIZE)
        .and_then(|base| base.checked_add(GAP))
        .ok_or(MemError::OutOfAddressSpace)
}

/// Records the regions that exist at boot: the physical map, the kernel
/// image segments (W^X), every hart's kernel and trap stack (with their
/// guard pages), and the heap reservation.
pub(super) fn init_layout(boot_info: &BootInfo) -> Result<(), MemError> {
    let mode = TABLE
        .lock()
        .as_ref()
        .map(PageTable::mode)
        .ok_or(MemError::NotInitialized)?;
    let mut space = AddressSpaceLayout::new(mode.upper_half_start(), VirtAddr::new(usize::MAX));
    let offset = PHYSMAP_OFFSET.load(Ordering::Acquire);
    let physmap_len = PHYSMAP_END.load(Ordering::Acquire) - offset;
    space.insert(Region::new(
        VirtAddr::new(offset),
        physmap_len,
        KERNEL_RW,
        RegionKind::PhysicalMemory,
        "physical map",
    ))?;

    let kernel_start = (&raw const __kernel_start).addr();
    let text_end =
        align_up((&raw const __text_end).addr(), PAGE_SIZE).ok_or(MemError::InvalidSize)?;
    let rodata_start = (&raw const __rodata_start).addr();
    let rodata_end =
        align_up((&raw const __rodata_end).addr(), PAGE_SIZE).ok_or(MemError::InvalidSize)?;
    let data_start = (&raw const __data_start).addr();
    let kernel_end =
        align_up((&raw const __kernel_end).addr(), PAGE_SIZE).ok_or(MemError::InvalidSize)?;
    let global = PageFlags::GLOBAL;
    let segments = [
        (
            kernel_start,
            text_end,
            PageFlags::READ_EXECUTE | global,
            RegionKind::KernelText,
            "kernel .text",
        ),
        (
            rodata_start,
            rodata_end,
            PageFlags::READ | global,
            RegionKind::KernelReadOnly,
            "kernel .rodata",
        ),
        (
            data_start,
            kernel_end,
            KERNEL_RW,
            RegionKind::KernelData,
            "kernel .data/.bss",
        ),
    ];
    for (start, end, flags, kind, name) in segments {
        if end > start {
            space.insert(Region::new(
                VirtAddr::new(start),
                end - start,
                flags,
                kind,
                name,
            ))?;
        }
    }

    let guard = usize::try_from(layout::GUARD_LEN).map_err(|_| MemError::InvalidSize)?;
    for hart in boot_info.harts().unwrap_or(&[]) {
        for (top, len, name) in [
            (hart.stack_top, hart.stack_len_bytes, "hart kernel stack"),
            (
                hart.trap_stack_top,
                hart.trap_stack_len_bytes,
                "hart trap stack",
            ),
        ] {
            let top = usize::try_from(top).map_err(|_| MemError::BadBootInfo("stack"))?;
            let len = usize::try_from(len).map_err(|_| MemError::BadBootInfo("stack"))?;
            let start = top
                .checked_sub(len + guard)
                .ok_or(MemError::BadBootInfo("stack"))?;
            space.insert(
                Region::new(
                    VirtAddr::new(start),
                    len + guard,
                    KERNEL_RW,
                    RegionKind::Stack,
                    name,
                )
                .with_guard(guard),
            )?;
        }
    }

    let heap = heap_base()?;
    space.insert(Region::new(
        VirtAddr::new(heap),
        HEAP_RESERVATION,
        KERNEL_RW,
        RegionKind::Heap,
        "kernel heap",
    ))?;
    *LAYOUT.lock() = Some(space);
    Ok(())
}

/// Lowest address for regions placed at run time (stacks, ...): above the heap.
fn dynamic_base() -> Result<usize, MemError> {
    heap_base()?
        .checked_add(HEAP_RESERVATION)
        .ok_or(MemError::OutOfAddressSpace)
}

/// Places a new region of `len` bytes (guard included) in free kernel
/// address space, below the KASLR window.
pub(super) fn reserve(
    len: usize,
    flags: PageFlags,
    kind: RegionKind,
    name: &'static str,
    guard_len: usize,
) -> Result<Region, MemError> {
    let at_least = VirtAddr::new(dynamic_base()?);
    let mut guard = LAYOUT.lock();
    let space = guard.as_mut().ok_or(MemError::NotInitialized)?;
    let region = space.allocate(len, PAGE_SIZE, at_least, flags, kind, name, guard_len)?;
    let limit =
        usize::try_from(layout::KASLR_WINDOW_START).map_err(|_| MemError::OutOfAddressSpace)?;
    if region.last().as_usize() >= limit {
        space.remove(region.start)?;
        return Err(MemError::OutOfAddressSpace);
    }
    Ok(region)
}

/// Forgets the region starting at `start` (its mappings must be gone).
pub(super) fn release(start: VirtAddr) -> Result<Region, MemError> {
    let mut guard = LAYOUT.lock();
    let space = guard.as_mut().ok_or(MemError::NotInitialized)?;
    Ok(space.remove(start)?)
}

/// Number of regions (0 before init).
pub(super) fn region_count() -> usize {
    LAYOUT.lock().as_ref().map_or(0, AddressSpaceLayout::len)
}

/// Runs `f` with the page table and a frame source, both locked (page
/// table first). `f` must not allocate on the heap.
fn with_table<R>(
    f: impl FnOnce(&mut PageTable, &mut ZeroedFrames<'_, 'static, OffsetMap>, &OffsetMap) -> R,
) -> Result<R, MemError> {
    let physmap = physmap();
    let mut table_guard = TABLE.lock();
    let table = table_guard.as_mut().ok_or(MemError::NotInitialized)?;
    frames::with(|buddy| {
        // SAFETY: every frame the buddy allocator manages is RAM inside the
        // physical map (it was built from the loader's memory map, which
        // the physical map covers), and everything that frees into it
        // (`free_frames`, `free_range`, page tables) requires or guarantees
        // the frames are no longer in use.
        let mut frames = unsafe { ZeroedFrames::new(buddy, &physmap) };
        f(table, &mut frames, &physmap)
    })
}

/// Maps `len` bytes of fresh, zeroed memory at `va` with `flags`, taking
/// the largest physically contiguous blocks available. On error nothing
/// stays mapped or allocated.
pub(super) fn map_new_memory(va: VirtAddr, len: usize, flags: PageFlags) -> Result<(), MemError> {
    if len == 0 || !va.is_aligned(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(MemError::InvalidSize);
    }
    let result = with_table(|table, frames, physmap| -> Result<(), MemError> {
        let mut done = 0;
        while done < len {
            let pages = (len - done) / PAGE_SIZE;
            let mut order = usize::try_from(pages.ilog2())
                .unwrap_or(0)
                .min(hypha_kmem::MAX_ORDER);
            let block = loop {
                match frames.buddy().alloc(order) {
                    Ok(block) => break Some(block),
                    Err(_) if order > 0 => order -= 1,
                    Err(_) => break None,
                }
            };
            let Some(block) = block else {
                undo_new_memory(table, frames, physmap, va, done);
                return Err(MemError::OutOfMemory);
            };
            let block_len = PAGE_SIZE << order;
            // SAFETY: the block was just allocated, so only we use it, and
            // the physical map reaches all `block_len` bytes of it.
            unsafe { hypha_kmem::PhysMap::phys_to_ptr(physmap, block).write_bytes(0, block_len) };
            let at = VirtAddr::new(va.as_usize() + done);
            if let Err(error) = table.map(at, block, block_len, flags, frames, physmap) {
                // Cannot fail: the block is allocated and unused.
                let _ = frames.buddy().free(block, order);
                undo_new_memory(table, frames, physmap, va, done);
                return Err(error.into());
            }
            done += block_len;
        }
        Ok(())
    })?;
    crate::arch::csr::flush_tlb();
    result
}

/// What [`map_zeroed_page`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PageIn {
    /// A fresh zeroed frame is mapped there now.
    Mapped,
    /// The page was mapped already (by another hart), with these flags.
    AlreadyMapped(PageFlags),
}

/// Maps one fresh zeroed frame at page `va` with `flags`, unless the page
/// is mapped already. The check and the mapping happen under one hold of
/// the page-table lock, so two harts faulting on the same page map it
/// once. Flushes only this hart's translation of `va`. Never allocates on
/// the heap (callable from the trap handler).
pub(super) fn map_zeroed_page(va: VirtAddr, flags: PageFlags) -> Result<PageIn, MemError> {
    if !va.is_aligned(PAGE_SIZE) {
        return Err(MemError::InvalidSize);
    }
    let result = with_table(|table, frames, physmap| -> Result<PageIn, MemError> {
        if let Some((_, existing)) = table.translate(va, physmap) {
            return Ok(PageIn::AlreadyMapped(existing));
        }
        let frame = frames.buddy().alloc(0).map_err(|_| MemError::OutOfMemory)?;
        // SAFETY: the frame was just allocated, so only we use it, and the
        // physical map reaches all of it.
        unsafe { hypha_kmem::PhysMap::phys_to_ptr(physmap, frame).write_bytes(0, PAGE_SIZE) };
        if let Err(error) = table.map(va, frame, PAGE_SIZE, flags, frames, physmap) {
            // Cannot fail: the frame is allocated and unused.
            let _ = frames.buddy().free(frame, 0);
            return Err(error.into());
        }
        Ok(PageIn::Mapped)
    })?;
    // A translation of the page cached while it was invalid must not
    // survive; other harts flush their own when they fault on it.
    crate::arch::csr::flush_tlb_page(va.as_usize());
    result
}

/// Unmaps `[va, va + len)` (all mapped by `map_new_memory`) and frees the
/// frames behind it; used to roll back a failed `map_new_memory`.
fn undo_new_memory(
    table: &mut PageTable,
    frames: &mut ZeroedFrames<'_, 'static, OffsetMap>,
    physmap: &OffsetMap,
    va: VirtAddr,
    len: usize,
) {
    if len > 0 {
        let _ = unmap_free_locked(table, frames, physmap, va, len);
    }
}

/// Unmaps `[va, va + len)` and frees the frames behind each removed leaf
/// as it goes.
fn unmap_free_locked(
    table: &mut PageTable,
    frames: &mut ZeroedFrames<'_, 'static, OffsetMap>,
    physmap: &OffsetMap,
    va: VirtAddr,
    len: usize,
) -> Result<UnmapStats, MemError> {
    let mut refused = None;
    let stats = table.unmap(va, len, frames, physmap, |leaf, frames| {
        let end = PhysAddr::new(leaf.pa.as_u64() + usize_to_u64(leaf.len));
        if let Err(error) = frames.buddy().free_range(leaf.pa, end) {
            refused.get_or_insert(error);
        }
    })?;
    match refused {
        Some(error) => Err(error.into()),
        None => Ok(stats),
    }
}

/// Unmaps `[va, va + len)` and frees the frames that backed it.
///
/// # Safety
///
/// The range was mapped with [`map_new_memory`] (so the frames belong to
/// it alone), and nothing uses the memory any more.
pub(super) unsafe fn unmap_and_free(va: VirtAddr, len: usize) -> Result<UnmapStats, MemError> {
    let result =
        with_table(|table, frames, physmap| unmap_free_locked(table, frames, physmap, va, len))?;
    crate::arch::csr::flush_tlb();
    result
}

/// Unmaps whatever is mapped in `[va, va + len)` (holes are fine) and
/// frees the frames behind it.
///
/// # Safety
///
/// Everything mapped in the range was mapped with [`map_new_memory`] (so
/// the frames belong to it alone), and nothing uses that memory any more.
pub(super) unsafe fn unmap_present_and_free(
    va: VirtAddr,
    len: usize,
) -> Result<UnmapStats, MemError> {
    let result = with_table(|table, frames, physmap| {
        let mut refused = None;
        let stats = table.unmap_present(va, len, frames, physmap, |leaf, frames| {
            let end = PhysAddr::new(leaf.pa.as_u64() + usize_to_u64(leaf.len));
            if let Err(error) = frames.buddy().free_range(leaf.pa, end) {
                refused.get_or_insert(error);
            }
        })?;
        match refused {
            Some(error) => Err(MemError::from(error)),
            None => Ok(stats),
        }
    })?;
    crate::arch::csr::flush_tlb();
    result
}

/// Changes the flags of mapped kernel memory.
///
/// # Safety
///
/// Removing a permission must not break code that relies on it: nothing
/// keeps writing (or executing) through the range afterwards, except code
/// that expects and recovers from the fault.
pub(super) unsafe fn protect(va: VirtAddr, len: usize, flags: PageFlags) -> Result<(), MemError> {
    let result =
        with_table(|table, frames, physmap| table.protect(va, len, flags, frames, physmap))?;
    crate::arch::csr::flush_tlb();
    Ok(result?)
}

/// Unmaps every lower-half mapping (the loader's identity map) from the
/// kernel page table, returning the page-table frames freed.
///
/// # Safety
///
/// No hart executes or accesses memory through the lower half any more.
pub(super) unsafe fn unmap_lower_half() -> Result<usize, MemError> {
    let result = with_table(|table, frames, physmap| {
        let mut tables_freed = 0;
        loop {
            // The first run of virtually contiguous lower-half leaves.
            let mut run: Option<(usize, usize)> = None;
            let mut run_complete = false;
            table.for_each_mapping(physmap, |leaf| {
                if table_mode_is_upper(leaf.va) || run_complete {
                    return;
                }
                match run {
                    None => run = Some((leaf.va.as_usize(), leaf.va.as_usize() + leaf.len)),
                    Some((start, end)) if end == leaf.va.as_usize() => {
                        run = Some((start, end + leaf.len))
                    }
                    Some(_) => run_complete = true,
                }
            });
            let Some((start, end)) = run else { break };
            tables_freed += table
                .unmap(
                    VirtAddr::new(start),
                    end - start,
                    frames,
                    physmap,
                    |_, _| {},
                )?
                .tables_freed;
        }
        Ok::<usize, MemError>(tables_freed)
    })?;
    crate::arch::csr::flush_tlb();
    result
}

fn table_mode_is_upper(va: VirtAddr) -> bool {
    // Both modes put the upper half at the top: bit 63 set.
    va.as_usize() >> 63 == 1
}

/// The physical address and flags `va` translates to in the kernel table.
#[must_use]
pub fn translate(va: VirtAddr) -> Option<(PhysAddr, PageFlags)> {
    let physmap = physmap();
    TABLE.lock().as_ref()?.translate(va, &physmap)
}

/// Calls `f` for every leaf of the kernel table (lock held: `f` must not
/// allocate).
pub(super) fn for_each_mapping(f: impl FnMut(Mapping)) -> Result<(), MemError> {
    let physmap = physmap();
    let guard = TABLE.lock();
    guard
        .as_ref()
        .ok_or(MemError::NotInitialized)?
        .for_each_mapping(&physmap, f);
    Ok(())
}

/// The kernel region containing `va`, if any.
#[must_use]
pub fn find_region(va: VirtAddr) -> Option<Region> {
    LAYOUT.lock().as_ref()?.find(va).copied()
}

/// What a faulting kernel address hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The guard page below a stack: a stack overflow.
    StackOverflow(Region),
    /// Inside a known region, but not mapped or not permitted.
    InRegion(Region),
    /// Outside every known region.
    Unknown,
}

/// Classifies a faulting address for the trap handler. Never blocks:
/// returns `None` if the region table is busy (the fault happened while
/// it was locked) or not set up.
#[must_use]
pub fn classify_fault(address: usize) -> Option<FaultKind> {
    let guard = LAYOUT.try_lock()?;
    let space = guard.as_ref()?;
    let va = VirtAddr::new(address);
    Some(match space.find(va) {
        Some(region) if region.is_guard(va) => FaultKind::StackOverflow(*region),
        Some(region) => FaultKind::InRegion(*region),
        None => FaultKind::Unknown,
    })
}
