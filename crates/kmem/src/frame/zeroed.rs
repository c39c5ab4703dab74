//! [`ZeroedFrames`]: a [`BuddyAllocator`] as a page-table [`FrameSource`].

use super::buddy::BuddyAllocator;
use crate::addr::{PAGE_SIZE, PhysAddr};
use crate::phys::{FrameSource, OutOfFrames, PhysMap};

/// Single frames from a [`BuddyAllocator`], zeroed through a [`PhysMap`]
/// before they are handed out.
#[derive(Debug)]
pub struct ZeroedFrames<'a, 'm, M: PhysMap + ?Sized> {
    buddy: &'a mut BuddyAllocator<'m>,
    physmap: &'a M,
}

impl<'a, 'm, M: PhysMap + ?Sized> ZeroedFrames<'a, 'm, M> {
    /// Wraps `buddy`, reaching frames through `physmap`.
    ///
    /// # Safety
    ///
    /// 1. Every frame `buddy` manages is RAM reachable for reads and writes
    ///    through `physmap`.
    /// 2. Whoever frees frames into `buddy` (now or later) no longer uses
    ///    them, so an allocated frame is never in use by anyone else.
    pub unsafe fn new(buddy: &'a mut BuddyAllocator<'m>, physmap: &'a M) -> Self {
        Self { buddy, physmap }
    }

    /// The wrapped allocator.
    pub fn buddy(&mut self) -> &mut BuddyAllocator<'m> {
        self.buddy
    }
}

// SAFETY: frames come from the buddy allocator, which hands each out once
// until freed and (by `new`'s contract 2) only gets back frames nobody
// uses; they are page-aligned (order-0 blocks); `new`'s contract 1 makes the
// `physmap` reach them, and we zero all PAGE_SIZE bytes before returning.
unsafe impl<M: PhysMap + ?Sized> FrameSource for ZeroedFrames<'_, '_, M> {
    fn alloc_zeroed_frame(&mut self) -> Result<PhysAddr, OutOfFrames> {
        let frame = self.buddy.alloc(0).map_err(|_| OutOfFrames)?;
        let ptr = self.physmap.phys_to_ptr(frame);
        // SAFETY: the frame was just allocated, so nothing else uses it, and
        // by `new`'s contract `ptr` is valid for writes of PAGE_SIZE bytes.
        unsafe { ptr.write_bytes(0, PAGE_SIZE) };
        Ok(frame)
    }

    unsafe fn free_frame(&mut self, frame: PhysAddr) {
        // Cannot fail: the caller guarantees `frame` came from
        // `alloc_zeroed_frame` and was not freed since, so it is an
        // allocated order-0 block of the buddy.
        let result = self.buddy.free(frame, 0);
        debug_assert!(result.is_ok(), "free_frame({frame:?}): {result:?}");
    }
}
