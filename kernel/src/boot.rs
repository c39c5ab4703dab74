//! The loader's handoff as the kernel keeps it.

use crate::sync::Once;
use core::sync::atomic::{AtomicUsize, Ordering};
use hypha_boot_info::BootInfo;

static BOOT_INFO: Once<&'static BootInfo> = Once::new();
static KASLR_SLIDE: AtomicUsize = AtomicUsize::new(0);

/// Validates and keeps the handoff at virtual address `address`.
///
/// # Safety
///
/// `address` is the `BootInfo` the loader wrote, mapped and never written
/// again.
///
/// # Errors
///
/// The validation error.
pub unsafe fn init(address: usize) -> Result<&'static BootInfo, hypha_boot_info::BootInfoError> {
    let pointer = core::ptr::with_exposed_provenance::<BootInfo>(address);
    // SAFETY: per the contract the loader wrote a BootInfo here, mapped
    // read-write through the physical map and immutable from now on. The
    // magic/version/size are checked before any other field is trusted.
    let info = unsafe { &*pointer };
    info.validate()?;
    KASLR_SLIDE.store(usize::try_from(info.kaslr_slide).unwrap_or(0), Ordering::Relaxed);
    BOOT_INFO.set(info);
    Ok(info)
}

/// The handoff (after [`init`]).
#[must_use]
pub fn info() -> Option<&'static BootInfo> {
    BOOT_INFO.get().copied()
}

/// Runtime address minus link address of the kernel image.
#[must_use]
pub fn kaslr_slide() -> usize {
    KASLR_SLIDE.load(Ordering::Relaxed)
}

/// Virtual address of physical address `physical` in the physical map.
#[must_use]
pub fn physical_to_virtual(physical: usize) -> usize {
    let offset = info().map_or(0, |info| usize::try_from(info.physical_memory_offset).unwrap_or(0));
    physical.wrapping_add(offset)
}
