//! Guard-paged kernel stacks.

use super::{MemError, space};
use hypha_kmem::{PAGE_SIZE, RegionKind, VirtAddr, align_up};

/// Largest kernel stack [`alloc_kernel_stack`] hands out.
pub const MAX_STACK_BYTES: usize = 8 * 1024 * 1024;
/// Unmapped bytes below every stack.
pub const GUARD_BYTES: usize = PAGE_SIZE;

/// A kernel stack: `[bottom, top)` mapped read-write, with an unmapped
/// guard page below `bottom`, so overflowing it faults (and the fault is
/// classified as a stack overflow). Unmapped and freed on drop.
#[derive(Debug)]
pub struct KernelStack {
    region_start: VirtAddr,
    bottom: usize,
    top: usize,
}

impl KernelStack {
    /// One past the highest usable address (the initial `sp`; 16-byte aligned).
    #[must_use]
    pub const fn top(&self) -> usize {
        self.top
    }

    /// Lowest usable address.
    #[must_use]
    pub const fn bottom(&self) -> usize {
        self.bottom
    }

    /// Usable bytes.
    #[must_use]
    pub const fn len_bytes(&self) -> usize {
        self.top - self.bottom
    }

    /// `[start, end)` of the guard page(s) below the stack.
    #[must_use]
    pub const fn guard(&self) -> (usize, usize) {
        (self.region_start.as_usize(), self.bottom)
    }

    /// Gives up ownership: `(guard start, bottom, top)`. The stack stays
    /// mapped until [`from_raw_parts`](Self::from_raw_parts) rebuilds it.
    pub(super) fn into_raw_parts(self) -> (usize, usize, usize) {
        let parts = (self.region_start.as_usize(), self.bottom, self.top);
        core::mem::forget(self);
        parts
    }

    /// Rebuilds a stack from [`into_raw_parts`](Self::into_raw_parts).
    ///
    /// # Safety
    ///
    /// The parts came from `into_raw_parts` and are rebuilt at most once.
    pub(super) const unsafe fn from_raw_parts(
        guard_start: usize,
        bottom: usize,
        top: usize,
    ) -> Self {
        Self {
            region_start: VirtAddr::new(guard_start),
            bottom,
            top,
        }
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        // SAFETY: the range was mapped by `alloc_kernel_stack` with
        // `map_new_memory`, and the owner dropping the stack has stopped
        // running on it (a `KernelStack` is only dropped by its owner).
        let unmapped =
            unsafe { space::unmap_and_free(VirtAddr::new(self.bottom), self.len_bytes()) };
        if let Err(error) = unmapped {
            log::error!(
                "mem: kernel stack at {:#x} not unmapped: {error}",
                self.bottom
            );
            return;
        }
        if let Err(error) = space::release(self.region_start) {
            log::error!(
                "mem: kernel stack region at {} not released: {error}",
                self.region_start
            );
        }
    }
}

/// Allocates a kernel stack of `size` bytes (rounded up to pages) with a
/// guard page below it.
///
/// # Errors
///
/// [`MemError::InvalidSize`] for 0 or more than [`MAX_STACK_BYTES`],
/// [`MemError::OutOfMemory`] / [`MemError::OutOfAddressSpace`] when
/// exhausted; nothing is left allocated on error.
pub fn alloc_kernel_stack(size: usize) -> Result<KernelStack, MemError> {
    if size == 0 || size > MAX_STACK_BYTES {
        return Err(MemError::InvalidSize);
    }
    let len = align_up(size, PAGE_SIZE).ok_or(MemError::InvalidSize)?;
    let region = space::reserve(
        len + GUARD_BYTES,
        space::KERNEL_RW,
        RegionKind::Stack,
        "kernel stack",
        GUARD_BYTES,
    )?;
    let bottom = region.start.as_usize() + GUARD_BYTES;
    if let Err(error) = space::map_new_memory(VirtAddr::new(bottom), len, space::KERNEL_RW) {
        let _ = space::release(region.start);
        return Err(error);
    }
    Ok(KernelStack {
        region_start: region.start,
        bottom,
        top: bottom + len,
    })
}
