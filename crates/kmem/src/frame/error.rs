//! [`FrameError`]: why a frame-allocator call failed.

use super::buddy::MAX_ORDER;
use crate::addr::PhysAddr;
use core::fmt;

/// Why a frame-allocator call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// No free block of the requested order (or larger) is left.
    OutOfMemory,
    /// The order is above [`MAX_ORDER`].
    InvalidOrder(usize),
    /// The address is not aligned to the block size of the order.
    Misaligned(PhysAddr),
    /// The range or block lies (partly) outside the span given to `new`.
    OutsideSpan(PhysAddr),
    /// `free` of a block that is not entirely allocated: a double free,
    /// or memory this allocator never managed.
    NotAllocated(PhysAddr),
    /// `add_free_range` of frames the allocator already manages.
    AlreadyManaged(PhysAddr),
    /// `add_regions` got regions that are not sorted by address or overlap.
    RegionsNotSorted(PhysAddr),
    /// The bookkeeping slice is shorter than
    /// [`BuddyAllocator::metadata_words`] requires.
    StorageTooSmall {
        /// Words needed.
        needed: usize,
        /// Words provided.
        provided: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of physical memory"),
            Self::InvalidOrder(order) => write!(f, "order {order} is above {MAX_ORDER}"),
            Self::Misaligned(pa) => write!(f, "{pa} is not aligned to its block size"),
            Self::OutsideSpan(pa) => write!(f, "{pa} is outside the allocator's span"),
            Self::NotAllocated(pa) => write!(f, "block at {pa} is not allocated (double free?)"),
            Self::AlreadyManaged(pa) => write!(f, "frame {pa} is already managed"),
            Self::RegionsNotSorted(pa) => {
                write!(f, "memory regions not sorted or overlapping at {pa}")
            }
            Self::StorageTooSmall { needed, provided } => {
                write!(f, "bookkeeping needs {needed} words, got {provided}")
            }
        }
    }
}
