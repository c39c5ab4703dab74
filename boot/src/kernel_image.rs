//! Placing the kernel: the KASLR seed, a copy of its segments in fresh
//! RAM, relocation for the chosen base, and page-table entries with each
//! segment's own permissions.

use crate::elf::KernelElf;
use crate::paging::{self, TableFrames};
use crate::{LoadError, arch, println};
use hypha_boot_info::{MemoryKind, MemoryMap, kaslr};
use hypha_kmem::{PageFlags, PageTable};

/// Where the KASLR seed came from.
#[derive(Debug, Clone, Copy)]
pub struct Seed {
    /// The seed.
    pub value: u64,
    /// `kaslr.seed=N` in the bootargs.
    pub fixed: bool,
    /// `rng-seed`/`kaslr-seed` in the device tree.
    pub from_device_tree: bool,
}

/// The seed: the bootargs' `kaslr.seed` if given (reproducible tests),
/// else the device tree's seed bytes, else (weak, with a warning) the
/// `time` CSR.
pub fn choose_seed(fixed: Option<u64>, device_tree_seed: &[u8]) -> Seed {
    match fixed {
        Some(value) => Seed { value, fixed: true, from_device_tree: false },
        None if !device_tree_seed.is_empty() => {
            Seed { value: kaslr::seed_from_bytes(device_tree_seed), fixed: false, from_device_tree: true }
        }
        None => {
            println!("hypha-boot: warning: no rng-seed in the device tree; KASLR seed from the time CSR");
            Seed { value: kaslr::mix(arch::read_time()), fixed: false, from_device_tree: false }
        }
    }
}

/// A loaded, relocated kernel image.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    /// Link-time address of the image's first page.
    pub link_base: u64,
    /// Runtime address of the image's first page.
    pub virtual_base: u64,
    /// `virtual_base - link_base`, wrapping.
    pub slide: u64,
    /// Physical address of the copy.
    pub physical_base: u64,
    /// Image size in memory, page-aligned.
    pub len_bytes: u64,
    /// Relocations applied.
    pub relocations: usize,
}

/// Copies the kernel's segments into fresh RAM (zero-filling `.bss`) and
/// relocates them for the base `seed` selects.
///
/// # Errors
///
/// The image does not fit the KASLR window or RAM, or has relocations the
/// loader cannot apply.
pub fn place(kernel: &KernelElf<'_>, seed: u64, map: &mut MemoryMap) -> Result<Placed, LoadError> {
    let (link_base, image_end) = kernel.image_bounds();
    let len_bytes = image_end - link_base;
    let virtual_base = kaslr::choose_kernel_base(seed, len_bytes).map_err(LoadError::Kaslr)?;
    let slide = virtual_base.wrapping_sub(link_base);
    let physical_base = map.allocate(len_bytes, 0x20_0000, MemoryKind::KERNEL)?;
    let image_len = usize::try_from(len_bytes).map_err(|_| LoadError::NoKernel)?;
    // SAFETY: `allocate` just handed us `len_bytes` bytes of RAM that
    // nothing else uses; paging is off, so the physical address is a pointer.
    let image = unsafe { core::slice::from_raw_parts_mut(physical_base as *mut u8, image_len) };
    image.fill(0);
    for segment in kernel.segments() {
        let offset = usize::try_from(segment.vaddr - link_base).map_err(|_| LoadError::NoKernel)?;
        let bytes = kernel.segment_bytes(&segment);
        image[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    let relocations = kernel.relocate(image, link_base, slide)?;
    Ok(Placed { link_base, virtual_base, slide, physical_base, len_bytes, relocations })
}

/// Maps each segment at its slid address with its own permissions
/// (global; never writable and executable, `KernelElf::parse` checked).
///
/// # Errors
///
/// What `kmem` reports (out of frames, overlapping segments).
pub fn map_segments(kernel: &KernelElf<'_>, placed: &Placed, table: &mut PageTable, frames: &mut TableFrames<'_>) -> Result<(), LoadError> {
    for segment in kernel.segments() {
        let mut flags = PageFlags::GLOBAL;
        if segment.read {
            flags |= PageFlags::READ;
        }
        if segment.write {
            flags |= PageFlags::WRITE;
        }
        if segment.execute {
            flags |= PageFlags::EXECUTE;
        }
        let physical = placed.physical_base + (segment.vaddr - placed.link_base);
        paging::map(table, frames, segment.vaddr.wrapping_add(placed.slide), physical, segment.mem_len, flags)?;
    }
    Ok(())
}
