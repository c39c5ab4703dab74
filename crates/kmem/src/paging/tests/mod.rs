use super::*;
use crate::addr::{GIGA_PAGE_SIZE, MEGA_PAGE_SIZE, PAGE_SIZE, PhysAddr, VirtAddr};
use crate::sim::{SimFrames, SimMemory};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::vec::Vec;

const RAM_BASE: u64 = 0x8000_0000;
const AD: PageFlags = PageFlags::ACCESSED.union(PageFlags::DIRTY);

fn setup(mode: PagingMode, frames: usize) -> (SimMemory, SimFrames, PageTable) {
    let memory = SimMemory::new(PhysAddr::new(RAM_BASE), frames);
    let mut source = memory.frames(None);
    let table = PageTable::new(mode, &mut source).expect("root frame");
    (memory, source, table)
}

fn leaves(table: &PageTable, memory: &SimMemory) -> Vec<Mapping> {
    let mut out = Vec::new();
    table.for_each_mapping(memory, |m| out.push(m));
    out
}

fn va(raw: usize) -> VirtAddr {
    VirtAddr::new(raw)
}

fn pa(raw: u64) -> PhysAddr {
    PhysAddr::new(raw)
}

#[test]
fn map_and_translate_4k() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    table
        .map(
            va(0x1000),
            pa(0x8020_0000),
            PAGE_SIZE,
            PageFlags::READ_WRITE,
            &mut frames,
            &memory,
        )
        .unwrap();
    assert_eq!(
        table.translate(va(0x1abc), &memory),
        Some((pa(0x8020_0abc), PageFlags::READ_WRITE | AD))
    );
    assert_eq!(table.translate(va(0x2000), &memory), None);
    assert_eq!(table.translate(va(0x0fff), &memory), None);
    // root + one level-1 table + one level-0 table
    assert_eq!(frames.in_use(), 3);
}

#[test]
fn picks_largest_leaves() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    // 4 KiB below a 2 MiB boundary, then 2 MiB, then 4 KiB: both sides aligned alike.
    let start = MEGA_PAGE_SIZE - PAGE_SIZE;
    let len = MEGA_PAGE_SIZE + 2 * PAGE_SIZE;
    table
        .map(
            va(start),
            pa(0x8000_0000 + 0x20_0000 - 0x1000),
            len,
            PageFlags::READ,
            &mut frames,
            &memory,
        )
        .unwrap();
    let sizes: Vec<usize> = leaves(&table, &memory).iter().map(|m| m.len).collect();
    assert_eq!(sizes, [PAGE_SIZE, MEGA_PAGE_SIZE, PAGE_SIZE]);

    // A 1 GiB aligned run becomes one giga leaf.
    table
        .map(
            va(GIGA_PAGE_SIZE),
            pa(0x4000_0000),
            GIGA_PAGE_SIZE,
            PageFlags::READ_EXECUTE,
            &mut frames,
            &memory,
        )
        .unwrap();
    let giga = table.lookup(va(GIGA_PAGE_SIZE + 0x1234), &memory).unwrap();
    assert_eq!(giga.len, GIGA_PAGE_SIZE);
    assert_eq!(giga.pa, pa(0x4000_0000));
}

#[test]
fn physical_alignment_limits_leaf_size() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    // VA is 2 MiB aligned but PA only 4 KiB aligned: all 4 KiB leaves.
    table
        .map(
            va(MEGA_PAGE_SIZE),
            pa(0x8000_1000),
            MEGA_PAGE_SIZE,
            PageFlags::READ,
            &mut frames,
            &memory,
        )
        .unwrap();
    let all = leaves(&table, &memory);
    assert_eq!(all.len(), 512);
    assert!(all.iter().all(|m| m.len == PAGE_SIZE));
}

#[test]
fn rejects_bad_arguments() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    let r = PageFlags::READ;
    assert_eq!(
        table.map(
            va(0x1001),
            pa(0x8000_0000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        table.map(
            va(0x1000),
            pa(0x8000_0800),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        table.map(va(0x1000), pa(0x8000_0000), 100, r, &mut frames, &memory),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        table.map(
            va(0x1000),
            pa(0x8000_0000),
            PAGE_SIZE,
            PageFlags::WRITE,
            &mut frames,
            &memory
        ),
        Err(MapError::InvalidFlags(PageFlags::WRITE))
    );
    assert_eq!(
        table.map(
            va(0x1000),
            pa(0x8000_0000),
            PAGE_SIZE,
            PageFlags::USER,
            &mut frames,
            &memory
        ),
        Err(MapError::InvalidFlags(PageFlags::USER))
    );
    // Sv39 lower half ends at 2^38.
    assert_eq!(
        table.map(
            va(1 << 38),
            pa(0x8000_0000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::NonCanonical { va: va(1 << 38) })
    );
    // Straddles the end of the lower half.
    let near_top = (1 << 38) - PAGE_SIZE;
    assert!(matches!(
        table.map(
            va(near_top),
            pa(0x8000_0000),
            2 * PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::NonCanonical { .. })
    ));
    // Wraps around the top of the address space.
    assert!(matches!(
        table.map(
            va(usize::MAX - 0xfff),
            pa(0x8000_0000),
            2 * PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::NonCanonical { .. })
    ));
    assert_eq!(
        table.map(va(0x1000), pa(1 << 56), PAGE_SIZE, r, &mut frames, &memory),
        Err(MapError::PhysicalOutOfRange { pa: pa(1 << 56) })
    );
    assert_eq!(
        table.map(va(0x1000), pa(0), 0, r, &mut frames, &memory),
        Ok(())
    );
    assert_eq!(frames.in_use(), 1, "failed maps allocate nothing");
    assert!(leaves(&table, &memory).is_empty());
}

#[test]
fn never_replaces_a_mapping() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    let r = PageFlags::READ;
    table
        .map(
            va(0x20_0000),
            pa(0x8020_0000),
            MEGA_PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    let before = leaves(&table, &memory);
    assert_eq!(
        table.map(
            va(0x1f_f000),
            pa(0x9000_0000),
            2 * PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::AlreadyMapped { va: va(0x20_0000) })
    );
    assert_eq!(
        table.map(
            va(0x30_0000),
            pa(0x9000_0000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory
        ),
        Err(MapError::AlreadyMapped { va: va(0x30_0000) })
    );
    assert_eq!(leaves(&table, &memory), before);
}

#[test]
fn unmap_reports_leaves_and_frees_tables() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv48, 32);
    let r = PageFlags::READ_WRITE;
    table
        .map(
            va(0x7000),
            pa(0x8000_7000),
            3 * PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    assert_eq!(frames.in_use(), 4);
    let mut seen = Vec::new();
    let stats = table
        .unmap(va(0x7000), 3 * PAGE_SIZE, &mut frames, &memory, |m, _| {
            seen.push((m.va, m.pa, m.len))
        })
        .unwrap();
    assert_eq!(
        stats,
        UnmapStats {
            unmapped_bytes: 3 * PAGE_SIZE,
            tables_freed: 3
        }
    );
    assert_eq!(
        seen,
        [
            (va(0x7000), pa(0x8000_7000), PAGE_SIZE),
            (va(0x8000), pa(0x8000_8000), PAGE_SIZE),
            (va(0x9000), pa(0x8000_9000), PAGE_SIZE)
        ]
    );
    assert_eq!(frames.in_use(), 1, "only the root remains");
}

#[test]
fn unmap_requires_whole_range_mapped() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    table
        .map(
            va(0x1000),
            pa(0x8000_1000),
            PAGE_SIZE,
            PageFlags::READ,
            &mut frames,
            &memory,
        )
        .unwrap();
    assert_eq!(
        table.unmap(
            va(0x1000),
            2 * PAGE_SIZE,
            &mut frames,
            &memory,
            |_, _| panic!("nothing removed")
        ),
        Err(MapError::NotMapped { va: va(0x2000) })
    );
    assert!(table.translate(va(0x1000), &memory).is_some());
    assert_eq!(
        table.protect(va(0), PAGE_SIZE, PageFlags::READ, &mut frames, &memory),
        Err(MapError::NotMapped { va: va(0) })
    );
}

#[test]
fn unmap_inside_huge_page_splits_it() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    let base = GIGA_PAGE_SIZE;
    table
        .map(
            va(base),
            pa(0xc000_0000),
            GIGA_PAGE_SIZE,
            PageFlags::READ_WRITE,
            &mut frames,
            &memory,
        )
        .unwrap();
    let hole = base + 3 * MEGA_PAGE_SIZE + 5 * PAGE_SIZE;
    let mut seen = Vec::new();
    table
        .unmap(va(hole), PAGE_SIZE, &mut frames, &memory, |m, _| {
            seen.push(m)
        })
        .unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].va, seen[0].pa, seen[0].len),
        (va(hole), pa(0xc000_0000 + 0x60_5000), PAGE_SIZE)
    );
    assert_eq!(table.translate(va(hole), &memory), None);
    assert_eq!(
        table
            .translate(va(hole + PAGE_SIZE), &memory)
            .map(|(p, _)| p),
        Some(pa(0xc000_0000 + 0x60_6000))
    );
    assert_eq!(
        table
            .translate(va(base + GIGA_PAGE_SIZE - 1), &memory)
            .map(|(p, _)| p),
        Some(pa(0xc000_0000 + 0x3fff_ffff))
    );
    let sizes: Vec<usize> = leaves(&table, &memory).iter().map(|m| m.len).collect();
    assert_eq!(sizes.iter().filter(|s| **s == MEGA_PAGE_SIZE).count(), 511);
    assert_eq!(sizes.iter().filter(|s| **s == PAGE_SIZE).count(), 511);
    assert_eq!(sizes.iter().sum::<usize>(), GIGA_PAGE_SIZE - PAGE_SIZE);
}

#[test]
fn unmap_present_skips_holes() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv48, 32);
    let r = PageFlags::READ_WRITE;
    // A sparse "reservation": two pages and a 2 MiB leaf inside 1 GiB.
    let base = GIGA_PAGE_SIZE;
    table
        .map(
            va(base + 0x5000),
            pa(0x8000_5000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    table
        .map(
            va(base + 0x30_0000),
            pa(0x8030_0000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    table
        .map(
            va(base + 0x40_0000),
            pa(0x8040_0000),
            MEGA_PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    // Outside the range, must survive.
    table
        .map(
            va(base - PAGE_SIZE),
            pa(0x9000_0000),
            PAGE_SIZE,
            r,
            &mut frames,
            &memory,
        )
        .unwrap();
    let mut seen = Vec::new();
    // Cut the 2 MiB leaf in half at the end of the range.
    let stats = table
        .unmap_present(va(base), 0x50_0000, &mut frames, &memory, |m, _| {
            seen.push((m.va, m.len))
        })
        .unwrap();
    assert_eq!(stats.unmapped_bytes, 2 * PAGE_SIZE + 0x10_0000);
    assert_eq!(seen.len(), 2 + 256);
    assert_eq!(table.translate(va(base + 0x5000), &memory), None);
    assert_eq!(table.translate(va(base + 0x4f_f000), &memory), None);
    assert_eq!(
        table
            .translate(va(base + 0x50_0000), &memory)
            .map(|(p, _)| p),
        Some(pa(0x8050_0000))
    );
    assert!(table.translate(va(base - PAGE_SIZE), &memory).is_some());
    // A range with nothing mapped is fine too.
    let stats = table
        .unmap_present(va(0x1000), 0x1000_0000, &mut frames, &memory, |_, _| {
            panic!("nothing")
        })
        .unwrap();
    assert_eq!(stats, UnmapStats::default());
    assert_eq!(
        table.unmap_present(va(0x1001), PAGE_SIZE, &mut frames, &memory, |_, _| {}),
        Err(MapError::Misaligned)
    );
}

#[test]
fn protect_changes_only_the_range() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    table
        .map(
            va(0),
            pa(0x8000_0000),
            MEGA_PAGE_SIZE,
            PageFlags::READ_WRITE,
            &mut frames,
            &memory,
        )
        .unwrap();
    table
        .protect(va(0x1000), PAGE_SIZE, PageFlags::READ, &mut frames, &memory)
        .unwrap();
    assert_eq!(
        table.translate(va(0x1000), &memory).unwrap().1,
        PageFlags::READ | AD
    );
    assert_eq!(
        table.translate(va(0x0000), &memory).unwrap().1,
        PageFlags::READ_WRITE | AD
    );
    assert_eq!(
        table.translate(va(0x2000), &memory).unwrap().1,
        PageFlags::READ_WRITE | AD
    );
    assert_eq!(
        table.protect(
            va(0x1000),
            PAGE_SIZE,
            PageFlags::WRITE | PageFlags::EXECUTE,
            &mut frames,
            &memory
        ),
        Err(MapError::InvalidFlags(
            PageFlags::WRITE | PageFlags::EXECUTE
        ))
    );
}

#[test]
fn split_keeps_global_and_user_bits() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv39, 16);
    let flags = PageFlags::READ | PageFlags::USER | PageFlags::GLOBAL;
    table
        .map(
            va(0),
            pa(0x8000_0000),
            MEGA_PAGE_SIZE,
            flags,
            &mut frames,
            &memory,
        )
        .unwrap();
    table
        .unmap(va(0), PAGE_SIZE, &mut frames, &memory, |_, _| {})
        .unwrap();
    assert_eq!(table.translate(va(0x5000), &memory).unwrap().1, flags | AD);
}

#[test]
fn out_of_frames_rolls_back() {
    // Root + 1 frame: a 4 KiB map needs two more tables in Sv39.
    let memory = SimMemory::new(PhysAddr::new(RAM_BASE), 2);
    let mut frames = memory.frames(None);
    let mut table = PageTable::new(PagingMode::Sv39, &mut frames).unwrap();
    assert_eq!(
        table.map(
            va(0x1000),
            pa(0x8000_0000),
            PAGE_SIZE,
            PageFlags::READ,
            &mut frames,
            &memory
        ),
        Err(MapError::OutOfFrames)
    );
    assert_eq!(frames.in_use(), 1);
    assert!(leaves(&table, &memory).is_empty());
    // A 2 MiB leaf needs only one table: fits.
    table
        .map(
            va(0),
            pa(0x8000_0000),
            MEGA_PAGE_SIZE,
            PageFlags::READ,
            &mut frames,
            &memory,
        )
        .unwrap();
    // Splitting it needs another frame: fails, mapping intact.
    assert_eq!(
        table.unmap(va(0x1000), PAGE_SIZE, &mut frames, &memory, |_, _| {}),
        Err(MapError::OutOfFrames)
    );
    assert_eq!(
        table.lookup(va(0x1000), &memory).unwrap().len,
        MEGA_PAGE_SIZE
    );
}

#[test]
fn new_fails_without_frames() {
    let memory = SimMemory::new(PhysAddr::new(RAM_BASE), 1);
    let mut frames = memory.frames(Some(0));
    assert!(matches!(
        PageTable::new(PagingMode::Sv48, &mut frames),
        Err(MapError::OutOfFrames)
    ));
}

#[test]
fn satp_encodes_mode_asid_root() {
    let (_memory, _frames, mut table) = setup(PagingMode::Sv48, 4);
    table.set_asid(0x1234);
    let root_ppn = table.root().frame_number();
    assert_eq!(table.satp(), (9 << 60) | (0x1234 << 44) | root_ppn);
    let (_memory, _frames, table) = setup(PagingMode::Sv39, 4);
    assert_eq!(table.satp() >> 60, 8);
    assert_eq!(table.satp() & ((1 << 44) - 1), table.root().frame_number());
}

#[test]
fn upper_half_sv39_and_sv48() {
    for mode in [PagingMode::Sv39, PagingMode::Sv48] {
        let (memory, mut frames, mut table) = setup(mode, 32);
        let top = mode.upper_half_start();
        assert!(mode.is_canonical(top));
        let kernel = VirtAddr::new(usize::MAX - GIGA_PAGE_SIZE + 1);
        table
            .map(
                kernel,
                pa(0x8000_0000),
                GIGA_PAGE_SIZE,
                PageFlags::READ_EXECUTE,
                &mut frames,
                &memory,
            )
            .unwrap();
        table
            .map(
                top,
                pa(0),
                MEGA_PAGE_SIZE,
                PageFlags::READ_WRITE,
                &mut frames,
                &memory,
            )
            .unwrap();
        assert_eq!(
            table
                .translate(VirtAddr::new(usize::MAX), &memory)
                .unwrap()
                .0,
            pa(0xbfff_ffff)
        );
        assert_eq!(
            table
                .translate(top.checked_add(0x10).unwrap(), &memory)
                .unwrap()
                .0,
            pa(0x10)
        );
        let all = leaves(&table, &memory);
        assert_eq!(all.iter().map(|m| m.va).collect::<Vec<_>>(), [top, kernel]);
        // Unmap the last page of the address space (range end wraps to 0).
        table
            .unmap(
                VirtAddr::new(usize::MAX - 0xfff),
                PAGE_SIZE,
                &mut frames,
                &memory,
                |_, _| {},
            )
            .unwrap();
        assert_eq!(table.translate(VirtAddr::new(usize::MAX), &memory), None);
        assert!(
            table
                .translate(VirtAddr::new(usize::MAX - 0x1000), &memory)
                .is_some()
        );
        // Not canonical for this mode.
        let hole = VirtAddr::new(1 << (mode.va_bits() - 1));
        assert_eq!(table.translate(hole, &memory), None);
        assert!(matches!(
            table.map(
                hole,
                pa(0),
                PAGE_SIZE,
                PageFlags::READ,
                &mut frames,
                &memory
            ),
            Err(MapError::NonCanonical { .. })
        ));
    }
}

#[test]
fn destroy_returns_every_frame() {
    let (memory, mut frames, mut table) = setup(PagingMode::Sv48, 64);
    for i in 0..8 {
        let at = i * GIGA_PAGE_SIZE / 2 + PAGE_SIZE;
        table
            .map(
                va(at),
                pa(0x8000_0000),
                4 * PAGE_SIZE,
                PageFlags::READ,
                &mut frames,
                &memory,
            )
            .unwrap();
    }
    assert!(frames.in_use() > 1);
    let mut leaves_seen = 0;
    // SAFETY: the table was never activated and shares no sub-tables.
    unsafe { table.destroy(&mut frames, &memory, |_, _| leaves_seen += 1) };
    assert_eq!(leaves_seen, 32);
    assert_eq!(frames.in_use(), 0);
}

mod model;
