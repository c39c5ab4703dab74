//! The recursive walks behind [`PageTable`]'s operations, and raw entry
//! access. Every walk works on walk offsets (the low `va_bits` of a
//! virtual address) in `[start, end)`, one table level at a time.

use super::entry::Pte;
use super::error::MapError;
use super::flags::PageFlags;
use super::table::{Mapping, PageTable};
use crate::addr::{PAGE_SHIFT, PAGE_SIZE, PhysAddr, VirtAddr, is_aligned, usize_to_u64};
use crate::phys::{FrameSource, PhysMap};

/// Entries per table (every level, both modes).
const ENTRIES: usize = 512;
/// Bits of virtual address consumed per level.
const INDEX_BITS: u32 = 9;
/// Highest level at which `map` places leaves (level 2 = 1 GiB pages).
const MAX_LEAF_LEVEL: usize = 2;

/// Bytes covered by one entry at `level` (4 KiB at level 0).
pub(super) const fn level_size(level: usize) -> usize {
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
pub(super) const fn index_at(offset: usize, level: usize) -> usize {
    (offset >> level_shift(level)) & (ENTRIES - 1)
}

// === impl PageTable (walks) ===

impl PageTable {
    /// Checks alignment and canonicality and turns `[va, va + len)` into a
    /// walk-offset range `[start, end)` with `end <= 2^va_bits`. `None` for
    /// an empty range.
    pub(super) fn walk_range(
        &self,
        va: VirtAddr,
        len: usize,
    ) -> Result<Option<(usize, usize)>, MapError> {
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
    pub(super) fn check_unmapped<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
    ) -> Result<(), MapError> {
        match first_non_table_entry(physmap, table, level, start, end, Pte::is_valid) {
            Some(offset) => Err(MapError::AlreadyMapped { va: self.mode.offset_to_va(offset) }),
            None => Ok(()),
        }
    }

    /// Errors with the first unmapped address in `[start, end)`.
    pub(super) fn check_mapped<M: PhysMap + ?Sized>(
        &self,
        physmap: &M,
        table: PhysAddr,
        level: usize,
        start: usize,
        end: usize,
    ) -> Result<(), MapError> {
        match first_non_table_entry(physmap, table, level, start, end, |pte| !pte.is_leaf()) {
            Some(offset) => Err(MapError::NotMapped { va: self.mode.offset_to_va(offset) }),
            None => Ok(()),
        }
    }

    #[expect(clippy::too_many_arguments, reason = "recursive walk state")]
    pub(super) fn map_level<F, M>(
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
    pub(super) fn clear_level<F, M>(
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

    pub(super) fn protect_level<M: PhysMap + ?Sized>(
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
    pub(super) fn split_at<F, M>(
        &mut self,
        frames: &mut F,
        physmap: &M,
        offset: usize,
    ) -> Result<(), MapError>
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

    pub(super) fn visit_level<M: PhysMap + ?Sized>(
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

/// The walk offset of the first entry in `[start, end)` below `table`
/// that is not a next-level table and for which `found` holds, descending
/// into tables down to level 0.
fn first_non_table_entry<M: PhysMap + ?Sized>(
    physmap: &M,
    table: PhysAddr,
    level: usize,
    start: usize,
    end: usize,
    found: impl Fn(Pte) -> bool + Copy,
) -> Option<usize> {
    let mut offset = start;
    while offset < end {
        let entry_end = entry_end(offset, level, end);
        let pte = read_entry(physmap, table, index_at(offset, level));
        if pte.is_table() && level > 0 {
            if let Some(hit) = first_non_table_entry(physmap, pte.addr(), level - 1, offset, entry_end, found) {
                return Some(hit);
            }
        } else if found(pte) {
            return Some(offset);
        }
        offset = entry_end;
    }
    None
}

pub(super) fn read_entry<M: PhysMap + ?Sized>(physmap: &M, table: PhysAddr, index: usize) -> Pte {
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
