//! RISC-V Sv39/Sv48 page tables.
//!
//! [`PageTable`] edits a tree of tables in physical memory reached through
//! a [`PhysMap`](crate::PhysMap), taking table frames from a
//! [`FrameSource`](crate::FrameSource). It never touches CSRs or TLBs.

mod entry;
mod error;
mod flags;
mod mode;
mod table;
mod walk;

#[cfg(test)]
mod tests;

pub use entry::PHYS_ADDR_LIMIT;
pub use error::MapError;
pub use flags::PageFlags;
pub use mode::PagingMode;
pub use table::{Mapping, PageTable, UnmapStats};
