//! Physical frame allocation.

mod buddy;
mod error;
mod zeroed;

#[cfg(test)]
mod tests;

pub use buddy::{BuddyAllocator, MAX_ORDER, RegionUse};
pub use error::FrameError;
pub use zeroed::ZeroedFrames;
