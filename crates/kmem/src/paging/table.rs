//! [`PageTable`]: map, unmap, protect and translate on an Sv39/Sv48 tree.

use super::entry::{PHYS_ADDR_LIMIT, Pte};
use super::error::MapError;
use super::flags::PageFlags;
use super::mode::PagingMode;
use crate::addr::{PAGE_SHIFT, PAGE_SIZE, PhysAddr, VirtAddr, is_aligned, usize_to_u64};
use crate::phys::{FrameSource, PhysMap};

/// Entries per table (every level, both modes).
const ENTRIES: usize = 512;
/// Bits of virtual address consumed per level.
const INDEX_BITS: u32 = 9;
/// Highest level at which `map` places leaves (level 2 = 1 GiB pages).
const MAX_LEAF_LEVEL: usize = 2;

/// Bytes covered by one entry at `level` (4 KiB at level 0).
const fn level_size(level: usize) -> usize {
    1 << level_shift(level)
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "level is at most 3, so the product is at most 27"
)]
const fn level_shift(level: usize) -> u32 {
    PAGE_SHIFT + INDEX_BITS * level as u32
}

/// Index of the entry covering walk offset `offset` in a table at `level`.
const fn index_at(offset: usize, level: usize) -> usize {
    (offset >> level_shift(level)) & (ENTRIES - 1)
}

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
    root: PhysAddr,
    mode: PagingMode,
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

    // --- helpers ---

    /// Checks alignment and canonicality and turns `[va, va + len)` into a
    /// walk-offset range `[start, end)` with `end <= 2^va_bits`. `None` for
    /// an empty range.
    fn walk_range(&self, va: VirtAddr, len: usize) -> Result<Option<(usize, usize)>, MapError> {
        if !va.is_aligned(PAGE_SIZE) || !is_aligned(len, PAGE_SIZE) {
            return Err(MapError::Misaligned);
        }
        if len == 0 {
            return Ok(None);
        }
        let last = va
            .checked_add(len - 1)
            .ok_or(MapError::NonCanonical { va })?;
        if !self.mode.is_canonical(va)
            || !self.mode.is_canonical(last)
            || self.mode.is_upper_half(va) != self.mode.is_upper_half(last)
        {
            return Err(MapError::NonCanonical { va });
        }
        let start = va.as_usize() & self.mode.offset_mask();
        Ok(Some((start, start + len)))
    }

    /// Errors with the first mapped address in `[start, end)`.
    fn check_unmapped<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
    ) -> Result<(), MapError> {
        let mut offset = start;
        while offset < end {
            let entry_end = entry_end(offset, level, end);
            let pte = read_entry(physmap, table, index_at(offset, level));
            if pte.is_table() && level > 0 {
                self.check_unmapped(physmap, pte.addr(), level - 1, offset, entry_end)?;
            } else if pte.is_valid() {
                return Err(MapError::AlreadyMapped {
                    va: self.mode.offset_to_va(offset),
                });
            }
            offset = entry_end;
        }
        Ok(())
    }

    /// Errors with the first unmapped address in `[start, end)`.
    fn check_mapped<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
    ) -> Result<(), MapError> {
        let mut offset = start;
        while offset < end {
            let entry_end = entry_end(offset, level, end);
            let pte = read_entry(physmap, table, index_at(offset, level));
            if pte.is_table() && level > 0 {
                self.check_mapped(physmap, pte.addr(), level - 1, offset, entry_end)?;
            } else if !pte.is_leaf() {
                return Err(MapError::NotMapped {
                    va: self.mode.offset_to_va(offset),
                });
            }
            offset = entry_end;
        }
        Ok(())
    }

    #[expect(clippy::too_many_arguments, reason = "recursive walk state")]
    fn map_level<F, M>(
        &self,
        frames: &mut F,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
        pa: PhysAddr,
        flags: PageFlags,
    ) -> Result<(), MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        let size = level_size(level);
        let mut offset = start;
        while offset < end {
            let entry_end = entry_end(offset, level, end);
            let index = index_at(offset, level);
            // Cannot overflow: the caller checked `pa + (end - start)`.
            let entry_pa = PhysAddr::new(pa.as_u64() + usize_to_u64(offset - start));
            let pte = read_entry(physmap, table, index);
            let whole_entry = is_aligned(offset, size) && entry_end - offset == size;
            if level <= MAX_LEAF_LEVEL
                && whole_entry
                && entry_pa.is_aligned(usize_to_u64(size))
                && !pte.is_valid()
            {
                write_entry(physmap, table, index, Pte::leaf(entry_pa, flags));
            } else if level == 0 || pte.is_leaf() {
                // `check_unmapped` ran first, so this is unreachable unless
                // the table is malformed; refuse rather than overwrite.
                return Err(MapError::AlreadyMapped {
                    va: self.mode.offset_to_va(offset),
                });
            } else {
                let child = if pte.is_table() {
                    pte.addr()
                } else {
                    let frame = frames.alloc_zeroed_frame()?;
                    write_entry(physmap, table, index, Pte::table(frame));
                    frame
                };
                self.map_level(
                    frames,
                    physmap,
                    child,
                    level - 1,
                    offset,
                    entry_end,
                    entry_pa,
                    flags,
                )?;
            }
            offset = entry_end;
        }
        Ok(())
    }

    /// Removes every leaf inside `[start, end)` and frees tables that become
    /// empty. Leaves must not straddle the range ends (callers split first).
    /// Returns how many tables were freed.
    #[expect(clippy::too_many_arguments, reason = "recursive walk state")]
    fn clear_level<F, M>(
        &self,
        frames: &mut F,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
        on_unmapped: &mut dyn FnMut(Mapping, &mut F),
    ) -> usize
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        let size = level_size(level);
        let mut freed = 0;
        let mut offset = start;
        while offset < end {
            let entry_end = entry_end(offset, level, end);
            let index = index_at(offset, level);
            let pte = read_entry(physmap, table, index);
            if pte.is_table() && level > 0 {
                let child = pte.addr();
                freed += self.clear_level(
                    frames,
                    physmap,
                    child,
                    level - 1,
                    offset,
                    entry_end,
                    on_unmapped,
                );
                if table_is_empty(physmap, child) {
                    write_entry(physmap, table, index, Pte::INVALID);
                    // SAFETY: `child` is a table frame of this page table
                    // (type invariant: allocated from `frames`), we just
                    // removed the only entry pointing at it, and nothing
                    // else keeps a reference to table frames.
                    unsafe { frames.free_frame(child) };
                    freed += 1;
                }
            } else if pte.is_valid() {
                let whole_entry = is_aligned(offset, size) && entry_end - offset == size;
                debug_assert!(whole_entry, "leaf straddles an unmap boundary");
                if whole_entry {
                    write_entry(physmap, table, index, Pte::INVALID);
                    let leaf = Mapping {
                        va: self.mode.offset_to_va(offset),
                        pa: pte.addr(),
                        len: size,
                        flags: pte.flags(),
                    };
                    on_unmapped(leaf, frames);
                }
            }
            offset = entry_end;
        }
        freed
    }

    fn protect_level<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
        flags: PageFlags,
    ) {
        let mut offset = start;
        while offset < end {
            let entry_end = entry_end(offset, level, end);
            let index = index_at(offset, level);
            let pte = read_entry(physmap, table, index);
            if pte.is_table() && level > 0 {
                self.protect_level(physmap, pte.addr(), level - 1, offset, entry_end, flags);
            } else if pte.is_leaf() {
                write_entry(physmap, table, index, pte.with_flags(flags));
            }
            offset = entry_end;
        }
    }

    /// Makes `offset` a leaf boundary: splits any larger leaf that covers it
    /// into a table of next-smaller leaves with the same translation and
    /// flags (repeatedly). Translations never change, so a failure half-way
    /// leaves an equivalent table.
    fn split_at<F, M>(&mut self, frames: &mut F, physmap: &M, offset: usize) -> Result<(), MapError>
    where
        F: FrameSource + ?Sized,
        M: PhysMap + ?Sized,
    {
        if offset >= 1 << self.mode.va_bits() {
            return Ok(());
        }
        let mut table = self.root;
        let mut level = self.mode.top_level();
        loop {
            let index = index_at(offset, level);
            let pte = read_entry(physmap, table, index);
            if !pte.is_valid() || level == 0 {
                return Ok(());
            }
            if pte.is_table() {
                table = pte.addr();
                level -= 1;
                continue;
            }
            if is_aligned(offset, level_size(level)) {
                return Ok(());
            }
            let child = frames.alloc_zeroed_frame()?;
            let child_size = usize_to_u64(level_size(level - 1));
            for child_index in 0..ENTRIES {
                let pa =
                    PhysAddr::new(pte.addr().as_u64() + usize_to_u64(child_index) * child_size);
                write_entry(physmap, child, child_index, pte.with_addr(pa));
            }
            write_entry(physmap, table, index, Pte::table(child));
            table = child;
            level -= 1;
        }
    }

    fn visit_level<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        base: usize,
        f: &mut dyn FnMut(Mapping),
    ) {
        for index in 0..ENTRIES {
            let pte = read_entry(physmap, table, index);
            let offset = base + (index << level_shift(level));
            if pte.is_table() && level > 0 {
                self.visit_level(physmap, pte.addr(), level - 1, offset, f);
            } else if pte.is_leaf() {
                f(Mapping {
                    va: self.mode.offset_to_va(offset),
                    pa: pte.addr(),
                    len: level_size(level),
                    flags: pte.flags(),
                });
            }
        }
    }
}

/// End of the entry at `level` covering `offset`, clipped to `end`.
fn entry_end(offset: usize, level: usize, end: usize) -> usize {
    let size = level_size(level);
    let next = (offset & !(size - 1)) + size;
    next.min(end)
}

fn entry_ptr<M: PhysMap + ?Sized>(physmap: &M, table: PhysAddr, index: usize) -> *mut u64 {
    debug_assert!(index < ENTRIES);
    physmap.phys_to_ptr(table).cast::<u64>().wrapping_add(index)
}

fn read_entry<M: PhysMap + ?Sized>(physmap: &M, table: PhysAddr, index: usize) -> Pte {
    // SAFETY: `table` is a table frame of a `PageTable` (its type invariant),
    // so the `PhysMap` contract makes the pointer to its start valid for
    // reads of PAGE_SIZE bytes and page-aligned; `index < 512` keeps the
    // 8-byte read inside the frame. Volatile because the hardware walker
    // shares this memory.
    Pte(unsafe { entry_ptr(physmap, table, index).read_volatile() })
}

fn write_entry<M: PhysMap + ?Sized>(physmap: &M, table: PhysAddr, index: usize, pte: Pte) {
    // SAFETY: as in `read_entry`, the frame is a table of this page table,
    // reachable for writes through the `PhysMap`, and owned by the table
    // alone, so no Rust reference aliases it; `index < 512`.
    unsafe { entry_ptr(physmap, table, index).write_volatile(pte.0) };
}

fn table_is_empty<M: PhysMap + ?Sized>(physmap: &M, table: PhysAddr) -> bool {
    (0..ENTRIES).all(|index| !read_entry(physmap, table, index).is_valid())
}
