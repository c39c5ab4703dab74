//! [`BuddyAllocator`]: power-of-two blocks of physical frames, with
//! coalescing, bookkept in caller-provided bitmaps.
//!
//! Layout of the bookkeeping (all in one `&mut [u64]`):
//!
//! - `managed`: one bit per frame of the span, set once a frame was handed
//!   to the allocator with [`BuddyAllocator::add_free_range`].
//! - `allocated`: one bit per frame, set while the frame is handed out.
//!   `free` checks it, so double frees and frees of foreign memory are
//!   errors rather than corruption.
//! - per order `k`: a free-block bitmap (bit `i` set when the block of
//!   `2^k` frames starting at frame `i << k` is free and not part of a
//!   larger free block), and a summary bitmap (bit `w` set when word `w`
//!   of the free-block bitmap is non-zero) so finding a free block scans
//!   1/4096 of the bits.
//!
//! Costs: `alloc` and `free` are `O(MAX_ORDER + span / 2^(12 + k))` word
//! operations; the bookkeeping is about 3 bits per frame (12 KiB per GiB).

use crate::addr::{PAGE_SHIFT, PhysAddr, u64_to_usize, usize_to_u64};
use core::fmt;

use super::error::FrameError;

/// Largest block order: blocks of `2^MAX_ORDER` frames (1 GiB).
pub const MAX_ORDER: usize = 18;
const ORDERS: usize = MAX_ORDER + 1;
const WORD_BITS: usize = 64;

/// How [`BuddyAllocator::add_regions`] treats a physical range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionUse {
    /// Free RAM: handed out. Rounded inward to whole frames.
    Free,
    /// RAM in use now that may be freed later (kernel image, page tables,
    /// loader memory): managed but allocated. Rounded outward.
    InUse,
    /// Never managed (firmware, device memory). Rounded outward.
    Unmanaged,
}

/// Where each bitmap lives inside the storage slice (word offsets).
#[derive(Debug, Clone, Copy)]
struct Layout {
    frames: usize,
    managed: usize,
    allocated: usize,
    free: [usize; ORDERS],
    summary: [usize; ORDERS],
    total_words: usize,
}

impl Layout {
    fn new(frames: usize) -> Self {
        let bitmap_words = frames.div_ceil(WORD_BITS);
        let mut next = 0;
        let managed = next;
        next += bitmap_words;
        let allocated = next;
        next += bitmap_words;
        let mut free = [0; ORDERS];
        let mut summary = [0; ORDERS];
        for order in 0..ORDERS {
            let words = Self::free_words_for(frames, order);
            free[order] = next;
            next += words;
            summary[order] = next;
            next += words.div_ceil(WORD_BITS);
        }
        Self {
            frames,
            managed,
            allocated,
            free,
            summary,
            total_words: next,
        }
    }

    fn free_words_for(frames: usize, order: usize) -> usize {
        frames.div_ceil(1 << order).div_ceil(WORD_BITS)
    }

    fn free_words(&self, order: usize) -> usize {
        Self::free_words_for(self.frames, order)
    }
}

/// A binary buddy allocator over physical frames.
///
/// Manages frames inside a span fixed at creation; only frames added with
/// [`add_free_range`](Self::add_free_range) are ever handed out. A block of
/// order `k` is `2^k` frames, aligned to its size. Never panics on
/// exhaustion or bad input: every failure is a [`FrameError`].
///
/// This type hands out numbers; it never touches the frames.
pub struct BuddyAllocator<'m> {
    storage: &'m mut [u64],
    layout: Layout,
    /// First frame number of the span, aligned down to `2^MAX_ORDER`.
    base_frame: u64,
    free_blocks: [usize; ORDERS],
    total_frames: usize,
    free_frames: usize,
}

// === impl BuddyAllocator ===

impl<'m> BuddyAllocator<'m> {
    /// Words of bookkeeping needed for the span `[start, end)`.
    #[must_use]
    pub fn metadata_words(start: PhysAddr, end: PhysAddr) -> usize {
        Layout::new(Self::span_frames(start, end).1).total_words
    }

    /// `(base_frame, frames)` for a span.
    fn span_frames(start: PhysAddr, end: PhysAddr) -> (u64, usize) {
        let base_frame = start.frame_number() & !((1u64 << MAX_ORDER) - 1);
        let end_frame = end.as_u64().div_ceil(1 << PAGE_SHIFT);
        (
            base_frame,
            u64_to_usize(end_frame.saturating_sub(base_frame)),
        )
    }

    /// Creates an allocator for frames in `[span_start, span_end)` with no
    /// free memory yet; `storage` is cleared and used for bookkeeping.
    ///
    /// # Errors
    ///
    /// [`FrameError::StorageTooSmall`] if `storage` is shorter than
    /// [`metadata_words`](Self::metadata_words).
    pub fn new(
        storage: &'m mut [u64],
        span_start: PhysAddr,
        span_end: PhysAddr,
    ) -> Result<Self, FrameError> {
        let (base_frame, frames) = Self::span_frames(span_start, span_end);
        let layout = Layout::new(frames);
        if storage.len() < layout.total_words {
            return Err(FrameError::StorageTooSmall {
                needed: layout.total_words,
                provided: storage.len(),
            });
        }
        storage.fill(0);
        Ok(Self {
            storage,
            layout,
            base_frame,
            free_blocks: [0; ORDERS],
            total_frames: 0,
            free_frames: 0,
        })
    }

    /// Creates an allocator whose span covers every range in `free` and
    /// adds each as free memory: [`new`](Self::new) plus
    /// [`add_free_range`](Self::add_free_range) for each. `storage` must hold
    /// [`metadata_words`](Self::metadata_words) for the lowest start and
    /// highest end.
    ///
    /// # Errors
    ///
    /// [`FrameError::StorageTooSmall`], or [`FrameError::AlreadyManaged`] if
    /// two ranges overlap.
    pub fn from_free_ranges(
        storage: &'m mut [u64],
        free: &[(PhysAddr, PhysAddr)],
    ) -> Result<Self, FrameError> {
        let start = free
            .iter()
            .map(|&(start, _)| start)
            .min()
            .unwrap_or(PhysAddr::ZERO);
        let end = free
            .iter()
            .map(|&(_, end)| end)
            .max()
            .unwrap_or(PhysAddr::ZERO);
        let mut buddy = Self::new(storage, start, end)?;
        for &(from, to) in free {
            buddy.add_free_range(from, to)?;
        }
        Ok(buddy)
    }

    /// Adds a whole memory map: `(start, end, use)` triples sorted by
    /// address and disjoint, not necessarily frame aligned. A frame that a
    /// `Free` range shares with any other range is never free: it is in use
    /// if it touches an `InUse` range, else unmanaged. Returns the number
    /// of frames added.
    ///
    /// # Errors
    ///
    /// [`FrameError::RegionsNotSorted`], or the errors of
    /// [`add_free_range`](Self::add_free_range) /
    /// [`add_used_range`](Self::add_used_range) (frames added before the
    /// failing region stay added).
    pub fn add_regions(
        &mut self,
        regions: impl IntoIterator<Item = (PhysAddr, PhysAddr, RegionUse)>,
    ) -> Result<usize, FrameError> {
        const FRAME: u64 = 1 << PAGE_SHIFT;
        let mut added = 0;
        // Frames below this are already managed (or deliberately not).
        let mut claimed_until = 0u64;
        let mut previous_end = 0u64;
        for (start, end, usage) in regions {
            let (start, end) = (start.as_u64(), end.as_u64());
            if start < previous_end || end < start {
                return Err(FrameError::RegionsNotSorted(PhysAddr::new(start)));
            }
            previous_end = end;
            match usage {
                RegionUse::Free => {
                    let from = start.div_ceil(FRAME).max(claimed_until.div_ceil(FRAME)) * FRAME;
                    let to = end / FRAME * FRAME;
                    if to > from {
                        added += self.add_free_range(PhysAddr::new(from), PhysAddr::new(to))?;
                    }
                    claimed_until = claimed_until.max(to);
                }
                RegionUse::InUse => {
                    let from = (start / FRAME * FRAME).max(claimed_until);
                    let to = end.div_ceil(FRAME) * FRAME;
                    if to > from {
                        added += self.add_used_range(PhysAddr::new(from), PhysAddr::new(to))?;
                    }
                    claimed_until = claimed_until.max(to);
                }
                RegionUse::Unmanaged => {
                    claimed_until = claimed_until.max(end.div_ceil(FRAME) * FRAME);
                }
            }
        }
        Ok(added)
    }

    /// Hands the frames in `[start, end)` to the allocator as free memory
    /// (`start` rounded up and `end` down to whole frames). Used at boot for
    /// each usable region and later to reclaim the loader's memory.
    /// Returns the number of frames added.
    ///
    /// # Errors
    ///
    /// [`FrameError::OutsideSpan`] if the range leaves the span,
    /// [`FrameError::AlreadyManaged`] if any frame was added before; nothing
    /// changes on error.
    pub fn add_free_range(&mut self, start: PhysAddr, end: PhysAddr) -> Result<usize, FrameError> {
        let first = start.as_u64().div_ceil(1 << PAGE_SHIFT);
        let last = end.frame_number();
        if last <= first {
            return Ok(0);
        }
        let (Some(from), Some(to)) = (self.frame_index(first), self.frame_index(last - 1)) else {
            return Err(FrameError::OutsideSpan(start));
        };
        let to = to + 1;
        if let Some(index) = self.first_set(self.layout.managed, from, to) {
            return Err(FrameError::AlreadyManaged(self.index_to_addr(index)));
        }
        self.set_bits(self.layout.managed, from, to, true);
        let mut index = from;
        while index < to {
            let mut order = MAX_ORDER;
            while order > 0 && (index % (1 << order) != 0 || index + (1 << order) > to) {
                order -= 1;
            }
            self.insert_free(index, order);
            index += 1 << order;
        }
        let added = to - from;
        self.total_frames += added;
        self.free_frames += added;
        Ok(added)
    }

    /// Hands the frames in `[start, end)` to the allocator as already
    /// allocated (in use by someone else now, freeable later with
    /// [`free`](Self::free) or [`free_range`](Self::free_range)): the
    /// kernel image, the loader's page tables, memory to reclaim later.
    /// `start` is rounded down and `end` up to whole frames. Returns the
    /// number of frames added.
    ///
    /// # Errors
    ///
    /// As [`add_free_range`](Self::add_free_range).
    pub fn add_used_range(&mut self, start: PhysAddr, end: PhysAddr) -> Result<usize, FrameError> {
        let first = start.frame_number();
        let last = end.as_u64().div_ceil(1 << PAGE_SHIFT);
        if last <= first {
            return Ok(0);
        }
        let (Some(from), Some(to)) = (self.frame_index(first), self.frame_index(last - 1)) else {
            return Err(FrameError::OutsideSpan(start));
        };
        let to = to + 1;
        if let Some(index) = self.first_set(self.layout.managed, from, to) {
            return Err(FrameError::AlreadyManaged(self.index_to_addr(index)));
        }
        self.set_bits(self.layout.managed, from, to, true);
        self.set_bits(self.layout.allocated, from, to, true);
        self.total_frames += to - from;
        Ok(to - from)
    }

    /// Frees every frame in `[start, end)` (which must be frame aligned and
    /// all allocated), however it was allocated. Returns the number of
    /// frames freed.
    ///
    /// # Errors
    ///
    /// [`FrameError::Misaligned`], [`FrameError::OutsideSpan`], or
    /// [`FrameError::NotAllocated`] naming the first frame that is not
    /// allocated; nothing changes on error.
    pub fn free_range(&mut self, start: PhysAddr, end: PhysAddr) -> Result<usize, FrameError> {
        if !start.is_aligned(1 << PAGE_SHIFT) {
            return Err(FrameError::Misaligned(start));
        }
        if !end.is_aligned(1 << PAGE_SHIFT) {
            return Err(FrameError::Misaligned(end));
        }
        if end <= start {
            return Ok(0);
        }
        let (Some(from), Some(to)) = (
            self.frame_index(start.frame_number()),
            self.frame_index(end.frame_number() - 1),
        ) else {
            return Err(FrameError::OutsideSpan(start));
        };
        let to = to + 1;
        if !self.all_set(self.layout.allocated, from, to) {
            let mut first = from;
            while self.bit(self.layout.allocated, first) {
                first += 1;
            }
            return Err(FrameError::NotAllocated(self.index_to_addr(first)));
        }
        self.set_bits(self.layout.allocated, from, to, false);
        let mut index = from;
        while index < to {
            let mut order = MAX_ORDER;
            while order > 0 && (index % (1 << order) != 0 || index + (1 << order) > to) {
                order -= 1;
            }
            self.insert_free(index, order);
            index += 1 << order;
        }
        self.free_frames += to - from;
        Ok(to - from)
    }

    /// Allocates a block of `2^order` frames, aligned to its size, at the
    /// lowest free address.
    ///
    /// # Errors
    ///
    /// [`FrameError::InvalidOrder`] above [`MAX_ORDER`],
    /// [`FrameError::OutOfMemory`] if no block that large is free.
    pub fn alloc(&mut self, order: usize) -> Result<PhysAddr, FrameError> {
        if order > MAX_ORDER {
            return Err(FrameError::InvalidOrder(order));
        }
        let Some(mut current) = (order..ORDERS).find(|k| self.free_blocks[*k] > 0) else {
            return Err(FrameError::OutOfMemory);
        };
        let Some(mut block) = self.first_free_block(current) else {
            // Counts and bitmaps disagree: a bug, but not worth a panic here.
            debug_assert!(false, "free_blocks[{current}] > 0 but bitmap empty");
            return Err(FrameError::OutOfMemory);
        };
        self.set_free_bit(current, block, false);
        while current > order {
            current -= 1;
            block *= 2;
            self.set_free_bit(current, block + 1, true);
        }
        let from = block << order;
        self.set_bits(self.layout.allocated, from, from + (1 << order), true);
        self.free_frames -= 1 << order;
        Ok(self.index_to_addr(from))
    }

    /// Allocates one frame (`alloc(0)`).
    ///
    /// # Errors
    ///
    /// [`FrameError::OutOfMemory`] when no frame is free.
    pub fn alloc_frame(&mut self) -> Result<PhysAddr, FrameError> {
        self.alloc(0)
    }

    /// Frees the `2^order` frames at `pa`, merging with free buddies.
    ///
    /// Any aligned block whose frames are all allocated may be freed, so a
    /// large allocation can be returned piecewise.
    ///
    /// # Errors
    ///
    /// [`FrameError::InvalidOrder`], [`FrameError::Misaligned`],
    /// [`FrameError::OutsideSpan`], or [`FrameError::NotAllocated`] if any
    /// frame of the block is free or unmanaged; nothing changes on error.
    pub fn free(&mut self, pa: PhysAddr, order: usize) -> Result<(), FrameError> {
        if order > MAX_ORDER {
            return Err(FrameError::InvalidOrder(order));
        }
        if !pa.is_aligned((1u64 << PAGE_SHIFT) << order) {
            return Err(FrameError::Misaligned(pa));
        }
        let Some(from) = self.frame_index(pa.frame_number()) else {
            return Err(FrameError::OutsideSpan(pa));
        };
        let to = from + (1 << order);
        if to > self.layout.frames {
            return Err(FrameError::OutsideSpan(pa));
        }
        if !self.all_set(self.layout.allocated, from, to) {
            return Err(FrameError::NotAllocated(pa));
        }
        self.set_bits(self.layout.allocated, from, to, false);
        self.insert_free(from, order);
        self.free_frames += 1 << order;
        Ok(())
    }

    /// Frames handed to the allocator so far.
    #[must_use]
    pub fn total_frames(&self) -> usize {
        self.total_frames
    }

    /// Frames currently free.
    #[must_use]
    pub fn free_frames(&self) -> usize {
        self.free_frames
    }

    /// Frames currently allocated.
    #[must_use]
    pub fn used_frames(&self) -> usize {
        self.total_frames - self.free_frames
    }

    /// Number of free blocks of exactly `order` (not counting those inside
    /// larger free blocks); 0 for orders above [`MAX_ORDER`].
    #[must_use]
    pub fn free_blocks(&self, order: usize) -> usize {
        self.free_blocks.get(order).copied().unwrap_or(0)
    }

    /// The largest order with a free block, if any frame is free.
    #[must_use]
    pub fn largest_free_order(&self) -> Option<usize> {
        (0..ORDERS).rev().find(|k| self.free_blocks[*k] > 0)
    }

    /// Whether `pa` is a frame handed out by this allocator right now.
    #[must_use]
    pub fn is_allocated(&self, pa: PhysAddr) -> bool {
        self.frame_index(pa.frame_number())
            .is_some_and(|index| self.bit(self.layout.allocated, index))
    }

    // --- helpers ---

    /// Index of frame number `frame` within the span.
    fn frame_index(&self, frame: u64) -> Option<usize> {
        let index = u64_to_usize(frame.checked_sub(self.base_frame)?);
        (index < self.layout.frames).then_some(index)
    }

    fn index_to_addr(&self, index: usize) -> PhysAddr {
        PhysAddr::new((self.base_frame + usize_to_u64(index)) << PAGE_SHIFT)
    }

    /// Adds the free block `index..index + 2^order` (frame indices),
    /// merging with free buddies as far as possible.
    fn insert_free(&mut self, index: usize, order: usize) {
        let mut block = index >> order;
        let mut order = order;
        while order < MAX_ORDER {
            let buddy = block ^ 1;
            if !self.free_bit(order, buddy) {
                break;
            }
            self.set_free_bit(order, buddy, false);
            block >>= 1;
            order += 1;
        }
        self.set_free_bit(order, block, true);
    }

    fn free_bit(&self, order: usize, block: usize) -> bool {
        if block / WORD_BITS >= self.layout.free_words(order) {
            return false;
        }
        self.bit(self.layout.free[order], block)
    }

    fn set_free_bit(&mut self, order: usize, block: usize, value: bool) {
        let word = block / WORD_BITS;
        let mask = 1u64 << (block % WORD_BITS);
        let words = self.layout.free[order];
        let slot = &mut self.storage[words + word];
        debug_assert_eq!(*slot & mask != 0, !value, "free bit already {value}");
        if value {
            *slot |= mask;
            self.free_blocks[order] += 1;
        } else {
            *slot &= !mask;
            self.free_blocks[order] -= 1;
        }
        let nonzero = *slot != 0;
        let summary = self.layout.summary[order] + word / WORD_BITS;
        let summary_mask = 1u64 << (word % WORD_BITS);
        if nonzero {
            self.storage[summary] |= summary_mask;
        } else {
            self.storage[summary] &= !summary_mask;
        }
    }

    fn first_free_block(&self, order: usize) -> Option<usize> {
        let words = self.layout.free_words(order);
        let summary = self.layout.summary[order];
        for summary_index in 0..words.div_ceil(WORD_BITS) {
            let bits = self.storage[summary + summary_index];
            if bits != 0 {
                let word = summary_index * WORD_BITS + bits.trailing_zeros() as usize;
                let value = self.storage[self.layout.free[order] + word];
                return Some(word * WORD_BITS + value.trailing_zeros() as usize);
            }
        }
        None
    }

    fn bit(&self, bitmap: usize, index: usize) -> bool {
        self.storage[bitmap + index / WORD_BITS] & (1 << (index % WORD_BITS)) != 0
    }

    /// Calls `f(word_offset, mask)` for each word covering bits `[from, to)`.
    fn for_each_word(
        bitmap: usize,
        from: usize,
        to: usize,
        mut f: impl FnMut(usize, u64) -> bool,
    ) -> bool {
        let mut index = from;
        while index < to {
            let word = index / WORD_BITS;
            let low = index % WORD_BITS;
            let high = (to - word * WORD_BITS).min(WORD_BITS);
            let mask = if high - low == WORD_BITS {
                u64::MAX
            } else {
                ((1u64 << (high - low)) - 1) << low
            };
            if !f(bitmap + word, mask) {
                return false;
            }
            index = (word + 1) * WORD_BITS;
        }
        true
    }

    fn set_bits(&mut self, bitmap: usize, from: usize, to: usize, value: bool) {
        let storage = &mut *self.storage;
        Self::for_each_word(bitmap, from, to, |word, mask| {
            if value {
                storage[word] |= mask;
            } else {
                storage[word] &= !mask;
            }
            true
        });
    }

    fn all_set(&self, bitmap: usize, from: usize, to: usize) -> bool {
        Self::for_each_word(bitmap, from, to, |word, mask| {
            self.storage[word] & mask == mask
        })
    }

    fn first_set(&self, bitmap: usize, from: usize, to: usize) -> Option<usize> {
        let mut found = None;
        Self::for_each_word(bitmap, from, to, |word, mask| {
            let hits = self.storage[word] & mask;
            if hits != 0 {
                found = Some((word - bitmap) * WORD_BITS + hits.trailing_zeros() as usize);
                false
            } else {
                true
            }
        });
        found
    }
}

impl fmt::Debug for BuddyAllocator<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuddyAllocator")
            .field("span_start", &self.index_to_addr(0))
            .field("span_frames", &self.layout.frames)
            .field("total_frames", &self.total_frames)
            .field("free_frames", &self.free_frames)
            .field("free_blocks", &self.free_blocks)
            .finish_non_exhaustive()
    }
}
