//! The two seams between page-table code and the machine: where frames come
//! from ([`FrameSource`]) and how a physical address is reached
//! ([`PhysMap`]).

use crate::addr::{PhysAddr, u64_to_usize};

/// Returned by a [`FrameSource`] that has no frame left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfFrames;

impl core::fmt::Display for OutOfFrames {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("out of physical frames")
    }
}

/// Hands out zeroed 4 KiB physical frames for page tables.
///
/// # Safety
///
/// Implementors promise:
///
/// 1. Every address returned by [`alloc_zeroed_frame`](Self::alloc_zeroed_frame)
///    is `PAGE_SIZE`-aligned and names a frame of RAM whose `PAGE_SIZE`
///    bytes are all zero.
/// 2. That frame is used by nobody else until it is given back through
///    [`free_frame`](Self::free_frame): the caller may write to it freely.
/// 3. The [`PhysMap`] used together with this source reaches the frame.
pub unsafe trait FrameSource {
    /// Allocates one zeroed frame.
    ///
    /// # Errors
    ///
    /// [`OutOfFrames`] when no frame is left; nothing is changed.
    fn alloc_zeroed_frame(&mut self) -> Result<PhysAddr, OutOfFrames>;

    /// Gives a frame back.
    ///
    /// # Safety
    ///
    /// 1. `frame` was returned by `alloc_zeroed_frame` on this source and
    ///    has not been freed since.
    /// 2. Nothing references the frame any more (no page-table entry points
    ///    at it, no pointer into it is used again).
    unsafe fn free_frame(&mut self, frame: PhysAddr);
}

/// Turns a physical address into a pointer the current code can use.
///
/// The loader runs with paging off (identity); the kernel reaches all RAM
/// through a fixed-offset window (the physmap).
///
/// # Safety
///
/// Implementors promise that for every frame handed out by the
/// [`FrameSource`] used together with this map, and for every page-table
/// frame of a table adopted with
/// [`PageTable::from_root`](crate::PageTable::from_root), `phys_to_ptr(pa)`
/// for any `pa` inside that frame returns a pointer to that byte which is
/// valid for reads and writes, with the frame's start mapping to a
/// `PAGE_SIZE`-aligned pointer.
pub unsafe trait PhysMap {
    /// The pointer through which physical address `pa` is reached.
    fn phys_to_ptr(&self, pa: PhysAddr) -> *mut u8;
}

/// Physical address = pointer (paging off, or an identity-mapped region).
#[derive(Debug)]
pub struct IdentityMap {
    _private: (),
}

impl IdentityMap {
    /// Creates the identity map.
    ///
    /// # Safety
    ///
    /// While this value is used, every frame that the page-table code will
    /// touch must be reachable at its physical address (paging off, or the
    /// frames identity-mapped).
    #[must_use]
    pub const unsafe fn new() -> Self {
        Self { _private: () }
    }
}

// SAFETY: `IdentityMap::new` requires its caller to guarantee that every
// frame is reachable at its own physical address, which is exactly the
// `PhysMap` contract.
unsafe impl PhysMap for IdentityMap {
    fn phys_to_ptr(&self, pa: PhysAddr) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(u64_to_usize(pa.as_u64()))
    }
}

/// Physical address + fixed offset = pointer (the kernel's physmap window).
#[derive(Debug, Clone, Copy)]
pub struct OffsetMap {
    offset: usize,
}

impl OffsetMap {
    /// Creates a map that reaches `pa` at virtual address `pa + offset`.
    ///
    /// # Safety
    ///
    /// While this value is used, all RAM that frame sources hand out must be
    /// mapped readable and writable at `pa + offset` (wrapping), in the
    /// active address space.
    #[must_use]
    pub const unsafe fn new(offset: usize) -> Self {
        Self { offset }
    }

    /// The offset added to physical addresses.
    #[must_use]
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

// SAFETY: `OffsetMap::new` requires its caller to guarantee that RAM is
// mapped read-write at `pa + offset`, which is the `PhysMap` contract.
unsafe impl PhysMap for OffsetMap {
    fn phys_to_ptr(&self, pa: PhysAddr) -> *mut u8 {
        core::ptr::with_exposed_provenance_mut(u64_to_usize(pa.as_u64()).wrapping_add(self.offset))
    }
}
