//! Simulated physical memory for host tests: a page-aligned heap arena
//! that plays RAM at a chosen physical base, with a frame source that
//! tracks what it handed out.

use crate::addr::{PAGE_SIZE, PhysAddr, u64_to_usize, usize_to_u64};
use crate::phys::{FrameSource, OutOfFrames, PhysMap};
use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::BTreeSet;
use std::vec::Vec;

/// `frames` pages of fake RAM starting at physical address `base`.
pub(crate) struct SimMemory {
    ptr: *mut u8,
    layout: Layout,
    base: PhysAddr,
}

impl SimMemory {
    pub(crate) fn new(base: PhysAddr, frames: usize) -> Self {
        let layout = Layout::from_size_align(frames * PAGE_SIZE, PAGE_SIZE).expect("layout");
        // SAFETY: the layout has non-zero size (tests ask for >= 1 frame).
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "host allocation failed");
        Self { ptr, layout, base }
    }

    pub(crate) fn frame_count(&self) -> usize {
        self.layout.size() / PAGE_SIZE
    }

    /// A frame source handing out every frame of the arena (in ascending
    /// order), optionally limited to `limit` frames.
    pub(crate) fn frames(&self, limit: Option<usize>) -> SimFrames {
        let count = limit.unwrap_or(self.frame_count()).min(self.frame_count());
        let free = (0..count)
            .rev()
            .map(|i| PhysAddr::new(self.base.as_u64() + usize_to_u64(i * PAGE_SIZE)))
            .collect();
        SimFrames {
            ptr: self.ptr,
            base: self.base,
            free,
            allocated: BTreeSet::new(),
        }
    }
}

impl Drop for SimMemory {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed` with this layout and is
        // freed only here.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

// SAFETY: every frame `SimFrames` hands out lies inside the arena, which is
// live while `SimMemory` is borrowed; addresses outside the arena panic
// instead of producing a pointer.
unsafe impl PhysMap for SimMemory {
    fn phys_to_ptr(&self, pa: PhysAddr) -> *mut u8 {
        let offset = pa
            .as_u64()
            .checked_sub(self.base.as_u64())
            .map(u64_to_usize)
            .filter(|offset| *offset < self.layout.size())
            .unwrap_or_else(|| panic!("{pa:?} outside simulated RAM"));
        self.ptr.wrapping_add(offset)
    }
}

/// Frame source over a [`SimMemory`]; checks frees against allocations.
pub(crate) struct SimFrames {
    ptr: *mut u8,
    base: PhysAddr,
    free: Vec<PhysAddr>,
    pub(crate) allocated: BTreeSet<PhysAddr>,
}

impl SimFrames {
    pub(crate) fn in_use(&self) -> usize {
        self.allocated.len()
    }
}

// SAFETY: frames come from the arena's free list, so they are page-aligned,
// inside the arena, handed out once until freed, and zeroed here before
// being returned.
unsafe impl FrameSource for SimFrames {
    fn alloc_zeroed_frame(&mut self) -> Result<PhysAddr, OutOfFrames> {
        let frame = self.free.pop().ok_or(OutOfFrames)?;
        let offset = u64_to_usize(frame.as_u64() - self.base.as_u64());
        let ptr = self.ptr.wrapping_add(offset);
        // SAFETY: `offset` names a whole frame inside the live arena that no
        // one else uses (it was on the free list).
        unsafe { ptr.write_bytes(0, PAGE_SIZE) };
        assert!(self.allocated.insert(frame));
        Ok(frame)
    }

    unsafe fn free_frame(&mut self, frame: PhysAddr) {
        assert!(
            self.allocated.remove(&frame),
            "free of unallocated frame {frame:?}"
        );
        self.free.push(frame);
    }
}
