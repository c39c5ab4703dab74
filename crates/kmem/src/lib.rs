//! Memory-management building blocks for the Hypha kernel and loader.
//!
//! `no_std`; the region tracker needs `alloc` (feature `alloc`, on by
//! default). Everything here is plain data-structure code and is tested on
//! the host with unit tests and property tests against simple models.
//!
//! What is here:
//!
//! - [`addr`]: [`PhysAddr`], [`VirtAddr`], page sizes, alignment helpers.
//! - [`paging`]: RISC-V Sv39/Sv48 page tables ([`PageTable`]): map with
//!   1 GiB/2 MiB/4 KiB leaves, unmap (whole range, or `unmap_present`
//!   skipping holes), protect, translate, `satp` value; huge leaves are
//!   split when a range cuts them; every operation is all-or-nothing.
//!   Generic over where frames come from ([`FrameSource`]) and how
//!   physical memory is reached ([`PhysMap`]: identity in the loader, a
//!   fixed offset in the kernel).
//! - [`frame`]: a buddy allocator for physical frames ([`BuddyAllocator`])
//!   whose bookkeeping lives in bitmaps the caller provides, and
//!   [`ZeroedFrames`] to use it as a page-table [`FrameSource`].
//! - [`region`]: the kernel's virtual address-space layout
//!   ([`AddressSpaceLayout`]): named, non-overlapping regions.
//!
//! Costs: page-table operations walk only the tables the range touches;
//! the buddy allocator is `O(MAX_ORDER)` plus a bitmap scan of 1/4096 of
//! its bits; region lookups are `O(log n)` (`BTreeMap`). None of it locks:
//! every mutating method takes `&mut self`.
//!
//! What is not here: anything that touches the machine. Writing `satp`,
//! `sfence.vma`, fault handling, the global heap allocator and locking live
//! in the kernel (`kernel/src/mem/`), which wires these pieces together.
#![no_std]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod addr;
pub mod frame;
pub mod paging;
mod phys;
#[cfg(any(feature = "alloc", test))]
pub mod region;

#[cfg(test)]
mod sim;

pub use addr::{
    GIGA_PAGE_SIZE, MEGA_PAGE_SIZE, PAGE_SHIFT, PAGE_SIZE, PhysAddr, VirtAddr, align_down,
    align_up, is_aligned,
};
pub use frame::{BuddyAllocator, FrameError, MAX_ORDER, RegionUse, ZeroedFrames};
pub use paging::{MapError, Mapping, PageFlags, PageTable, PagingMode, UnmapStats};
pub use phys::{FrameSource, IdentityMap, OffsetMap, OutOfFrames, PhysMap};
#[cfg(any(feature = "alloc", test))]
pub use region::{AddressSpaceLayout, Region, RegionError, RegionKind};
