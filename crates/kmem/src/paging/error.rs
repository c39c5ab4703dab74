//! Why a page-table operation was refused.

use super::flags::PageFlags;
use crate::addr::{PhysAddr, VirtAddr};
use crate::phys::OutOfFrames;
use core::fmt;

/// Why a page-table operation was refused. Every variant except
/// `OutOfFrames` is the caller's mistake; in all cases the table's
/// translations are as they were before the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// A virtual address, physical address or length is not a multiple of
    /// 4 KiB.
    Misaligned,
    /// The virtual range leaves the paging mode's canonical address space
    /// (or straddles the hole between the halves, or wraps).
    NonCanonical {
        /// Start of the rejected range.
        va: VirtAddr,
    },
    /// The physical range goes beyond what an entry can name (2^56).
    PhysicalOutOfRange {
        /// Start of the rejected range.
        pa: PhysAddr,
    },
    /// Part of the range is already mapped (`map` never replaces).
    AlreadyMapped {
        /// The first mapped address found.
        va: VirtAddr,
    },
    /// Part of the range is not mapped (`unmap` and `protect` need all of it).
    NotMapped {
        /// The first unmapped address found.
        va: VirtAddr,
    },
    /// No frame left for a page table.
    OutOfFrames,
    /// The flags cannot form a leaf: none of R/X, or W without R.
    InvalidFlags(PageFlags),
}

impl From<OutOfFrames> for MapError {
    fn from(_: OutOfFrames) -> Self {
        Self::OutOfFrames
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Misaligned => f.write_str("address or length not 4 KiB aligned"),
            Self::NonCanonical { va } => {
                write!(f, "range at {va} is outside the canonical address space")
            }
            Self::PhysicalOutOfRange { pa } => {
                write!(f, "physical range at {pa} is beyond 2^56")
            }
            Self::AlreadyMapped { va } => write!(f, "{va} is already mapped"),
            Self::NotMapped { va } => write!(f, "{va} is not mapped"),
            Self::OutOfFrames => f.write_str("out of frames for page tables"),
            Self::InvalidFlags(flags) => write!(f, "invalid leaf flags {flags:?}"),
        }
    }
}
