//! Demand-zero areas: reservations whose accessible pages get a fresh
//! zeroed frame on first touch instead of when they become accessible.
//!
//! An area is a reservation plus an accessibility watermark: `[start,
//! start + accessible)` may be touched, the rest of the reservation faults
//! as before. Making more of it accessible (a WebAssembly `memory.grow`)
//! maps nothing; the first load or store to a page inside the accessible
//! part page-faults, and the trap handler asks [`handle_fault`] to map a
//! zeroed frame there and retry the instruction.
//!
//! The areas live in a fixed table in `.bss` under one spin lock: the trap
//! handler reads it without allocating, and the lock is never held while
//! touching an area's memory, so the hart that faults never holds it. Lock
//! order: `AREAS` → page table → frames (the fault path maps while holding
//! it, so an area cannot be unregistered and unmapped half-way through).
//!
//! Not here: demand paging of stacks, swapping, sharing zero pages.

use super::space::{self, PageIn};
use super::MemError;
use crate::sync::SpinLock;
use hypha_kmem::{PAGE_SIZE, PageFlags, VirtAddr};

/// Areas that can be live at once; a reservation made when the table is
/// full is committed eagerly instead (see [`register`]).
const MAX_AREAS: usize = 512;

/// One demand-zero area; `start == 0` marks a free slot.
#[derive(Debug, Clone, Copy)]
struct Area {
    start: usize,
    len: usize,
    /// Bytes from `start` that may be touched.
    accessible: usize,
    /// Pages mapped (by faults) and not yet freed.
    committed: usize,
}

impl Area {
    const FREE: Self = Self { start: 0, len: 0, accessible: 0, committed: 0 };

    fn contains(&self, address: usize) -> bool {
        self.start != 0 && address >= self.start && address - self.start < self.len
    }
}

static AREAS: SpinLock<[Area; MAX_AREAS]> = SpinLock::new([Area::FREE; MAX_AREAS]);

/// Pages mapped by demand faults since boot (for the `mem` command and tests).
static FAULTS: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// What [`handle_fault`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemandFault {
    /// The address is not in the accessible part of a demand-zero area:
    /// the fault is someone else's (a WebAssembly trap or a kernel bug).
    NotDemand,
    /// The page is mapped now (or was already, by another hart): retry
    /// the faulting instruction.
    Retry,
    /// The page is accessible but no frame is left to back it.
    OutOfMemory,
}

/// Registers `[start, start + len)` (a fresh reservation, nothing mapped)
/// as a demand-zero area with nothing accessible yet. `false` when the
/// table is full: the caller then commits the area's pages eagerly.
pub(super) fn register(start: usize, len: usize) -> bool {
    let mut areas = AREAS.lock();
    match areas.iter_mut().find(|area| area.start == 0) {
        Some(slot) => {
            *slot = Area { start, len, accessible: 0, committed: 0 };
            true
        }
        None => false,
    }
}

/// Forgets the area at `start`; faults there are no longer served. The
/// caller unmaps and frees its pages afterwards.
pub(super) fn unregister(start: usize) {
    let mut areas = AREAS.lock();
    if let Some(slot) = areas.iter_mut().find(|area| area.start == start) {
        *slot = Area::FREE;
    }
}

/// Makes `[offset, offset + len)` of the area at `start` accessible
/// without mapping anything. The range must start at or below the current
/// watermark (an area grows contiguously from its start).
///
/// # Errors
///
/// [`MemError::InvalidSize`] for a range outside the area or leaving a
/// gap above the watermark, [`MemError::Map`]-free: nothing is mapped.
pub(super) fn make_accessible(start: usize, offset: usize, len: usize) -> Result<(), MemError> {
    let mut areas = AREAS.lock();
    let area = areas.iter_mut().find(|area| area.start == start).ok_or(MemError::InvalidSize)?;
    let end = offset.checked_add(len).ok_or(MemError::InvalidSize)?;
    if end > area.len || offset > area.accessible {
        return Err(MemError::InvalidSize);
    }
    area.accessible = area.accessible.max(end);
    Ok(())
}

/// Unmaps and frees whatever is mapped in `[offset, offset + len)` of the
/// area at `start`; a range reaching the watermark lowers it to `offset`.
///
/// # Safety
///
/// Nothing uses that memory any more.
///
/// # Errors
///
/// [`MemError::InvalidSize`] for a range outside the area or a hole in
/// the middle of the accessible part; what unmapping reports.
pub(super) unsafe fn make_inaccessible(start: usize, offset: usize, len: usize) -> Result<(), MemError> {
    let mut areas = AREAS.lock();
    let area = areas.iter_mut().find(|area| area.start == start).ok_or(MemError::InvalidSize)?;
    let end = offset.checked_add(len).ok_or(MemError::InvalidSize)?;
    if end > area.len || (offset < area.accessible && end < area.accessible) {
        return Err(MemError::InvalidSize);
    }
    // SAFETY: the area's pages were mapped only by `handle_fault` (fresh
    // frames owned by the area), and the caller guarantees nothing uses
    // them. The area lock is held, so no fault maps a page meanwhile.
    let stats = unsafe { space::unmap_present_and_free(VirtAddr::new(start + offset), len) }?;
    area.committed = area.committed.saturating_sub(stats.unmapped_bytes / PAGE_SIZE);
    area.accessible = area.accessible.min(offset);
    Ok(())
}

/// Bytes of the area containing `address` that are accessible and that
/// are committed (backed by frames), if `address` is in one.
#[must_use]
pub fn usage(address: usize) -> Option<(usize, usize)> {
    let areas = AREAS.lock();
    areas.iter().find(|area| area.contains(address)).map(|area| (area.accessible, area.committed * PAGE_SIZE))
}

/// `(live areas, pages committed in them, pages mapped by faults since boot)`.
#[must_use]
pub fn stats() -> (usize, usize, usize) {
    let areas = AREAS.lock();
    let live = areas.iter().filter(|area| area.start != 0);
    let (count, committed) = live.fold((0, 0), |(count, committed), area| (count + 1, committed + area.committed));
    (count, committed, FAULTS.load(core::sync::atomic::Ordering::Relaxed))
}

/// Widest access an instruction makes (a vector register of 16 bytes):
/// a misaligned access may start in a mapped page and fault in the next.
const WIDEST_ACCESS: usize = 16;

/// Serves a page fault at `address` (`store`: a store/AMO fault, else a
/// load fault): inside the accessible part of a demand-zero area, maps a
/// zeroed frame there (or, if another hart already did, drops this hart's
/// stale translation) so the instruction can be retried. Called by the
/// trap handler for every load/store page fault, whatever code faulted;
/// takes spin locks only, allocates nothing on the heap, logs nothing.
#[must_use]
pub fn handle_fault(address: usize, store: bool) -> DemandFault {
    let mut areas = AREAS.lock();
    let Some(area) = areas.iter_mut().find(|area| area.contains(address)) else {
        return DemandFault::NotDemand;
    };
    let accessible_end = area.start + area.accessible;
    if address >= accessible_end {
        return DemandFault::NotDemand;
    }
    let first = VirtAddr::new(address).align_down(PAGE_SIZE);
    // The page an access straddling the boundary continues into, if it is
    // accessible too.
    let last = VirtAddr::new(address.saturating_add(WIDEST_ACCESS - 1).min(accessible_end - 1)).align_down(PAGE_SIZE);
    let needed = if store { PageFlags::WRITE } else { PageFlags::READ };
    let mut outcome = DemandFault::Retry;
    for page in [first, last].into_iter().take(if last == first { 1 } else { 2 }) {
        match space::map_zeroed_page(page, space::KERNEL_RW) {
            Ok(PageIn::Mapped) => {
                area.committed += 1;
                FAULTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            // Mapped by another hart after this one cached the invalid
            // entry: `map_zeroed_page` flushed this hart's translation. A
            // mapping lacking the right the access needs is not ours to fix.
            Ok(PageIn::AlreadyMapped(flags)) if flags.contains(needed) => {}
            Ok(PageIn::AlreadyMapped(_)) => return DemandFault::NotDemand,
            Err(MemError::OutOfMemory) => return DemandFault::OutOfMemory,
            Err(_) => outcome = DemandFault::NotDemand,
        }
    }
    outcome
}
