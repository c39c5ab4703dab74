//! The kernel's virtual address-space layout: named, non-overlapping
//! regions with permissions, a first-fit search for free space, and fault
//! classification (which region, and is it a guard page?).
//!
//! Needs `alloc` (regions live in a `BTreeMap`). Pure bookkeeping: it maps
//! nothing, the kernel pairs it with a [`PageTable`](crate::PageTable).

mod layout;

#[cfg(test)]
mod tests;

pub use layout::{AddressSpaceLayout, Region, RegionError, RegionKind};
