//! The physical memory map as the loader first sees it: RAM from the
//! device tree, minus firmware, reservations, the device tree, the loader
//! itself and the initrd.

use crate::device_tree::Machine;
use hypha_boot_info::{MemoryKind, MemoryMap, MemoryMapError, MemoryRegion};

/// What became of the device tree's initrd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitrdPlacement {
    /// The device tree names none.
    None,
    /// Its whole pages are marked [`MemoryKind::INITRD`]: `(start, len_bytes)`.
    Kept(u64, u64),
    /// It is not entirely in free RAM (it overlaps firmware, the device
    /// tree, the loader, or lies outside RAM): ignored, so nothing is
    /// handed out twice.
    Overlaps(u64, u64),
}

/// Fills `map` and returns the end of RAM and the initrd's fate. `loader`
/// and `fdt` are `(start, end)` and `(start, len)` physical ranges. The
/// initrd is marked here, before anything is allocated from the map, so
/// no later allocation (kernel image, page tables, stacks) can overlap it.
///
/// # Errors
///
/// [`MemoryMapError`] when the map overflows its capacity.
pub fn build_map(
    map: &mut MemoryMap,
    machine: &Machine<'_>,
    loader: (u64, u64),
    fdt: (u64, u64),
) -> Result<(u64, InitrdPlacement), MemoryMapError> {
    for region in machine.fdt.memory().regions() {
        map.add_usable(region.starting_address as u64, region.size.unwrap_or(0) as u64)?;
    }
    // Firmware (OpenSBI) lives below the loader; keep all of it out of the
    // kernel's hands even where the device tree does not reserve it.
    let ram_start = map.regions().first().map_or(0, |region| region.start);
    map.mark(ram_start, loader.0.saturating_sub(ram_start), MemoryKind::RESERVED)?;
    for reservation in machine.fdt.memory_reservations() {
        map.mark(reservation.address() as u64, reservation.size() as u64, MemoryKind::RESERVED)?;
    }
    if let Some(reserved) = machine.fdt.find_node("/reserved-memory") {
        for child in reserved.children() {
            for region in child.reg().into_iter().flatten() {
                map.mark(region.starting_address as u64, region.size.unwrap_or(0) as u64, MemoryKind::RESERVED)?;
            }
        }
    }
    // Whole pages, so every usable region stays page-aligned.
    let fdt_start = fdt.0 & !0xfff;
    let fdt_end = (fdt.0 + fdt.1).div_ceil(4096) * 4096;
    map.mark(fdt_start, fdt_end - fdt_start, MemoryKind::FDT)?;
    map.mark(loader.0, loader.1 - loader.0, MemoryKind::LOADER)?;
    let initrd = match machine.initrd {
        Ok(Some((start, len))) => match hypha_boot_info::initrd::page_range(start, len) {
            Some((pages, pages_len)) if map.is_usable(pages, pages_len) => {
                map.mark(pages, pages_len, MemoryKind::INITRD)?;
                InitrdPlacement::Kept(start, len)
            }
            _ => InitrdPlacement::Overlaps(start, len),
        },
        Ok(None) | Err(_) => InitrdPlacement::None,
    };
    Ok((map.regions().last().map_or(0, MemoryRegion::end), initrd))
}
