//! [`PageTable`]: map, unmap, protect and translate on an Sv39/Sv48 tree.

use super::entry::PHYS_ADDR_LIMIT;
use super::error::MapError;
use super::flags::PageFlags;
use super::mode::PagingMode;
use super::walk::{index_at, level_size, read_entry};
use crate::addr::{PAGE_SIZE, PhysAddr, VirtAddr, usize_to_u64};
use crate::phys::{FrameSource, PhysMap};

/// One leaf: a naturally aligned run of `len` bytes mapped to `pa`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// First virtual address of the leaf.
    pub va: VirtAddr,
    /// Physical address `va` maps to.
    pub pa: PhysAddr,
    /// Leaf size: 4 KiB, 2 MiB, 1 GiB (or 512 GiB in an adopted Sv48 table).
    pub len: usize,
    /// The leaf's flags as stored (including A and D).
    pub flags: PageFlags,
}

/// What an [`unmap`](PageTable::unmap) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnmapStats {
    /// Bytes that were mapped and no longer are.
    pub unmapped_bytes: usize,
    /// Intermediate tables that became empty and went back to the frame source.
    pub tables_freed: usize,
}

/// A RISC-V Sv39/Sv48 page table: the root frame plus the tree under it.
///
/// Invariants: the root and every table reachable from it are frames this
/// value owns (allocated from the [`FrameSource`] passed to its methods,
/// or adopted with [`from_root`](Self::from_root)); tables other than the
/// root are never empty (emptied ones are freed at once).
///
/// This type only edits memory. Flushing TLBs (`sfence.vma`) after
/// `unmap`/`protect` on a live table is the caller's job; `map` needs no
/// flush because it only turns invalid entries valid.
#[derive(Debug)]
pub struct PageTable {
    pub(super) root: PhysAddr,
    pub(super) mode: PagingMode,
    asid: u16,
}

// === impl PageTable ===

impl PageTable {
    /// Creates an empty table (one zeroed root frame), ASID 0.
    ///
    /// # Errors
    ///
    /// [`MapError::OutOfFrames`] if `frames` has no frame for the root.
    pub fn new<F: FrameSource + ?Sized>(
        mode: PagingMode,
        frames: &mut F,
    ) -> Result<Self, MapError> {
        let root = frames.alloc_zeroed_frame()?;
        Ok(Self {
            root,
            mode,
            asid: 0,
        })
    }

    /// Adopts an existing table (for example the one the loader built).
    ///
    /// # Safety
    ///
    /// 1. `root` is the root of a well-formed `mode` table whose table frames
    ///    are owned by nobody else from now on.
    /// 2. Those table frames came from (or may be given back to) the
    ///    [`FrameSource`] later passed to this table's methods, and the
    ///    [`PhysMap`] later passed reaches them.
    #[must_use]
    pub const unsafe fn from_root(mode: PagingMode, root: PhysAddr, asid: u16) -> Self {
        Self { root, mode, asid }
    }

    /// Physical address of the root table.
    #[must_use]
    pub const fn root(&self) -> PhysAddr {
        self.root
    }

    /// The paging mode.
    #[must_use]
    pub const fn mode(&self) -> PagingMode {
        self.mode
    }

    /// The address-space identifier put into `satp`.
    #[must_use]
    pub const fn asid(&self) -> u16 {
        self.asid
    }

    /// Sets the address-space identifier put into `satp`.
    pub fn set_asid(&mut self, asid: u16) {
        self.asid = asid;
    }

    /// The `satp` value that activates this table: MODE (bits 60..=63),
    /// ASID (44..=59) and root PPN (0..=43).
    #[must_use]
    pub const fn satp(&self) -> u64 {
        (self.mode.satp_mode() << 60) | ((self.asid as u64) << 44) | self.root.frame_number()
    }

    /// Maps `len` bytes at `va` to `pa` with `flags` (plus A and D, set
    /// eagerly so hardware without Svadu never faults to set them).
    ///
    /// Uses the largest leaf (1 GiB, 2 MiB, 4 KiB) that the alignment of
    /// both addresses allows at each step. Never replaces a mapping: the whole
    /// range must be unmapped. A zero `len` does nothing.
    ///
    /// # Errors
    ///
    /// [`MapError::InvalidFlags`], [`MapError::Misaligned`],
    /// [`MapError::NonCanonical`], [`MapError::PhysicalOutOfRange`],
    /// [`MapError::AlreadyMapped`], or [`MapError::OutOfFrames`]; on any
    /// error the table translates exactly as before (tables allocated on the
    /// way are freed again).
    pub fn map<F, M>(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        len: usize,
        flags: PageFlags,
        frames: &mut F,
        physmap: &M,
    ) -> Result<(), MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        if !flags.is_valid_leaf() {
            return Err(MapError::InvalidFlags(flags));
        }
        if !pa.is_aligned(usize_to_u64(PAGE_SIZE)) {
            return Err(MapError::Misaligned);
        }
        let Some((start, end)) = self.walk_range(va, len)? else {
            return Ok(());
        };
        match pa.checked_add_usize(len) {
            Some(pa_end) if pa_end.as_u64() <= PHYS_ADDR_LIMIT => {}
            _ => return Err(MapError::PhysicalOutOfRange { pa }),
        }
        let top = self.mode.top_level();
        self.check_unmapped(physmap, self.root, top, start, end)?;
        let leaf_flags = flags | PageFlags::ACCESSED | PageFlags::DIRTY;
        if let Err(error) =
            self.map_level(frames, physmap, self.root, top, start, end, pa, leaf_flags)
        {
            // Everything in [start, end) was unmapped before; remove what we
            // added (all of it aligned leaves inside the range) and the
            // tables that held them.
            self.clear_level(frames, physmap, self.root, top, start, end, &mut |_, _| {});
            return Err(error);
        }
        Ok(())
    }

    /// Unmaps `len` bytes at `va`, calling `on_unmapped` for each removed
    /// leaf (clipped to the range), with the frame source, so the caller can
    /// free the data frames right away. Tables that become empty go back to
    /// `frames`.
    ///
    /// Large leaves that straddle an end of the range are split first
    /// (which may need frames). A zero `len` does nothing.
    ///
    /// # Errors
    ///
    /// [`MapError::Misaligned`], [`MapError::NonCanonical`],
    /// [`MapError::NotMapped`] (nothing is removed unless all of the range
    /// is mapped), or [`MapError::OutOfFrames`] while splitting (the table
    /// then translates as before, possibly with finer leaves).
    pub fn unmap<F, M>(
        &mut self,
        va: VirtAddr,
        len: usize,
        frames: &mut F,
        physmap: &M,
        mut on_unmapped: impl FnMut(Mapping, &mut F),
    ) -> Result<UnmapStats, MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        let Some((start, end)) = self.walk_range(va, len)? else {
            return Ok(UnmapStats::default());
        };
        let top = self.mode.top_level();
        self.check_mapped(physmap, self.root, top, start, end)?;
        self.split_at(frames, physmap, start)?;
        self.split_at(frames, physmap, end)?;
        let tables_freed = self.clear_level(
            frames,
            physmap,
            self.root,
            top,
            start,
            end,
            &mut on_unmapped,
        );
        Ok(UnmapStats {
            unmapped_bytes: len,
            tables_freed,
        })
    }

    /// Unmaps whatever is mapped in `len` bytes at `va`, skipping holes:
    /// like [`unmap`](Self::unmap), but a partly (or not at all) mapped range
    /// is fine. For sparse reservations (a linear memory with a few
    /// committed pages) this costs time proportional to the tables present,
    /// not to the range.
    ///
    /// # Errors
    ///
    /// [`MapError::Misaligned`], [`MapError::NonCanonical`], or
    /// [`MapError::OutOfFrames`] while splitting a large leaf that straddles
    /// a range end (the table then translates as before).
    pub fn unmap_present<F, M>(
        &mut self,
        va: VirtAddr,
        len: usize,
        frames: &mut F,
        physmap: &M,
        mut on_unmapped: impl FnMut(Mapping, &mut F),
    ) -> Result<UnmapStats, MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        let Some((start, end)) = self.walk_range(va, len)? else {
            return Ok(UnmapStats::default());
        };
        self.split_at(frames, physmap, start)?;
        self.split_at(frames, physmap, end)?;
        let mut unmapped_bytes = 0;
        let tables_freed = self.clear_level(
            frames,
            physmap,
            self.root,
            self.mode.top_level(),
            start,
            end,
            &mut |leaf, frames| {
                unmapped_bytes += leaf.len;
                on_unmapped(leaf, frames);
            },
        );
        Ok(UnmapStats {
            unmapped_bytes,
            tables_freed,
        })
    }

    /// Replaces the flags of `len` mapped bytes at `va` (A and D are set
    /// again). Large leaves straddling an end of the range are split first.
    ///
    /// # Errors
    ///
    /// [`MapError::InvalidFlags`], [`MapError::Misaligned`],
    /// [`MapError::NonCanonical`], [`MapError::NotMapped`], or
    /// [`MapError::OutOfFrames`] while splitting; on error no permission
    /// has changed.
    pub fn protect<F, M>(
        &mut self,
        va: VirtAddr,
        len: usize,
        flags: PageFlags,
        frames: &mut F,
        physmap: &M,
    ) -> Result<(), MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        if !flags.is_valid_leaf() {
            return Err(MapError::InvalidFlags(flags));
        }
        let Some((start, end)) = self.walk_range(va, len)? else {
            return Ok(());
        };
        let top = self.mode.top_level();
        self.check_mapped(physmap, self.root, top, start, end)?;
        self.split_at(frames, physmap, start)?;
        self.split_at(frames, physmap, end)?;
        let leaf_flags = flags | PageFlags::ACCESSED | PageFlags::DIRTY;
        self.protect_level(physmap, self.root, top, start, end, leaf_flags);
        Ok(())
    }

    /// The physical address and leaf flags `va` translates to, if mapped.
    #[must_use]
    pub fn translate<M: PhysMap + ?Sized>(
        &self,
        va: VirtAddr,
        physmap: &M,
    ) -> Option<(PhysAddr, PageFlags)> {
        let leaf = self.lookup(va, physmap)?;
        let offset = va.as_usize() - leaf.va.as_usize();
        Some((leaf.pa.checked_add_usize(offset)?, leaf.flags))
    }

    /// The whole leaf mapping `va`, if any.
    #[must_use]
    pub fn lookup<M: PhysMap + ?Sized>(&self, va: VirtAddr, physmap: &M) -> Option<Mapping> {
        if !self.mode.is_canonical(va) {
            return None;
        }
        let offset = va.as_usize() & self.mode.offset_mask();
        let mut table = self.root;
        let mut level = self.mode.top_level();
        loop {
            let pte = read_entry(physmap, table, index_at(offset, level));
            if pte.is_leaf() {
                let size = level_size(level);
                let base = offset & !(size - 1);
                return Some(Mapping {
                    va: self.mode.offset_to_va(base),
                    pa: pte.addr(),
                    len: size,
                    flags: pte.flags(),
                });
            }
            if !pte.is_table() || level == 0 {
                return None;
            }
            table = pte.addr();
            level -= 1;
        }
    }

    /// Calls `f` for every leaf, in ascending walk order (lower half first,
    /// then upper half).
    pub fn for_each_mapping<M: PhysMap + ?Sized>(&self, physmap: &M, mut f: impl FnMut(Mapping)) {
        self.visit_level(physmap, self.root, self.mode.top_level(), 0, &mut f);
    }

    /// Removes every mapping and frees every table including the root,
    /// calling `on_unmapped` for each leaf.
    ///
    /// # Safety
    ///
    /// The table is not active (`satp` of no hart names its root) and no
    /// other table links to its sub-tables.
    pub unsafe fn destroy<F, M>(
        self,
        frames: &mut F,
        physmap: &M,
        mut on_unmapped: impl FnMut(Mapping, &mut F),
    ) where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        let end = 1usize << self.mode.va_bits();
        self.clear_level(
            frames,
            physmap,
            self.root,
            self.mode.top_level(),
            0,
            end,
            &mut on_unmapped,
        );
        // SAFETY: the root came from `frames` (type invariant), and the
        // caller guarantees no hart and no other table uses it any more;
        // `self` is consumed so nothing here references it either.
        unsafe { frames.free_frame(self.root) };
    }
}
