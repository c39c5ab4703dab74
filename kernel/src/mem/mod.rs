//! Kernel memory management: physical frames, the kernel heap, the kernel
//! address space (regions + the live page table) and guard-paged stacks.
//!
//! The data structures are host-tested in `crates/kmem`; this module is the
//! glue that owns the global instances, takes the locks, flushes TLBs and
//! reads the loader's memory map.
//!
//! Lock order (outer to inner): `LAYOUT` (address-space regions) → heap →
//! demand-zero `AREAS` → `TABLE` (page table) → `FRAMES`. Code holding
//! `AREAS`, `TABLE` or `FRAMES` never allocates on the heap, because heap
//! growth takes the last two (and the page-fault path takes all three).
//!
//! Page faults: the trap handler first offers load/store page faults to
//! [`handle_demand_fault`] (demand-zero reservations, `demand.rs`), then
//! asks [`classify_fault`] to describe a fault that is a kernel bug.
//!
//! Not here: user address spaces and VMOs, swapping.
#![cfg_attr(
    not(feature = "ktest"),
    expect(
        dead_code,
        unused_imports,
        reason = "the frame, stack, region and fault-classification API is exercised by the \
                  in-kernel tests today; the scheduler (fiber stacks) and the trap handler \
                  (stack-overflow reports for allocated stacks) are its next callers"
    )
)]

mod demand;
mod error;
mod fiber_stacks;
mod frames;
mod heap;
mod reclaim;
mod reservation;
mod space;
mod stack;

#[cfg(feature = "ktest")]
mod tests;

pub use demand::{DemandFault, handle_fault as handle_demand_fault, usage as demand_usage};
pub use error::MemError;
pub use fiber_stacks::KernelFiberStacks;
pub use frames::{alloc_frames, free_frames};
pub use reclaim::reclaim_loader_memory;
pub use reservation::Reservation;
pub use space::{FaultKind, classify_fault, find_region, translate};
pub use stack::{KernelStack, alloc_kernel_stack};

use hypha_boot_info::BootInfo;

/// Memory statistics for the `mem` console command.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemStats {
    /// Frames the frame allocator manages (free + used).
    pub frames_total: usize,
    /// Frames free.
    pub frames_free: usize,
    /// Frames in use (kernel image, tables, heap, stacks, ...).
    pub frames_used: usize,
    /// Heap bytes handed out to live allocations.
    pub heap_used_bytes: usize,
    /// Heap bytes currently mapped and claimed by the allocator.
    pub heap_capacity_bytes: usize,
    /// Virtual bytes reserved for the heap to grow into.
    pub heap_reserved_bytes: usize,
    /// Regions in the kernel address space.
    pub regions: usize,
}

/// Sets up memory management from the loader's memory map: the frame
/// allocator, the kernel address space (regions for the kernel image,
/// physical map, stacks and heap), and the growable kernel heap. Then, once
/// every started hart has entered the kernel, gives the loader's memory
/// back to the frame allocator.
///
/// # Panics
///
/// If memory cannot be set up at all (a malformed memory map or too
/// little RAM for the allocator's bookkeeping): the kernel cannot run
/// without it, and the panic report says why.
pub fn init(boot_info: &'static BootInfo) {
    if let Err(error) = try_init(boot_info) {
        panic!("mem: cannot set up memory management: {error}");
    }
    match reclaim_loader_memory() {
        Ok(0) => {}
        Ok(frames) => log::debug!("mem: reclaimed {} KiB of loader memory", frames * 4),
        Err(error) => log::warn!("mem: loader memory not reclaimed: {error}"),
    }
    let stats = stats();
    log::info!(
        "mem: {} MiB managed, {} MiB free, heap {} KiB mapped, {} regions",
        stats.frames_total >> 8,
        stats.frames_free >> 8,
        stats.heap_capacity_bytes >> 10,
        stats.regions,
    );
}

/// [`init`] without the panic.
///
/// # Errors
///
/// Whatever step failed.
pub fn try_init(boot_info: &'static BootInfo) -> Result<(), MemError> {
    // The page table and physical map first: the frame allocator's
    // bookkeeping is reached through the physical map.
    space::init(boot_info)?;
    frames::init(boot_info)?;
    log::debug!("mem: frame allocator ready");
    heap::init()?;
    log::debug!("mem: heap ready");
    space::init_layout(boot_info)?;
    log::debug!("mem: address-space layout ready");
    Ok(())
}

/// Current frame and heap statistics (zeros before [`init`]).
#[must_use]
pub fn stats() -> MemStats {
    let (frames_total, frames_free) = frames::counts();
    let heap = heap::stats();
    MemStats {
        frames_total,
        frames_free,
        frames_used: frames_total - frames_free,
        heap_used_bytes: heap.used_bytes,
        heap_capacity_bytes: heap.capacity_bytes,
        heap_reserved_bytes: heap.reserved_bytes,
        regions: space::region_count(),
    }
}

/// Prints allocator statistics for the `mem` console command.
pub fn print_stats() {
    let stats = stats();
    crate::println!(
        "  frames: {} total, {} free, {} used ({} KiB used)",
        stats.frames_total,
        stats.frames_free,
        stats.frames_used,
        stats.frames_used * 4
    );
    crate::println!(
        "  heap: {} KiB used of {} KiB mapped ({} MiB reserved)",
        stats.heap_used_bytes >> 10,
        stats.heap_capacity_bytes >> 10,
        stats.heap_reserved_bytes >> 20
    );
    crate::println!("  kernel address space: {} regions", stats.regions);
    let (areas, committed, faults) = demand::stats();
    crate::println!(
        "  demand-zero: {areas} areas, {} KiB committed, {faults} pages faulted in since boot",
        committed * 4
    );
    crate::println!(
        "  loader memory reclaimed: {} KiB",
        reclaim::reclaimed_frames() * 4
    );
}
