//! The physical memory map: usable RAM, and who uses which part of it.
//!
//! The loader starts from the RAM ranges in the device tree, marks what the
//! firmware, the device tree and the loader itself occupy, then carves its
//! allocations (kernel image, page tables, stacks, …) out of the usable
//! ranges with [`MemoryMap::allocate`]. The kernel's frame allocator takes
//! every [`MemoryKind::USABLE`] region, and later the
//! [`MemoryKind::LOADER`] ones.

/// Capacity of a [`MemoryMap`].
pub const MAX_MEMORY_REGIONS: usize = 64;

/// What a region of physical memory holds.
///
/// A `u32` newtype rather than an enum so that any value the loader wrote
/// is a valid Rust value on the kernel side.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryKind(pub u32);

impl MemoryKind {
    /// Free RAM.
    pub const USABLE: Self = Self(1);
    /// Firmware (OpenSBI) and anything the device tree reserves.
    pub const RESERVED: Self = Self(2);
    /// The loader image, its stack and the embedded kernel ELF; free once
    /// the kernel no longer runs on the loader's identity mapping.
    pub const LOADER: Self = Self(3);
    /// The kernel image as mapped (code, data, bss).
    pub const KERNEL: Self = Self(4);
    /// The flattened device tree.
    pub const FDT: Self = Self(5);
    /// Page tables built by the loader (the kernel keeps running on them).
    pub const PAGE_TABLES: Self = Self(6);
    /// Kernel and trap stacks of every hart.
    pub const STACKS: Self = Self(7);
    /// Per-CPU blocks.
    pub const PER_CPU: Self = Self(8);
    /// The `BootInfo` itself.
    pub const BOOT_INFO: Self = Self(9);
    /// The initrd QEMU (or the firmware) loaded, whole pages; the kernel
    /// reads it in place and never frees it.
    pub const INITRD: Self = Self(10);

    /// A short lowercase name for logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self.0 {
            1 => "usable",
            2 => "reserved",
            3 => "loader",
            4 => "kernel",
            5 => "fdt",
            6 => "page-tables",
            7 => "stacks",
            8 => "per-cpu",
            9 => "boot-info",
            10 => "initrd",
            _ => "unknown",
        }
    }
}

/// A physical range `[start, start + len_bytes)` of one kind.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryRegion {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len_bytes: u64,
    /// What it holds.
    pub kind: MemoryKind,
    /// Padding; zero.
    pub reserved: u32,
}

impl MemoryRegion {
    /// One past the last byte.
    #[must_use]
    pub const fn end(&self) -> u64 {
        self.start + self.len_bytes
    }
}

/// Why the memory map could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryMapError {
    /// All [`MAX_MEMORY_REGIONS`] slots are in use.
    Full,
    /// No usable region can hold the requested allocation.
    OutOfMemory {
        /// Requested size.
        len_bytes: u64,
    },
    /// The alignment is not a power of two.
    BadAlignment,
    /// A range wraps around the end of the address space.
    Overflow,
}

impl core::fmt::Display for MemoryMapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Full => write!(f, "memory map is full ({MAX_MEMORY_REGIONS} regions)"),
            Self::OutOfMemory { len_bytes } => write!(f, "no usable memory for {len_bytes} bytes"),
            Self::BadAlignment => f.write_str("alignment is not a power of two"),
            Self::Overflow => f.write_str("range wraps around the address space"),
        }
    }
}

/// A sorted list of non-overlapping regions.
#[repr(C)]
#[derive(Debug, Clone)]
pub struct MemoryMap {
    regions: [MemoryRegion; MAX_MEMORY_REGIONS],
    len: u32,
    reserved: u32,
}

// === impl MemoryMap ===

impl MemoryMap {
    /// An empty map.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            regions: [MemoryRegion { start: 0, len_bytes: 0, kind: MemoryKind(0), reserved: 0 }; MAX_MEMORY_REGIONS],
            len: 0,
            reserved: 0,
        }
    }

    /// Number of regions.
    #[must_use]
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// Whether the map has no regions.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The regions in address order (empty if the count is corrupt).
    #[must_use]
    pub fn regions(&self) -> &[MemoryRegion] {
        self.regions.get(..self.len()).unwrap_or(&[])
    }

    /// Total bytes of regions of `kind`.
    #[must_use]
    pub fn total_bytes(&self, kind: MemoryKind) -> u64 {
        self.regions().iter().filter(|region| region.kind == kind).map(|region| region.len_bytes).sum()
    }

    /// Whether every byte of `[start, start + len_bytes)` lies in
    /// [`MemoryKind::USABLE`] regions (false for an empty or wrapping range).
    #[must_use]
    pub fn is_usable(&self, start: u64, len_bytes: u64) -> bool {
        let Some(end) = start.checked_add(len_bytes) else { return false };
        let mut cursor = start;
        for region in self.regions() {
            if region.end() <= cursor {
                continue;
            }
            if region.start > cursor || region.kind != MemoryKind::USABLE {
                return false;
            }
            cursor = region.end();
            if cursor >= end {
                return len_bytes > 0;
            }
        }
        false
    }

    /// Adds RAM as usable. Parts overlapping existing regions are ignored
    /// (those keep their kind).
    ///
    /// # Errors
    ///
    /// [`MemoryMapError::Full`] or [`MemoryMapError::Overflow`].
    pub fn add_usable(&mut self, start: u64, len_bytes: u64) -> Result<(), MemoryMapError> {
        let end = start.checked_add(len_bytes).ok_or(MemoryMapError::Overflow)?;
        let mut cursor = start;
        while cursor < end {
            // The next existing region at or after the cursor that overlaps.
            let next = self.regions().iter().find(|region| region.end() > cursor && region.start < end).copied();
            match next {
                Some(region) if region.start <= cursor => cursor = region.end(),
                Some(region) => {
                    self.insert(MemoryRegion { start: cursor, len_bytes: region.start - cursor, kind: MemoryKind::USABLE, reserved: 0 })?;
                    cursor = region.end();
                }
                None => {
                    self.insert(MemoryRegion { start: cursor, len_bytes: end - cursor, kind: MemoryKind::USABLE, reserved: 0 })?;
                    cursor = end;
                }
            }
        }
        Ok(())
    }

    /// Marks `[start, start + len_bytes)` as `kind` wherever it is usable
    /// now; non-usable parts keep their kind, and parts outside RAM are
    /// not recorded.
    ///
    /// # Errors
    ///
    /// [`MemoryMapError::Full`] when splitting needs more slots, or
    /// [`MemoryMapError::Overflow`].
    pub fn mark(&mut self, start: u64, len_bytes: u64, kind: MemoryKind) -> Result<(), MemoryMapError> {
        let end = start.checked_add(len_bytes).ok_or(MemoryMapError::Overflow)?;
        let mut index = 0;
        while index < self.len() {
            let region = self.regions[index];
            if region.kind != MemoryKind::USABLE || region.end() <= start || region.start >= end {
                index += 1;
                continue;
            }
            let cut_start = region.start.max(start);
            let cut_end = region.end().min(end);
            // Replace `region` by up to three pieces: before, cut, after.
            self.remove(index);
            if region.start < cut_start {
                self.insert(MemoryRegion { start: region.start, len_bytes: cut_start - region.start, ..region })?;
            }
            self.insert(MemoryRegion { start: cut_start, len_bytes: cut_end - cut_start, kind, reserved: 0 })?;
            if cut_end < region.end() {
                self.insert(MemoryRegion { start: cut_end, len_bytes: region.end() - cut_end, ..region })?;
            }
            index = 0;
        }
        self.merge_neighbours();
        Ok(())
    }

    /// Takes `len_bytes` aligned to `align` from the lowest usable region
    /// that can hold it, marks it `kind` and returns its start.
    ///
    /// # Errors
    ///
    /// [`MemoryMapError::OutOfMemory`], [`MemoryMapError::BadAlignment`] or
    /// [`MemoryMapError::Full`].
    pub fn allocate(&mut self, len_bytes: u64, align: u64, kind: MemoryKind) -> Result<u64, MemoryMapError> {
        if !align.is_power_of_two() {
            return Err(MemoryMapError::BadAlignment);
        }
        let found = self.regions().iter().filter(|region| region.kind == MemoryKind::USABLE).find_map(|region| {
            let start = region.start.checked_add(align - 1)? & !(align - 1);
            let end = start.checked_add(len_bytes)?;
            (end <= region.end()).then_some(start)
        });
        let start = found.ok_or(MemoryMapError::OutOfMemory { len_bytes })?;
        self.mark(start, len_bytes, kind)?;
        Ok(start)
    }

    fn insert(&mut self, region: MemoryRegion) -> Result<(), MemoryMapError> {
        if region.len_bytes == 0 {
            return Ok(());
        }
        let len = self.len();
        if len >= MAX_MEMORY_REGIONS {
            return Err(MemoryMapError::Full);
        }
        let position = self.regions().iter().position(|existing| existing.start > region.start).unwrap_or(len);
        self.regions.copy_within(position..len, position + 1);
        self.regions[position] = region;
        self.len += 1;
        Ok(())
    }

    fn remove(&mut self, index: usize) {
        let len = self.len();
        self.regions.copy_within(index + 1..len, index);
        self.len -= 1;
    }

    fn merge_neighbours(&mut self) {
        let mut index = 0;
        while index + 1 < self.len() {
            let (left, right) = (self.regions[index], self.regions[index + 1]);
            if left.kind == right.kind && left.end() == right.start {
                self.regions[index].len_bytes += right.len_bytes;
                self.remove(index + 1);
            } else {
                index += 1;
            }
        }
    }
}

impl Default for MemoryMap {
    fn default() -> Self {
        Self::new()
    }
}
