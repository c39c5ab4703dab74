//! Physical frame allocation.

mod buddy;
mod zeroed;

#[cfg(test)]
mod tests;

pub use buddy::{BuddyAllocator, FrameError, MAX_ORDER, RegionUse};
pub use zeroed::ZeroedFrames;
