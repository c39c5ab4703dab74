use super::*;
use crate::addr::{PAGE_SIZE, PhysAddr};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::vec;
use std::vec::Vec;

const KIB4: u64 = 4096;

fn pa(raw: u64) -> PhysAddr {
    PhysAddr::new(raw)
}

fn storage_for(start: u64, end: u64) -> Vec<u64> {
    vec![0xdead_beef; BuddyAllocator::metadata_words(pa(start), pa(end))]
}

#[test]
fn storage_too_small_is_an_error() {
    let needed = BuddyAllocator::metadata_words(pa(0x8000_0000), pa(0x8100_0000));
    let mut storage = vec![0; needed - 1];
    assert_eq!(
        BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8100_0000)).unwrap_err(),
        FrameError::StorageTooSmall {
            needed,
            provided: needed - 1
        }
    );
}

#[test]
fn from_free_ranges_builds_the_span() {
    let ranges = [
        (pa(0x8020_0000), pa(0x8040_0000)),
        (pa(0x8000_0000), pa(0x8010_0000)),
    ];
    let mut storage = storage_for(0x8000_0000, 0x8040_0000);
    let mut buddy = BuddyAllocator::from_free_ranges(&mut storage, &ranges).unwrap();
    assert_eq!(buddy.total_frames(), 512 + 256);
    assert_eq!(buddy.alloc(9), Ok(pa(0x8020_0000)));
    assert_eq!(buddy.alloc(8), Ok(pa(0x8000_0000)));
    assert_eq!(buddy.alloc(0), Err(FrameError::OutOfMemory));
    let overlapping = [
        (pa(0x8000_0000), pa(0x8000_2000)),
        (pa(0x8000_1000), pa(0x8000_3000)),
    ];
    let mut storage = storage_for(0x8000_0000, 0x8000_3000);
    assert_eq!(
        BuddyAllocator::from_free_ranges(&mut storage, &overlapping).unwrap_err(),
        FrameError::AlreadyManaged(pa(0x8000_1000))
    );
}

#[test]
fn alloc_lowest_first_and_aligned() {
    let mut storage = storage_for(0x8000_0000, 0x8100_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8100_0000)).unwrap();
    assert_eq!(
        buddy.add_free_range(pa(0x8000_3000), pa(0x8100_0000)),
        Ok(4096 - 3)
    );
    assert_eq!(buddy.total_frames(), 4093);
    assert_eq!(buddy.alloc(0), Ok(pa(0x8000_3000)));
    assert_eq!(buddy.alloc(0), Ok(pa(0x8000_4000)));
    // Order 3 = 32 KiB, aligned to 32 KiB.
    let block = buddy.alloc(3).unwrap();
    assert!(block.is_aligned(8 * KIB4));
    let big = buddy.alloc(9).unwrap();
    assert!(big.is_aligned(512 * KIB4));
    assert_eq!(buddy.used_frames(), 2 + 8 + 512);
    assert_eq!(buddy.free_frames(), 4093 - 522);
    assert!(buddy.is_allocated(big));
    assert!(!buddy.is_allocated(pa(0x8000_2000)));
}

#[test]
fn exhaustion_is_an_error_and_free_restores() {
    let mut storage = storage_for(0x8000_0000, 0x8004_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8004_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8004_0000))
        .unwrap();
    let pristine: Vec<usize> = (0..=MAX_ORDER).map(|k| buddy.free_blocks(k)).collect();
    assert_eq!(buddy.largest_free_order(), Some(6));
    assert_eq!(buddy.alloc(7), Err(FrameError::OutOfMemory));
    let mut held = Vec::new();
    for _ in 0..64 {
        held.push(buddy.alloc(0).unwrap());
    }
    assert_eq!(buddy.alloc(0), Err(FrameError::OutOfMemory));
    assert_eq!(buddy.free_frames(), 0);
    assert_eq!(buddy.largest_free_order(), None);
    // Free in an interleaved order; coalescing must rebuild the 256 KiB block.
    held.sort_by_key(|p| (p.as_u64() / KIB4).reverse_bits());
    for frame in held {
        buddy.free(frame, 0).unwrap();
    }
    let after: Vec<usize> = (0..=MAX_ORDER).map(|k| buddy.free_blocks(k)).collect();
    assert_eq!(after, pristine);
    assert_eq!(buddy.alloc(6), Ok(pa(0x8000_0000)));
}

#[test]
fn bad_frees_are_errors() {
    let mut storage = storage_for(0x8000_0000, 0x8010_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8010_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8008_0000))
        .unwrap();
    let frame = buddy.alloc(0).unwrap();
    buddy.free(frame, 0).unwrap();
    assert_eq!(buddy.free(frame, 0), Err(FrameError::NotAllocated(frame)));
    // Never managed (inside the span, outside the added range).
    assert_eq!(
        buddy.free(pa(0x800a_0000), 0),
        Err(FrameError::NotAllocated(pa(0x800a_0000)))
    );
    assert_eq!(
        buddy.free(pa(0x9000_0000), 0),
        Err(FrameError::OutsideSpan(pa(0x9000_0000)))
    );
    assert_eq!(
        buddy.free(pa(0x7000_0000), 0),
        Err(FrameError::OutsideSpan(pa(0x7000_0000)))
    );
    assert_eq!(
        buddy.free(pa(0x8000_1000), 1),
        Err(FrameError::Misaligned(pa(0x8000_1000)))
    );
    assert_eq!(
        buddy.free(pa(0x8000_0000), MAX_ORDER + 1),
        Err(FrameError::InvalidOrder(MAX_ORDER + 1))
    );
    assert_eq!(
        buddy.alloc(MAX_ORDER + 1),
        Err(FrameError::InvalidOrder(MAX_ORDER + 1))
    );
    // Freeing a larger block than allocated is refused.
    let one = buddy.alloc(0).unwrap();
    assert_eq!(buddy.free(one, 1), Err(FrameError::NotAllocated(one)));
    assert_eq!(buddy.free_frames(), 127);
}

#[test]
fn ranges_cannot_overlap_or_leave_span() {
    let mut storage = storage_for(0x8000_0000, 0x8010_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8010_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8001_0000))
        .unwrap();
    assert_eq!(
        buddy.add_free_range(pa(0x8000_f000), pa(0x8002_0000)),
        Err(FrameError::AlreadyManaged(pa(0x8000_f000)))
    );
    assert_eq!(
        buddy.add_free_range(pa(0x800f_0000), pa(0x8020_0000)),
        Err(FrameError::OutsideSpan(pa(0x800f_0000)))
    );
    // Partial frames at the ends are dropped.
    assert_eq!(
        buddy.add_free_range(pa(0x8002_0001), pa(0x8002_2fff)),
        Ok(1)
    );
    assert_eq!(
        buddy.add_free_range(pa(0x8003_0000), pa(0x8003_0000)),
        Ok(0)
    );
    assert_eq!(buddy.total_frames(), 17);
}

#[test]
fn reclaimed_range_coalesces_with_neighbours() {
    let mut storage = storage_for(0x8000_0000, 0x8040_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8040_0000)).unwrap();
    // Usable memory with a "loader" hole in the middle, reclaimed later.
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8010_0000))
        .unwrap();
    buddy
        .add_free_range(pa(0x8012_0000), pa(0x8040_0000))
        .unwrap();
    assert_eq!(buddy.largest_free_order(), Some(9));
    buddy
        .add_free_range(pa(0x8010_0000), pa(0x8012_0000))
        .unwrap();
    // 4 MiB contiguous and aligned: one order-10 block.
    assert_eq!(buddy.free_blocks(10), 1);
    assert_eq!(buddy.alloc(10), Ok(pa(0x8000_0000)));
}

#[test]
fn large_block_can_be_freed_piecewise() {
    let mut storage = storage_for(0x8000_0000, 0x8010_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8010_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8010_0000))
        .unwrap();
    let block = buddy.alloc(4).unwrap();
    for i in 0..16 {
        buddy.free(pa(block.as_u64() + i * KIB4), 0).unwrap();
    }
    assert_eq!(buddy.free_frames(), 256);
    assert_eq!(buddy.free_blocks(8), 1);
}

#[test]
fn used_ranges_are_counted_and_freeable() {
    let mut storage = storage_for(0x8000_0000, 0x8040_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8040_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8020_0000))
        .unwrap();
    // A "loader" range in use, partly unaligned at the ends (rounded outward).
    assert_eq!(
        buddy.add_used_range(pa(0x8020_0800), pa(0x8030_0001)),
        Ok(257)
    );
    assert_eq!(buddy.used_frames(), 257);
    assert_eq!(buddy.total_frames(), 512 + 257);
    assert!(buddy.is_allocated(pa(0x8020_0000)));
    assert_eq!(
        buddy.add_used_range(pa(0x8030_0000), pa(0x8030_1000)),
        Err(FrameError::AlreadyManaged(pa(0x8030_0000)))
    );
    // A single frame of it can be freed, then the rest as a range.
    buddy.free(pa(0x8020_0000), 0).unwrap();
    assert_eq!(
        buddy.free_range(pa(0x8020_0000), pa(0x8030_1000)),
        Err(FrameError::NotAllocated(pa(0x8020_0000)))
    );
    assert_eq!(buddy.free_range(pa(0x8020_1000), pa(0x8030_1000)), Ok(256));
    assert_eq!(
        buddy.free_range(pa(0x8020_1800), pa(0x8030_1000)),
        Err(FrameError::Misaligned(pa(0x8020_1800)))
    );
    assert_eq!(buddy.used_frames(), 0);
    // Everything below 0x8030_0000 coalesced: 3 MiB = one 2 MiB + one 1 MiB block, plus the last frame.
    assert_eq!(buddy.free_blocks(9), 1);
    assert_eq!(buddy.free_blocks(8), 1);
    assert_eq!(buddy.free_blocks(0), 1);
}

#[test]
fn zeroed_frames_back_page_tables() {
    use crate::addr::VirtAddr;
    use crate::paging::{PageFlags, PageTable, PagingMode};
    use crate::sim::SimMemory;

    let memory = SimMemory::new(pa(0x8000_0000), 64);
    // Dirty the RAM so zeroing is observable.
    // SAFETY: the arena is 64 frames long and only this test uses it.
    unsafe {
        crate::PhysMap::phys_to_ptr(&memory, pa(0x8000_0000)).write_bytes(0xa5, 64 * PAGE_SIZE)
    };
    let mut storage = storage_for(0x8000_0000, 0x8004_0000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(0x8000_0000), pa(0x8004_0000)).unwrap();
    buddy
        .add_free_range(pa(0x8000_0000), pa(0x8004_0000))
        .unwrap();
    // SAFETY: every frame of the buddy lies inside `memory`, and only the
    // page table below frees frames into it.
    let mut frames = unsafe { ZeroedFrames::new(&mut buddy, &memory) };
    let mut table = PageTable::new(PagingMode::Sv39, &mut frames).unwrap();
    table
        .map(
            VirtAddr::new(0x1000),
            pa(0x8800_0000),
            PAGE_SIZE,
            PageFlags::READ,
            &mut frames,
            &memory,
        )
        .unwrap();
    assert_eq!(
        table
            .translate(VirtAddr::new(0x1000), &memory)
            .map(|(p, _)| p),
        Some(pa(0x8800_0000))
    );
    assert_eq!(frames.buddy().used_frames(), 3);
    table
        .unmap(
            VirtAddr::new(0x1000),
            PAGE_SIZE,
            &mut frames,
            &memory,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(frames.buddy().used_frames(), 1);
}

// === property test: random alloc/free against a model ===

#[derive(Debug, Clone)]
enum Op {
    Alloc(usize),
    Free(usize),
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..=6).prop_map(Op::Alloc),
        2 => any::<usize>().prop_map(Op::Free),
    ]
}

fn ranges_strategy() -> impl Strategy<Value = Vec<(u64, u64)>> {
    // Up to 4 disjoint ranges (in frames) inside a 1024-frame span that
    // starts at an odd offset from an order-MAX boundary.
    proptest::collection::btree_set(0u64..1024, 2..8).prop_map(|points| {
        let points: Vec<u64> = points.into_iter().collect();
        points
            .chunks_exact(2)
            .map(|pair| (pair[0], pair[1]))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn buddy_matches_model(ranges in ranges_strategy(), ops in proptest::collection::vec(op_strategy(), 1..200)) {
        let base: u64 = 0x8000_0000 + 37 * KIB4;
        let span_end = base + 1024 * KIB4;
        let mut storage = storage_for(base, span_end);
        let mut buddy = BuddyAllocator::new(&mut storage, pa(base), pa(span_end)).unwrap();
        let mut usable = BTreeSet::new();
        for &(from, to) in &ranges {
            buddy.add_free_range(pa(base + from * KIB4), pa(base + to * KIB4)).unwrap();
            usable.extend((from..to).map(|f| base / KIB4 + f));
        }
        let pristine: Vec<usize> = (0..=MAX_ORDER).map(|k| buddy.free_blocks(k)).collect();
        let total = usable.len();
        prop_assert_eq!(buddy.total_frames(), total);

        let mut held: Vec<(PhysAddr, usize)> = Vec::new();
        let mut in_use = BTreeSet::new();
        for op in ops {
            match op {
                Op::Alloc(order) => match buddy.alloc(order) {
                    Ok(block) => {
                        prop_assert!(block.is_aligned(KIB4 << order));
                        for i in 0..(1u64 << order) {
                            let frame = block.frame_number() + i;
                            prop_assert!(usable.contains(&frame), "frame outside usable ranges");
                            prop_assert!(in_use.insert(frame), "frame handed out twice");
                        }
                        held.push((block, order));
                    }
                    Err(e) => {
                        prop_assert_eq!(e, FrameError::OutOfMemory);
                        // No aligned run of 2^order free usable frames exists.
                        let size = 1u64 << order;
                        let possible = usable.iter().any(|&f| {
                            f % size == 0 && (f..f + size).all(|g| usable.contains(&g) && !in_use.contains(&g))
                        });
                        prop_assert!(!possible, "alloc({}) failed although a block was free", order);
                    }
                },
                Op::Free(pick) => {
                    if held.is_empty() {
                        continue;
                    }
                    let (block, order) = held.swap_remove(pick % held.len());
                    buddy.free(block, order).unwrap();
                    for i in 0..(1u64 << order) {
                        in_use.remove(&(block.frame_number() + i));
                    }
                    // A second free of the same block is refused.
                    prop_assert_eq!(buddy.free(block, order), Err(FrameError::NotAllocated(block)));
                }
            }
            prop_assert_eq!(buddy.used_frames(), in_use.len());
            prop_assert_eq!(buddy.free_frames(), total - in_use.len());
        }
        for (block, order) in held {
            buddy.free(block, order).unwrap();
        }
        let after: Vec<usize> = (0..=MAX_ORDER).map(|k| buddy.free_blocks(k)).collect();
        prop_assert_eq!(after, pristine, "coalescing restores the initial free state");
    }
}

// === property test: used ranges, piecewise and range frees ===

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Memory handed over as "in use" (like the loader's) is freed back in
    /// arbitrary aligned pieces and ranges; afterwards the allocator looks
    /// exactly as if it had been free from the start.
    #[test]
    fn used_ranges_free_to_the_same_state(
        cuts in proptest::collection::btree_set(1u64..255, 0..12),
        order_of_pieces in proptest::collection::vec(any::<usize>(), 12),
    ) {
        let base: u64 = 0x8000_0000;
        let end = base + 256 * KIB4;
        // Reference: everything free from the start.
        let mut reference_storage = storage_for(base, end);
        let mut reference = BuddyAllocator::new(&mut reference_storage, pa(base), pa(end)).unwrap();
        reference.add_free_range(pa(base), pa(end)).unwrap();
        let expected: Vec<usize> = (0..=MAX_ORDER).map(|k| reference.free_blocks(k)).collect();

        let mut storage = storage_for(base, end);
        let mut buddy = BuddyAllocator::new(&mut storage, pa(base), pa(end)).unwrap();
        buddy.add_used_range(pa(base), pa(end)).unwrap();
        prop_assert_eq!(buddy.free_frames(), 0);
        prop_assert_eq!(buddy.alloc(0), Err(FrameError::OutOfMemory));
        // Split [0, 256) frames at the cut points and free the pieces in a
        // scrambled order, each with free_range.
        let mut points: Vec<u64> = core::iter::once(0).chain(cuts).chain(core::iter::once(256)).collect();
        points.dedup();
        let mut pieces: Vec<(u64, u64)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        for (i, pick) in order_of_pieces.iter().enumerate() {
            let len = pieces.len();
            if len > 1 {
                pieces.swap(i % len, pick % len);
            }
        }
        let mut freed = 0;
        for (from, to) in pieces {
            freed += buddy.free_range(pa(base + from * KIB4), pa(base + to * KIB4)).unwrap();
            prop_assert_eq!(buddy.free_frames(), freed);
        }
        prop_assert_eq!(freed, 256);
        let after: Vec<usize> = (0..=MAX_ORDER).map(|k| buddy.free_blocks(k)).collect();
        prop_assert_eq!(after, expected);
        // And a second free of anything is refused.
        prop_assert_eq!(buddy.free_range(pa(base), pa(base + KIB4)), Err(FrameError::NotAllocated(pa(base))));
    }
}

// === add_regions: a whole memory map with unaligned boundaries ===

#[test]
fn add_regions_rounds_shared_frames_safely() {
    use RegionUse::{Free, InUse, Unmanaged};
    let base = 0x8000_0000u64;
    let regions = [
        // Firmware, ending mid-frame: frame 0x8000_1000 is shared with free RAM.
        (pa(base), pa(base + 0x1800), Unmanaged),
        (pa(base + 0x1800), pa(base + 0x5400), Free),
        // Loader image, shares frames with the free RAM around it.
        (pa(base + 0x5400), pa(base + 0x7200), InUse),
        (pa(base + 0x7200), pa(base + 0x10000), Free),
    ];
    let mut storage = storage_for(base, base + 0x10000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(base), pa(base + 0x10000)).unwrap();
    buddy.add_regions(regions).unwrap();
    // Free: 0x2000..0x5000 (3 frames) and 0x8000..0x10000 (8 frames).
    assert_eq!(buddy.free_frames(), 11);
    // In use: 0x5000, 0x6000, 0x7000 (the frames the loader touches).
    assert_eq!(buddy.used_frames(), 3);
    for frame in [0x5000, 0x6000, 0x7000] {
        assert!(buddy.is_allocated(pa(base + frame)));
    }
    // Firmware frames, including the shared one, are not managed at all.
    assert_eq!(
        buddy.free(pa(base + 0x1000), 0),
        Err(FrameError::NotAllocated(pa(base + 0x1000)))
    );
    // Reclaiming the loader's whole frames later works.
    assert_eq!(
        buddy.free_range(pa(base + 0x6000), pa(base + 0x7000)),
        Ok(1)
    );

    let mut storage = storage_for(base, base + 0x10000);
    let mut buddy = BuddyAllocator::new(&mut storage, pa(base), pa(base + 0x10000)).unwrap();
    let unsorted = [
        (pa(base + 0x2000), pa(base + 0x3000), Free),
        (pa(base), pa(base + 0x1000), Free),
    ];
    assert_eq!(
        buddy.add_regions(unsorted),
        Err(FrameError::RegionsNotSorted(pa(base)))
    );
}

fn region_use_strategy() -> impl Strategy<Value = RegionUse> {
    prop_oneof![3 => Just(RegionUse::Free), 2 => Just(RegionUse::InUse), 1 => Just(RegionUse::Unmanaged)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn add_regions_never_frees_a_shared_frame(
        cuts in proptest::collection::btree_set(1u64..(64 * 4096), 1..20),
        uses in proptest::collection::vec(region_use_strategy(), 21),
        gaps in proptest::collection::vec(any::<bool>(), 21),
    ) {
        let base = 0x8000_0000u64;
        let points: Vec<u64> = core::iter::once(0).chain(cuts).chain(core::iter::once(64 * 4096)).collect();
        // Consecutive byte ranges; some are left out (holes in the map).
        let regions: Vec<(u64, u64, RegionUse)> = points
            .windows(2)
            .enumerate()
            .filter(|(i, _)| !gaps[*i] || *i == 0)
            .map(|(i, w)| (base + w[0], base + w[1], uses[i]))
            .collect();
        let mut storage = storage_for(base, base + 64 * 4096);
        let mut buddy = BuddyAllocator::new(&mut storage, pa(base), pa(base + 64 * 4096)).unwrap();
        let added = buddy.add_regions(regions.iter().map(|&(s, e, u)| (pa(s), pa(e), u))).unwrap();
        prop_assert_eq!(added, buddy.total_frames());

        let touches = |frame: u64, usage: RegionUse| {
            regions.iter().any(|&(s, e, u)| u == usage && s < frame + KIB4 && e > frame)
        };
        let pure_free = |frame: u64| regions.iter().any(|&(s, e, u)| u == RegionUse::Free && s <= frame && frame + KIB4 <= e);
        // Allocate everything: exactly the frames wholly inside one free region.
        let mut handed_out = BTreeSet::new();
        while let Ok(frame) = buddy.alloc(0) {
            handed_out.insert(frame.as_u64());
        }
        let expected: BTreeSet<u64> = (0..64).map(|i| base + i * KIB4).filter(|&f| pure_free(f)).collect();
        prop_assert_eq!(&handed_out, &expected);
        for i in 0..64 {
            let frame = base + i * KIB4;
            if handed_out.contains(&frame) {
                continue;
            }
            let allocated = buddy.is_allocated(pa(frame));
            // In use only if it touches an in-use region ...
            if allocated {
                prop_assert!(touches(frame, RegionUse::InUse), "frame {:#x} in use without reason", frame);
            }
            // ... and every frame wholly inside an in-use region is in use.
            let inside_in_use = regions.iter().any(|&(s, e, u)| u == RegionUse::InUse && s <= frame && frame + KIB4 <= e);
            if inside_in_use {
                prop_assert!(allocated, "frame {:#x} of an in-use region is not managed", frame);
            }
        }
    }
}
