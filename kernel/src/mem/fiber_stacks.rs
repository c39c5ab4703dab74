//! [`KernelFiberStacks`]: guard-paged kernel stacks for `hypha-fiber`.

use super::{KernelStack, MemError, alloc_kernel_stack};
use hypha_fiber::{StackAllocator, StackError, StackRegion};

/// Hands out [`KernelStack`]s as fiber stacks: mapped read-write, one
/// unmapped guard page below (a stack overflow faults there and
/// `classify_fault` reports it as one), freed on `deallocate`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelFiberStacks;

// SAFETY: each region comes from `alloc_kernel_stack`: `[limit, top)` is
// freshly mapped read-write kernel memory owned by that stack alone until
// `deallocate` unmaps it; `[guard_base, limit)` is never mapped, so every
// access faults; the memory is mapped by the kernel itself (no Rust
// provenance involved). The allocator holds no state, so sharing it between
// harts is trivially fine.
unsafe impl StackAllocator for KernelFiberStacks {
    fn allocate(&self, size: usize) -> Result<StackRegion, StackError> {
        let stack = alloc_kernel_stack(size).map_err(|error| match error {
            MemError::InvalidSize if size == 0 => StackError::TooSmall {
                requested: 0,
                minimum: 1,
            },
            MemError::InvalidSize => StackError::SizeOverflow,
            _ => StackError::OutOfMemory { code: 0 },
        })?;
        let (guard_start, bottom, top) = stack.into_raw_parts();
        StackRegion::new(guard_start, bottom, top).inspect_err(|_| {
            // SAFETY: the parts were taken from `stack` just above.
            drop(unsafe { KernelStack::from_raw_parts(guard_start, bottom, top) });
        })
    }

    unsafe fn deallocate(&self, region: StackRegion) {
        // SAFETY: `region` came from `allocate` (the caller's contract), so
        // these are the parts of a `KernelStack` taken apart there, and it
        // is handed back exactly once; no fiber runs on it any more.
        drop(unsafe {
            KernelStack::from_raw_parts(region.guard_base(), region.limit(), region.top())
        });
    }
}
