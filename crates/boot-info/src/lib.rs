//! The handoff between Hypha's loader (`boot/`) and its kernel (`kernel/`).
//!
//! `no_std`, no `alloc`, no `unsafe`: plain `#[repr(C)]` data that the loader
//! fills in physical memory and the kernel reads through the physical-memory
//! map, plus the pure functions both sides (and host tests) share: the
//! virtual layout, the KASLR base choice and the memory-map bookkeeping.
//!
//! Not here: parsing the device tree (the loader does, with the `fdt`
//! crate), page tables (`kmem`), anything that touches hardware.
//!
//! A [`BootInfo`] starts with [`BOOT_INFO_MAGIC`] and [`BOOT_INFO_VERSION`];
//! the kernel refuses a handoff whose magic, version or size it does not
//! know (see [`BootInfo::validate`]).
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod bootargs;
pub mod initrd;
pub mod kaslr;
pub mod layout;
mod memory_map;

pub use memory_map::{MemoryKind, MemoryMap, MemoryMapError, MemoryRegion};

/// `"HYPHABI1"` read as a little-endian `u64`.
pub const BOOT_INFO_MAGIC: u64 = u64::from_le_bytes(*b"HYPHABI1");
/// Bumped whenever the layout of [`BootInfo`] changes.
pub const BOOT_INFO_VERSION: u32 = 3;
/// How many harts the handoff can describe.
pub const MAX_HARTS: usize = 16;
/// How many bytes of the FDT `rng-seed` (or `kaslr-seed`) are passed on.
pub const RNG_SEED_LEN: usize = 32;

/// Everything the kernel learns from the loader.
///
/// The loader places it in its own page-aligned frames (kind
/// [`MemoryKind::BOOT_INFO`]); the kernel reads it at
/// `physical address + physical_memory_offset`.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct BootInfo {
    /// [`BOOT_INFO_MAGIC`].
    pub magic: u64,
    /// [`BOOT_INFO_VERSION`].
    pub version: u32,
    /// `size_of::<BootInfo>()` as the loader saw it.
    pub size_bytes: u32,
    /// Physical memory: usable RAM and what is in use by whom.
    pub memory_map: MemoryMap,
    /// The harts the loader found and started, boot hart first.
    pub harts: [HartInfo; MAX_HARTS],
    /// How many entries of `harts` are valid.
    pub hart_count: u32,
    /// The paging mode the loader chose (see [`PagingMode`]).
    pub paging_mode: PagingMode,
    /// Hart id of the hart that ran the loader.
    pub boot_hart_id: u64,
    /// Physical address of the flattened device tree.
    pub fdt_physical: u64,
    /// Size of the device tree in bytes.
    pub fdt_len_bytes: u64,
    /// Virtual address = physical address + this, for all of RAM.
    pub physical_memory_offset: u64,
    /// Physical address of the root page table the loader built (the
    /// kernel runs on it).
    pub root_page_table_physical: u64,
    /// Virtual address the kernel image was linked at ([`layout::KERNEL_LINK_BASE`]).
    pub kernel_link_base: u64,
    /// Virtual address the kernel image runs at.
    pub kernel_virtual_base: u64,
    /// `kernel_virtual_base - kernel_link_base` (wrapping): subtract it from a
    /// runtime address to get the address in the ELF.
    pub kaslr_slide: u64,
    /// Physical address of the kernel image's first page.
    pub kernel_physical_base: u64,
    /// Size of the kernel image in memory, page-aligned.
    pub kernel_len_bytes: u64,
    /// Frequency of the `time` CSR in Hz (`timebase-frequency`).
    pub timebase_frequency_hz: u64,
    /// Value of the `time` CSR when the loader started.
    pub loader_start_ticks: u64,
    /// Seed bytes from the FDT (`rng-seed` or `kaslr-seed`); zero-padded.
    pub rng_seed: [u8; RNG_SEED_LEN],
    /// How many bytes of `rng_seed` came from the device tree (0: none, the
    /// loader then mixed the `time` CSR into its choice).
    pub rng_seed_len: u32,
    /// Whether the KASLR seed was fixed by `kaslr.seed=N` in the bootargs.
    pub kaslr_seed_fixed: u32,
    /// The seed the KASLR base was derived from.
    pub kaslr_seed: u64,
    /// Physical address of the 16550 console UART the loader used (0: none),
    /// so the kernel can print before it parses the device tree.
    pub console_uart_physical: u64,
    /// Physical address of the SiFive test device (0: none), so even an
    /// early failure can end the QEMU run with a status.
    pub test_device_physical: u64,
    /// Physical address of the initrd (`/chosen` `linux,initrd-start`);
    /// 0 with `initrd_len_bytes` 0 when there is none. Its pages are
    /// [`MemoryKind::INITRD`] in the memory map.
    pub initrd_physical: u64,
    /// Size of the initrd in bytes (exact, not page-rounded).
    pub initrd_len_bytes: u64,
}

/// What the loader set up for one hart.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HartInfo {
    /// The hart's id (`mhartid`, the FDT `reg`).
    pub hart_id: u64,
    /// Top (initial `sp`) of the hart's kernel stack; the page below its
    /// lowest address is an unmapped guard page.
    pub stack_top: u64,
    /// Size of that stack in bytes.
    pub stack_len_bytes: u64,
    /// Top of the hart's trap stack, also guard-paged.
    pub trap_stack_top: u64,
    /// Size of the trap stack in bytes.
    pub trap_stack_len_bytes: u64,
    /// Virtual address of the hart's zeroed per-CPU block (initial `tp`).
    pub per_cpu: u64,
    /// Size of the per-CPU block in bytes.
    pub per_cpu_len_bytes: u64,
    /// Whether SBI `hart_start` succeeded for this hart (always 1 for the
    /// boot hart).
    pub started: u32,
    /// Padding; zero.
    pub reserved: u32,
}

/// The paging mode, with the value of `satp.MODE` that selects it.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PagingMode(pub u64);

impl PagingMode {
    /// Three-level, 39-bit virtual addresses.
    pub const SV39: Self = Self(8);
    /// Four-level, 48-bit virtual addresses.
    pub const SV48: Self = Self(9);

    /// Number of virtual-address bits, or `None` for an unknown mode.
    #[must_use]
    pub const fn virtual_address_bits(self) -> Option<u32> {
        match self.0 {
            8 => Some(39),
            9 => Some(48),
            _ => None,
        }
    }
}

/// Why a handoff was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootInfoError {
    /// The magic is not [`BOOT_INFO_MAGIC`]: this is not a `BootInfo`.
    BadMagic(u64),
    /// Loader and kernel disagree on [`BOOT_INFO_VERSION`].
    VersionMismatch {
        /// What the loader wrote.
        found: u32,
        /// What this kernel understands.
        expected: u32,
    },
    /// Loader and kernel disagree on the structure's size.
    SizeMismatch {
        /// What the loader wrote.
        found: u32,
        /// What this kernel computes.
        expected: u32,
    },
    /// More harts or memory regions than the arrays hold.
    CountOutOfRange,
    /// The paging mode is neither Sv39 nor Sv48.
    UnknownPagingMode(u64),
}

impl core::fmt::Display for BootInfoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadMagic(magic) => write!(f, "boot info magic {magic:#x} is not {BOOT_INFO_MAGIC:#x}"),
            Self::VersionMismatch { found, expected } => {
                write!(f, "boot info version {found}, kernel expects {expected}")
            }
            Self::SizeMismatch { found, expected } => {
                write!(f, "boot info is {found} bytes, kernel expects {expected}")
            }
            Self::CountOutOfRange => f.write_str("boot info hart or region count out of range"),
            Self::UnknownPagingMode(mode) => write!(f, "unknown paging mode {mode}"),
        }
    }
}

// === impl BootInfo ===

impl BootInfo {
    /// An empty handoff with magic, version and size filled in.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            magic: BOOT_INFO_MAGIC,
            version: BOOT_INFO_VERSION,
            size_bytes: size_of_boot_info(),
            memory_map: MemoryMap::new(),
            harts: [HartInfo::EMPTY; MAX_HARTS],
            hart_count: 0,
            paging_mode: PagingMode(0),
            boot_hart_id: 0,
            fdt_physical: 0,
            fdt_len_bytes: 0,
            physical_memory_offset: 0,
            root_page_table_physical: 0,
            kernel_link_base: layout::KERNEL_LINK_BASE,
            kernel_virtual_base: 0,
            kaslr_slide: 0,
            kernel_physical_base: 0,
            kernel_len_bytes: 0,
            timebase_frequency_hz: 0,
            loader_start_ticks: 0,
            rng_seed: [0; RNG_SEED_LEN],
            rng_seed_len: 0,
            kaslr_seed_fixed: 0,
            kaslr_seed: 0,
            console_uart_physical: 0,
            test_device_physical: 0,
            initrd_physical: 0,
            initrd_len_bytes: 0,
        }
    }

    /// Checks magic, version, size and counts.
    ///
    /// # Errors
    ///
    /// The first [`BootInfoError`] found.
    pub fn validate(&self) -> Result<(), BootInfoError> {
        if self.magic != BOOT_INFO_MAGIC {
            return Err(BootInfoError::BadMagic(self.magic));
        }
        if self.version != BOOT_INFO_VERSION {
            return Err(BootInfoError::VersionMismatch { found: self.version, expected: BOOT_INFO_VERSION });
        }
        if self.size_bytes != size_of_boot_info() {
            return Err(BootInfoError::SizeMismatch { found: self.size_bytes, expected: size_of_boot_info() });
        }
        if self.harts().is_none() || self.memory_map.len() > memory_map::MAX_MEMORY_REGIONS {
            return Err(BootInfoError::CountOutOfRange);
        }
        if self.paging_mode.virtual_address_bits().is_none() {
            return Err(BootInfoError::UnknownPagingMode(self.paging_mode.0));
        }
        Ok(())
    }

    /// The valid entries of `harts`, or `None` if `hart_count` is out of range.
    #[must_use]
    pub fn harts(&self) -> Option<&[HartInfo]> {
        let count = usize::try_from(self.hart_count).ok()?;
        self.harts.get(..count)
    }

    /// The seed bytes the device tree provided.
    #[must_use]
    pub fn rng_seed(&self) -> &[u8] {
        let len = usize::try_from(self.rng_seed_len).unwrap_or(0).min(RNG_SEED_LEN);
        &self.rng_seed[..len]
    }

    /// The initrd's physical `(start, len_bytes)`, if the loader found one.
    #[must_use]
    pub const fn initrd(&self) -> Option<(u64, u64)> {
        if self.initrd_len_bytes == 0 { None } else { Some((self.initrd_physical, self.initrd_len_bytes)) }
    }

    /// Converts a runtime kernel address into the address it has in the
    /// kernel ELF (what a symboliser wants).
    #[must_use]
    pub const fn link_address(&self, runtime_address: u64) -> u64 {
        runtime_address.wrapping_sub(self.kaslr_slide)
    }
}

impl Default for BootInfo {
    fn default() -> Self {
        Self::new()
    }
}

const fn size_of_boot_info() -> u32 {
    let size = core::mem::size_of::<BootInfo>();
    assert!(size <= u32::MAX as usize);
    #[expect(clippy::cast_possible_truncation, reason = "checked against u32::MAX just above, at compile time")]
    let size = size as u32;
    size
}

// === impl HartInfo ===

impl HartInfo {
    /// An unused slot.
    pub const EMPTY: Self = Self {
        hart_id: 0,
        stack_top: 0,
        stack_len_bytes: 0,
        trap_stack_top: 0,
        trap_stack_len_bytes: 0,
        per_cpu: 0,
        per_cpu_len_bytes: 0,
        started: 0,
        reserved: 0,
    };
}

#[cfg(test)]
mod tests;
