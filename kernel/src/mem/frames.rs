//! The global physical frame allocator: a `kmem` buddy allocator built
//! from the loader's memory map.

use super::MemError;
use super::space;
use crate::sync::SpinLock;
use hypha_boot_info::{BootInfo, MemoryKind};
use hypha_kmem::{BuddyAllocator, PAGE_SIZE, PhysAddr, PhysMap, RegionUse};

const PAGE: u64 = PAGE_SIZE as u64;

/// The allocator; `None` until [`init`].
static FRAMES: SpinLock<Option<BuddyAllocator<'static>>> = SpinLock::new(None);

/// Builds the allocator: every usable region is free, every region in use
/// (kernel, page tables, stacks, loader, ...) is managed but allocated, so
/// it can be freed later; reserved (firmware) memory is never managed.
/// The bookkeeping bitmaps are carved out of the first usable region large
/// enough to hold them.
pub(super) fn init(boot_info: &BootInfo) -> Result<(), MemError> {
    let regions = boot_info.memory_map.regions();
    let (Some(first), Some(last)) = (regions.first(), regions.last()) else {
        return Err(MemError::BadBootInfo("empty memory map"));
    };
    let span_start = PhysAddr::new(first.start);
    let span_end = PhysAddr::new(last.end());
    let words = BuddyAllocator::metadata_words(span_start, span_end);
    let metadata_bytes = u64::try_from(words * 8)
        .map_err(|_| MemError::InvalidSize)?
        .div_ceil(PAGE)
        * PAGE;
    let metadata_start = regions
        .iter()
        .filter(|region| region.kind == MemoryKind::USABLE)
        .map(|region| (region.start.div_ceil(PAGE) * PAGE, region.end()))
        .find(|&(start, end)| end.saturating_sub(start) >= metadata_bytes)
        .map(|(start, _)| start)
        .ok_or(MemError::BadBootInfo(
            "no usable region can hold the frame bitmaps",
        ))?;
    let metadata_end = metadata_start + metadata_bytes;

    let pointer = space::physmap()
        .phys_to_ptr(PhysAddr::new(metadata_start))
        .cast::<u64>();
    // SAFETY: `[metadata_start, metadata_end)` lies inside a usable region
    // (RAM nobody uses yet), the loader maps all RAM read-write at the
    // physical-map offset, the start is page aligned (so u64 aligned), and
    // the range is registered below as allocated, so the frame allocator
    // never hands it out: this slice is its only user, forever.
    let storage: &'static mut [u64] = unsafe { core::slice::from_raw_parts_mut(pointer, words) };
    let mut buddy = BuddyAllocator::new(storage, span_start, span_end)?;

    // Usable RAM is free, except the bookkeeping just carved out of it;
    // everything the loader or kernel uses is managed but allocated (so it
    // can be freed later); reserved memory is never managed. `add_regions`
    // keeps frames shared between regions out of the free pool.
    let metadata = (
        PhysAddr::new(metadata_start),
        PhysAddr::new(metadata_end),
        RegionUse::InUse,
    );
    let entries = regions.iter().flat_map(|region| {
        let (start, end) = (PhysAddr::new(region.start), PhysAddr::new(region.end()));
        let usage = match region.kind {
            MemoryKind::USABLE => RegionUse::Free,
            MemoryKind::RESERVED => RegionUse::Unmanaged,
            _ => RegionUse::InUse,
        };
        let holds_metadata = usage == RegionUse::Free && start <= metadata.0 && metadata.1 <= end;
        let pieces = if holds_metadata {
            [
                Some((start, metadata.0, RegionUse::Free)),
                Some(metadata),
                Some((metadata.1, end, RegionUse::Free)),
            ]
        } else {
            [Some((start, end, usage)), None, None]
        };
        pieces.into_iter().flatten()
    });
    buddy.add_regions(entries)?;
    *FRAMES.lock() = Some(buddy);
    Ok(())
}

/// Runs `f` on the allocator with its lock held. `f` must not allocate on
/// the heap (see the lock order in `mem`).
pub(super) fn with<R>(f: impl FnOnce(&mut BuddyAllocator<'static>) -> R) -> Result<R, MemError> {
    let mut guard = FRAMES.lock();
    let buddy = guard.as_mut().ok_or(MemError::NotInitialized)?;
    Ok(f(buddy))
}

/// `(total, free)` frames; zeros before [`init`].
pub(super) fn counts() -> (usize, usize) {
    with(|buddy| (buddy.total_frames(), buddy.free_frames())).unwrap_or((0, 0))
}

/// Allocates `2^order` physically contiguous frames, aligned to their size.
/// The memory is not zeroed and not mapped anywhere but the physical map.
///
/// # Errors
///
/// [`MemError::OutOfMemory`] when no block that large is free,
/// [`MemError::Frame`] for an order above the maximum,
/// [`MemError::NotInitialized`] before `mem::init`.
pub fn alloc_frames(order: usize) -> Result<PhysAddr, MemError> {
    with(|buddy| buddy.alloc(order))?.map_err(MemError::from)
}

/// Frees `2^order` frames at `frame`.
///
/// # Safety
///
/// Nothing uses the frames any more: no mapping other than the physical
/// map points at them, and no pointer into them is used again.
///
/// # Errors
///
/// [`MemError::Frame`] if the block is misaligned, outside RAM, or not
/// entirely allocated (a double free); nothing is freed then.
pub unsafe fn free_frames(frame: PhysAddr, order: usize) -> Result<(), MemError> {
    with(|buddy| buddy.free(frame, order))?.map_err(MemError::from)
}

/// Frees every whole frame inside `[start, end)`.
///
/// # Safety
///
/// As [`free_frames`], for every frame in the range.
pub(super) unsafe fn free_range(start: PhysAddr, end: PhysAddr) -> Result<usize, MemError> {
    with(|buddy| buddy.free_range(start, end))?.map_err(MemError::from)
}
