//! [`MemError`]: why a kernel memory operation failed.

use core::fmt;
use hypha_kmem::{FrameError, MapError, RegionError};

/// Why a kernel memory operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemError {
    /// No physical memory left (frames or page tables).
    OutOfMemory,
    /// No virtual address space left for the request.
    OutOfAddressSpace,
    /// A size was zero, too large, or misaligned.
    InvalidSize,
    /// Memory management is not set up yet.
    NotInitialized,
    /// The loader's memory map or boot info is unusable.
    BadBootInfo(&'static str),
    /// The frame allocator refused.
    Frame(FrameError),
    /// The page table refused.
    Map(MapError),
    /// The address-space layout refused.
    Region(RegionError),
    /// A demand-zero reservation commits its pages on first touch only.
    CommitsOnTouch,
}

impl From<FrameError> for MemError {
    fn from(error: FrameError) -> Self {
        match error {
            FrameError::OutOfMemory => Self::OutOfMemory,
            other => Self::Frame(other),
        }
    }
}

impl From<MapError> for MemError {
    fn from(error: MapError) -> Self {
        match error {
            MapError::OutOfFrames => Self::OutOfMemory,
            other => Self::Map(other),
        }
    }
}

impl From<RegionError> for MemError {
    fn from(error: RegionError) -> Self {
        match error {
            RegionError::NoSpace { .. } => Self::OutOfAddressSpace,
            other => Self::Region(other),
        }
    }
}

impl fmt::Display for MemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("out of physical memory"),
            Self::OutOfAddressSpace => f.write_str("out of kernel address space"),
            Self::InvalidSize => f.write_str("invalid size"),
            Self::NotInitialized => f.write_str("memory management not initialised"),
            Self::BadBootInfo(what) => write!(f, "bad boot info: {what}"),
            Self::Frame(error) => write!(f, "frame allocator: {error}"),
            Self::Map(error) => write!(f, "page table: {error}"),
            Self::Region(error) => write!(f, "address space: {error}"),
            Self::CommitsOnTouch => f.write_str("demand-zero memory is committed on first touch"),
        }
    }
}
