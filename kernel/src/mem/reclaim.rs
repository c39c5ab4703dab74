//! Giving the loader's memory back once no hart can be running in it.

use super::{MemError, frames, space};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use hypha_boot_info::MemoryKind;
use hypha_kmem::PhysAddr;

static RECLAIMED: AtomicBool = AtomicBool::new(false);
/// Frames given back by [`reclaim_loader_memory`].
static RECLAIMED_FRAMES: AtomicUsize = AtomicUsize::new(0);

/// Frames of loader memory reclaimed so far.
pub(super) fn reclaimed_frames() -> usize {
    RECLAIMED_FRAMES.load(Ordering::Relaxed)
}

/// How long to wait for started harts to enter the kernel.
const WAIT_FOR_HARTS_MS: u64 = 1000;

/// Unmaps the loader's identity mapping and frees every frame of
/// [`MemoryKind::LOADER`] memory (the loader image, its stack, the
/// embedded kernel ELF, the hart launch blocks). Waits (bounded) until every
/// hart the loader started has entered the kernel, since until then a hart
/// may still be running the loader's trampoline. Returns the number of
/// frames freed; 0 if already done.
///
/// # Errors
///
/// [`MemError::NotInitialized`] before `mem::init`, or
/// [`MemError::BadBootInfo`] if a started hart never entered the kernel
/// (the memory then stays reserved).
pub fn reclaim_loader_memory() -> Result<usize, MemError> {
    let info = crate::boot::info().ok_or(MemError::NotInitialized)?;
    let expected = info
        .harts()
        .unwrap_or(&[])
        .iter()
        .filter(|hart| hart.started != 0)
        .count();
    let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(WAIT_FOR_HARTS_MS);
    while crate::percpu::all().count() < expected {
        if crate::time::now_ticks() > deadline {
            return Err(MemError::BadBootInfo(
                "a started hart never entered the kernel",
            ));
        }
        core::hint::spin_loop();
    }
    if RECLAIMED.swap(true, Ordering::AcqRel) {
        return Ok(0);
    }
    // SAFETY: every started hart runs kernel code in the upper half (each
    // registered its per-CPU block from `kernel_entry`), so nothing uses
    // the loader's lower-half identity mapping any more.
    unsafe { space::unmap_lower_half() }?;
    let mut freed = 0;
    for region in info
        .memory_map
        .regions()
        .iter()
        .filter(|region| region.kind == MemoryKind::LOADER)
    {
        // Only whole frames: a frame shared with a neighbour stays in use.
        let start = region.start.div_ceil(4096) * 4096;
        let end = region.end() / 4096 * 4096;
        if end > start {
            // SAFETY: loader memory is used by nobody now: no hart runs the
            // loader, its identity mapping is gone, and the kernel never
            // kept pointers into it (the BootInfo and FDT are separate kinds).
            freed += unsafe { frames::free_range(PhysAddr::new(start), PhysAddr::new(end)) }?;
        }
    }
    RECLAIMED_FRAMES.store(freed, Ordering::Relaxed);
    Ok(freed)
}
