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
//!   1 GiB/2 MiB/4 KiB leaves, unmap, protect, translate, `satp` value.
//!   Generic over where frames come from ([`FrameSource`]) and how
//!   physical memory is reached ([`PhysMap`]: identity in the loader, a
//!   fixed offset in the kernel).
//! - [`frame`]: a buddy allocator for physical frames ([`BuddyAllocator`])
//!   whose bookkeeping lives in bitmaps the caller provides.
//! - [`region`]: the kernel's virtual address-space layout
//!   ([`AddressSpaceLayout`]): named, non-overlapping regions.
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
pub use frame::{BuddyAllocator, FrameError, MAX_ORDER, ZeroedFrames};
pub use paging::{MapError, Mapping, PageFlags, PageTable, PagingMode, UnmapStats};
pub use phys::{FrameSource, IdentityMap, OffsetMap, OutOfFrames, PhysMap};
#[cfg(any(feature = "alloc", test))]
pub use region::{AddressSpaceLayout, Region, RegionError, RegionKind};
