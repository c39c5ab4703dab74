//! [`AddressSpaceLayout`] and [`Region`].

use crate::addr::{PAGE_SIZE, VirtAddr, align_up, is_aligned};
use crate::paging::PageFlags;
use alloc::collections::BTreeMap;
use core::fmt;

/// What a region is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RegionKind {
    /// Kernel code (R+X).
    KernelText,
    /// Kernel read-only data (R).
    KernelReadOnly,
    /// Kernel data and bss (R+W).
    KernelData,
    /// The window through which all physical memory is reached.
    PhysicalMemory,
    /// The kernel heap (grows inside its reservation).
    Heap,
    /// A stack; its lowest [`Region::guard_len`] bytes are never mapped.
    Stack,
    /// Per-CPU / TLS blocks.
    PerCpu,
    /// A WebAssembly linear-memory reservation (committed on demand).
    WasmMemory,
    /// Compiled code.
    Code,
    /// Device registers.
    Mmio,
    /// Memory the loader handed over (boot info, device tree, loader image).
    Boot,
    /// Anything else.
    Other,
}

/// One region of virtual address space. `[start, start + len)`, page
/// aligned; the region may extend to the very top of the address space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: VirtAddr,
    /// Length in bytes (a non-zero multiple of `PAGE_SIZE`).
    pub len: usize,
    /// Permissions the mapped part of the region has (or will have).
    pub flags: PageFlags,
    /// What the region is for.
    pub kind: RegionKind,
    /// A short name for diagnostics (`"kernel .text"`, `"stack hart 1"`).
    pub name: &'static str,
    /// Bytes at the bottom of the region that are never mapped, so running
    /// off the end of a downward-growing stack faults (0: none).
    pub guard_len: usize,
}

impl Region {
    /// A region without a guard.
    #[must_use]
    pub const fn new(
        start: VirtAddr,
        len: usize,
        flags: PageFlags,
        kind: RegionKind,
        name: &'static str,
    ) -> Self {
        Self {
            start,
            len,
            flags,
            kind,
            name,
            guard_len: 0,
        }
    }

    /// The same region with its lowest `guard_len` bytes as a guard.
    #[must_use]
    pub const fn with_guard(mut self, guard_len: usize) -> Self {
        self.guard_len = guard_len;
        self
    }

    /// The last address inside the region.
    #[must_use]
    pub const fn last(&self) -> VirtAddr {
        VirtAddr::new(self.start.as_usize() + (self.len - 1))
    }

    /// One past the last address, or `None` if the region ends at the top of
    /// the address space.
    #[must_use]
    pub const fn end(&self) -> Option<VirtAddr> {
        self.start.checked_add(self.len)
    }

    /// Whether `va` is inside the region (guard included).
    #[must_use]
    pub const fn contains(&self, va: VirtAddr) -> bool {
        va.as_usize() >= self.start.as_usize() && va.as_usize() <= self.last().as_usize()
    }

    /// Whether `va` is inside the region's guard.
    #[must_use]
    pub const fn is_guard(&self, va: VirtAddr) -> bool {
        va.as_usize() >= self.start.as_usize()
            && va.as_usize() - self.start.as_usize() < self.guard_len
    }

    /// The part of the region that may be mapped: `(start, len)` after the guard.
    #[must_use]
    pub const fn usable(&self) -> (VirtAddr, usize) {
        (
            VirtAddr::new(self.start.as_usize() + self.guard_len),
            self.len - self.guard_len,
        )
    }
}

/// Why a region could not be added, found or placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegionError {
    /// Zero length, or a guard not smaller than the region.
    Empty,
    /// Start, length or guard not page aligned, or an alignment that is not
    /// a power of two.
    Misaligned,
    /// The region leaves the layout's bounds (or wraps).
    OutOfBounds {
        /// Start of the rejected region.
        start: VirtAddr,
    },
    /// The region overlaps an existing one.
    Overlaps {
        /// Start of the existing region.
        start: VirtAddr,
        /// Its name.
        name: &'static str,
    },
    /// Writable and executable at once: kernel regions are W^X.
    WriteAndExecute,
    /// The flags cannot describe a mapping (no R/X, or W without R).
    InvalidFlags(PageFlags),
    /// No region starts at that address.
    NotFound(VirtAddr),
    /// No free gap of that size and alignment is left.
    NoSpace {
        /// The requested length.
        len: usize,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty region (or guard as large as the region)"),
            Self::Misaligned => f.write_str("region start, length or guard not page aligned"),
            Self::OutOfBounds { start } => write!(f, "region at {start} leaves the address space"),
            Self::Overlaps { start, name } => write!(f, "overlaps region {name:?} at {start}"),
            Self::WriteAndExecute => f.write_str("region is writable and executable (W^X)"),
            Self::InvalidFlags(flags) => write!(f, "invalid region flags {flags:?}"),
            Self::NotFound(va) => write!(f, "no region starts at {va}"),
            Self::NoSpace { len } => write!(f, "no free space for {len:#x} bytes"),
        }
    }
}

/// A set of non-overlapping regions inside `[bounds_start, bounds_last]`.
#[derive(Debug, Clone)]
pub struct AddressSpaceLayout {
    bounds_start: VirtAddr,
    bounds_last: VirtAddr,
    /// Keyed by start address.
    regions: BTreeMap<usize, Region>,
}

// === impl AddressSpaceLayout ===

impl AddressSpaceLayout {
    /// An empty layout covering `[start, last]` (inclusive, so the top of
    /// the address space can be included).
    #[must_use]
    pub const fn new(start: VirtAddr, last: VirtAddr) -> Self {
        Self {
            bounds_start: start,
            bounds_last: last,
            regions: BTreeMap::new(),
        }
    }

    /// First address of the bounds.
    #[must_use]
    pub const fn bounds_start(&self) -> VirtAddr {
        self.bounds_start
    }

    /// Last address of the bounds.
    #[must_use]
    pub const fn bounds_last(&self) -> VirtAddr {
        self.bounds_last
    }

    /// Adds a region.
    ///
    /// # Errors
    ///
    /// [`RegionError::Empty`], [`RegionError::Misaligned`],
    /// [`RegionError::InvalidFlags`], [`RegionError::WriteAndExecute`],
    /// [`RegionError::OutOfBounds`] or [`RegionError::Overlaps`]; the
    /// layout is unchanged on error.
    pub fn insert(&mut self, region: Region) -> Result<(), RegionError> {
        Self::validate(&region)?;
        let start = region.start.as_usize();
        let last = start
            .checked_add(region.len - 1)
            .ok_or(RegionError::OutOfBounds {
                start: region.start,
            })?;
        if start < self.bounds_start.as_usize() || last > self.bounds_last.as_usize() {
            return Err(RegionError::OutOfBounds {
                start: region.start,
            });
        }
        if let Some(other) = self.overlapping(start, last) {
            return Err(RegionError::Overlaps {
                start: other.start,
                name: other.name,
            });
        }
        self.regions.insert(start, region);
        Ok(())
    }

    /// Finds the lowest free, `align`-aligned gap of `len` bytes at or
    /// above `at_least`.
    #[must_use]
    pub fn find_free(&self, len: usize, align: usize, at_least: VirtAddr) -> Option<VirtAddr> {
        if len == 0 || !align.is_power_of_two() {
            return None;
        }
        let mut cursor = at_least.as_usize().max(self.bounds_start.as_usize());
        let fits = |cursor: usize, limit: usize| -> Option<usize> {
            let candidate = align_up(cursor, align)?;
            let last = candidate.checked_add(len - 1)?;
            (last <= limit).then_some(candidate)
        };
        // Start with the region below the cursor, if it reaches past it.
        let below = self.regions.range(..=cursor).next_back().map(|(_, r)| r);
        if let Some(region) = below
            && region.last().as_usize() >= cursor
        {
            cursor = region.last().as_usize().checked_add(1)?;
        }
        for region in self.regions.range(cursor..).map(|(_, r)| r) {
            if let Some(limit) = region.start.as_usize().checked_sub(1)
                && let Some(found) = fits(cursor, limit)
            {
                return Some(VirtAddr::new(found));
            }
            cursor = region.last().as_usize().checked_add(1)?;
        }
        fits(cursor, self.bounds_last.as_usize()).map(VirtAddr::new)
    }

    /// Places a new region of `len` bytes (guard included) in the lowest
    /// free gap at or above `at_least`, aligned to `align`, and returns it.
    ///
    /// # Errors
    ///
    /// [`RegionError::NoSpace`] if no gap fits, or the errors of
    /// [`insert`](Self::insert) for a malformed request.
    #[expect(clippy::too_many_arguments, reason = "mirrors the Region fields")]
    pub fn allocate(
        &mut self,
        len: usize,
        align: usize,
        at_least: VirtAddr,
        flags: PageFlags,
        kind: RegionKind,
        name: &'static str,
        guard_len: usize,
    ) -> Result<Region, RegionError> {
        if !align.is_power_of_two() || !is_aligned(align.max(PAGE_SIZE), PAGE_SIZE) {
            return Err(RegionError::Misaligned);
        }
        let align = align.max(PAGE_SIZE);
        let probe = Region::new(VirtAddr::new(0), len, flags, kind, name).with_guard(guard_len);
        Self::validate(&probe)?;
        let start = self
            .find_free(len, align, at_least)
            .ok_or(RegionError::NoSpace { len })?;
        let region = Region { start, ..probe };
        self.insert(region)?;
        Ok(region)
    }

    /// Removes and returns the region starting at `start`.
    ///
    /// # Errors
    ///
    /// [`RegionError::NotFound`] if no region starts there.
    pub fn remove(&mut self, start: VirtAddr) -> Result<Region, RegionError> {
        self.regions
            .remove(&start.as_usize())
            .ok_or(RegionError::NotFound(start))
    }

    /// Changes the recorded flags of the region starting at `start`.
    ///
    /// # Errors
    ///
    /// [`RegionError::NotFound`], [`RegionError::InvalidFlags`] or
    /// [`RegionError::WriteAndExecute`].
    pub fn set_flags(&mut self, start: VirtAddr, flags: PageFlags) -> Result<(), RegionError> {
        Self::validate_flags(flags)?;
        let region = self
            .regions
            .get_mut(&start.as_usize())
            .ok_or(RegionError::NotFound(start))?;
        region.flags = flags;
        Ok(())
    }

    /// The region containing `va`, if any.
    #[must_use]
    pub fn find(&self, va: VirtAddr) -> Option<&Region> {
        self.regions
            .range(..=va.as_usize())
            .next_back()
            .map(|(_, region)| region)
            .filter(|region| region.contains(va))
    }

    /// The region starting exactly at `start`.
    #[must_use]
    pub fn get(&self, start: VirtAddr) -> Option<&Region> {
        self.regions.get(&start.as_usize())
    }

    /// All regions in ascending address order.
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// Number of regions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether there are no regions.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    // --- helpers ---

    fn validate(region: &Region) -> Result<(), RegionError> {
        if region.len == 0 || region.guard_len >= region.len {
            return Err(RegionError::Empty);
        }
        if !region.start.is_aligned(PAGE_SIZE)
            || !is_aligned(region.len, PAGE_SIZE)
            || !is_aligned(region.guard_len, PAGE_SIZE)
        {
            return Err(RegionError::Misaligned);
        }
        Self::validate_flags(region.flags)
    }

    fn validate_flags(flags: PageFlags) -> Result<(), RegionError> {
        if !flags.is_valid_leaf() {
            return Err(RegionError::InvalidFlags(flags));
        }
        if flags.contains(PageFlags::WRITE) && flags.contains(PageFlags::EXECUTE) {
            return Err(RegionError::WriteAndExecute);
        }
        Ok(())
    }

    /// The first region intersecting `[start, last]`.
    fn overlapping(&self, start: usize, last: usize) -> Option<&Region> {
        if let Some((_, below)) = self.regions.range(..=start).next_back()
            && below.last().as_usize() >= start
        {
            return Some(below);
        }
        self.regions
            .range(start..=last)
            .next()
            .map(|(_, region)| region)
    }
}
