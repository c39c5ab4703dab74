//! The initrd as the loader handed it over: a byte slice in the physical
//! map, checked against the memory map.

use hypha_boot_info::{BootInfo, MemoryKind, initrd::page_range};

/// Why the handoff's initrd cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitrdError {
    /// Its pages are not all [`MemoryKind::INITRD`] in the memory map, so
    /// the frame allocator might hand them out.
    NotReserved {
        /// Physical start.
        start: u64,
        /// Length in bytes.
        len_bytes: u64,
    },
    /// The range does not fit the kernel's address space.
    OutOfRange,
}

impl core::fmt::Display for InitrdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotReserved { start, len_bytes } => {
                write!(f, "initrd at {start:#x} ({len_bytes} bytes) is not reserved in the memory map")
            }
            Self::OutOfRange => f.write_str("initrd range does not fit the address space"),
        }
    }
}

/// The initrd's bytes, `Ok(None)` when the loader found none.
///
/// # Errors
///
/// [`InitrdError`] when the handoff names a range the memory map does not
/// reserve as [`MemoryKind::INITRD`] (the kernel then ignores it).
pub fn find(info: &BootInfo) -> Result<Option<&'static [u8]>, InitrdError> {
    let Some((start, len_bytes)) = info.initrd() else { return Ok(None) };
    let (pages, pages_len) = page_range(start, len_bytes).ok_or(InitrdError::OutOfRange)?;
    let reserved = info
        .memory_map
        .regions()
        .iter()
        .any(|region| region.kind == MemoryKind::INITRD && region.start <= pages && pages + pages_len <= region.end());
    if !reserved {
        return Err(InitrdError::NotReserved { start, len_bytes });
    }
    let physical = usize::try_from(start).map_err(|_| InitrdError::OutOfRange)?;
    let len = usize::try_from(len_bytes).map_err(|_| InitrdError::OutOfRange)?;
    let address = crate::boot::physical_to_virtual(physical);
    address.checked_add(len).ok_or(InitrdError::OutOfRange)?;
    // SAFETY: the range lies inside one INITRD region of the memory map:
    // the frame allocator manages those frames as allocated and nothing
    // ever frees them (only LOADER memory is reclaimed), the loader maps
    // all RAM at the physical-map offset for the kernel's lifetime, and no
    // code writes to the initrd, so the bytes stay valid and unchanged for
    // 'static.
    let bytes = unsafe { core::slice::from_raw_parts(core::ptr::with_exposed_provenance::<u8>(address), len) };
    Ok(Some(bytes))
}
