use super::*;
use crate::addr::{PAGE_SIZE, VirtAddr};
use crate::paging::PageFlags;
use proptest::prelude::*;
use std::vec::Vec;

const KERNEL_BASE: usize = 0xffff_ffc0_0000_0000;
const RW: PageFlags = PageFlags::READ_WRITE;

fn va(raw: usize) -> VirtAddr {
    VirtAddr::new(raw)
}

fn kernel_layout() -> AddressSpaceLayout {
    AddressSpaceLayout::new(va(KERNEL_BASE), va(usize::MAX))
}

#[test]
fn insert_find_remove() {
    let mut layout = kernel_layout();
    let text = Region::new(
        va(KERNEL_BASE + 0x20_0000),
        0x4000,
        PageFlags::READ_EXECUTE,
        RegionKind::KernelText,
        ".text",
    );
    let data = Region::new(
        va(KERNEL_BASE + 0x20_4000),
        0x2000,
        RW,
        RegionKind::KernelData,
        ".data",
    );
    layout.insert(text).unwrap();
    layout.insert(data).unwrap();
    assert_eq!(layout.find(va(KERNEL_BASE + 0x20_3fff)), Some(&text));
    assert_eq!(layout.find(va(KERNEL_BASE + 0x20_4000)), Some(&data));
    assert_eq!(layout.find(va(KERNEL_BASE + 0x20_6000)), None);
    assert_eq!(layout.find(va(KERNEL_BASE)), None);
    assert_eq!(layout.len(), 2);
    assert_eq!(layout.remove(text.start), Ok(text));
    assert_eq!(
        layout.remove(text.start),
        Err(RegionError::NotFound(text.start))
    );
    assert_eq!(layout.find(va(KERNEL_BASE + 0x20_0000)), None);
}

#[test]
fn rejects_overlap_and_bad_regions() {
    let mut layout = kernel_layout();
    let heap = Region::new(
        va(KERNEL_BASE + 0x10_0000),
        0x10_0000,
        RW,
        RegionKind::Heap,
        "heap",
    );
    layout.insert(heap).unwrap();
    let cases = [
        (
            Region::new(
                va(KERNEL_BASE + 0xf_f000),
                0x2000,
                RW,
                RegionKind::Other,
                "a",
            ),
            RegionError::Overlaps {
                start: heap.start,
                name: "heap",
            },
        ),
        (
            Region::new(
                va(KERNEL_BASE + 0x1f_f000),
                0x1000,
                RW,
                RegionKind::Other,
                "b",
            ),
            RegionError::Overlaps {
                start: heap.start,
                name: "heap",
            },
        ),
        (
            Region::new(va(KERNEL_BASE), 0x100_0000, RW, RegionKind::Other, "c"),
            RegionError::Overlaps {
                start: heap.start,
                name: "heap",
            },
        ),
        (
            Region::new(va(KERNEL_BASE + 0x123), 0x1000, RW, RegionKind::Other, "d"),
            RegionError::Misaligned,
        ),
        (
            Region::new(va(KERNEL_BASE), 0, RW, RegionKind::Other, "e"),
            RegionError::Empty,
        ),
        (
            Region::new(va(KERNEL_BASE), 0x1000, RW, RegionKind::Stack, "f").with_guard(0x1000),
            RegionError::Empty,
        ),
        (
            Region::new(va(KERNEL_BASE), 0x2000, RW, RegionKind::Stack, "g").with_guard(0x800),
            RegionError::Misaligned,
        ),
        (
            Region::new(va(0x1000), 0x1000, RW, RegionKind::Other, "h"),
            RegionError::OutOfBounds { start: va(0x1000) },
        ),
        (
            Region::new(va(usize::MAX - 0xfff), 0x2000, RW, RegionKind::Other, "i"),
            RegionError::OutOfBounds {
                start: va(usize::MAX - 0xfff),
            },
        ),
        (
            Region::new(
                va(KERNEL_BASE),
                0x1000,
                RW | PageFlags::EXECUTE,
                RegionKind::Code,
                "j",
            ),
            RegionError::WriteAndExecute,
        ),
        (
            Region::new(
                va(KERNEL_BASE),
                0x1000,
                PageFlags::WRITE,
                RegionKind::Other,
                "k",
            ),
            RegionError::InvalidFlags(PageFlags::WRITE),
        ),
    ];
    for (region, error) in cases {
        assert_eq!(layout.insert(region), Err(error), "{}", region.name);
    }
    assert_eq!(layout.len(), 1);
    // Adjacent on both sides is fine.
    layout
        .insert(Region::new(
            va(KERNEL_BASE + 0xf_f000),
            0x1000,
            RW,
            RegionKind::Other,
            "below",
        ))
        .unwrap();
    layout
        .insert(Region::new(
            va(KERNEL_BASE + 0x20_0000),
            0x1000,
            RW,
            RegionKind::Other,
            "above",
        ))
        .unwrap();
}

#[test]
fn region_at_top_of_address_space() {
    let mut layout = kernel_layout();
    let top = Region::new(
        va(usize::MAX - 0x1fff),
        0x2000,
        PageFlags::READ,
        RegionKind::Other,
        "top",
    );
    layout.insert(top).unwrap();
    assert_eq!(top.end(), None);
    assert_eq!(layout.find(va(usize::MAX)), Some(&top));
    // Nothing fits above it; below it does.
    assert_eq!(
        layout.find_free(0x1000, PAGE_SIZE, va(usize::MAX - 0x1fff)),
        None
    );
    assert_eq!(
        layout.find_free(0x1000, PAGE_SIZE, va(usize::MAX - 0x2fff)),
        Some(va(usize::MAX - 0x2fff))
    );
}

#[test]
fn find_free_respects_alignment_and_gaps() {
    let mut layout = kernel_layout();
    layout
        .insert(Region::new(
            va(KERNEL_BASE),
            0x3000,
            RW,
            RegionKind::Other,
            "a",
        ))
        .unwrap();
    layout
        .insert(Region::new(
            va(KERNEL_BASE + 0x5000),
            0x1000,
            RW,
            RegionKind::Other,
            "b",
        ))
        .unwrap();
    // 0x2000 fits in the gap at +0x3000.
    assert_eq!(
        layout.find_free(0x2000, PAGE_SIZE, va(0)),
        Some(va(KERNEL_BASE + 0x3000))
    );
    // 0x3000 does not; next is after b.
    assert_eq!(
        layout.find_free(0x3000, PAGE_SIZE, va(0)),
        Some(va(KERNEL_BASE + 0x6000))
    );
    // 2 MiB aligned.
    assert_eq!(
        layout.find_free(0x1000, 0x20_0000, va(0)),
        Some(va(KERNEL_BASE + 0x20_0000))
    );
    // A hint inside a region starts after it.
    assert_eq!(
        layout.find_free(0x1000, PAGE_SIZE, va(KERNEL_BASE + 0x1000)),
        Some(va(KERNEL_BASE + 0x3000))
    );
    assert_eq!(layout.find_free(0, PAGE_SIZE, va(0)), None);
    assert_eq!(layout.find_free(0x1000, 3, va(0)), None);
}

#[test]
fn allocate_stack_with_guard() {
    let mut layout = kernel_layout();
    let stack = layout
        .allocate(
            0x5000,
            PAGE_SIZE,
            va(KERNEL_BASE + 0x1000_0000),
            RW,
            RegionKind::Stack,
            "stack",
            PAGE_SIZE,
        )
        .unwrap();
    assert_eq!(stack.start, va(KERNEL_BASE + 0x1000_0000));
    assert!(stack.is_guard(stack.start));
    assert!(stack.is_guard(va(stack.start.as_usize() + 0xfff)));
    assert!(!stack.is_guard(va(stack.start.as_usize() + 0x1000)));
    assert_eq!(
        stack.usable(),
        (va(stack.start.as_usize() + 0x1000), 0x4000)
    );
    let next = layout
        .allocate(
            0x5000,
            PAGE_SIZE,
            va(KERNEL_BASE + 0x1000_0000),
            RW,
            RegionKind::Stack,
            "stack",
            PAGE_SIZE,
        )
        .unwrap();
    assert_eq!(next.start, va(KERNEL_BASE + 0x1000_5000));
    let small = AddressSpaceLayout::new(va(0x1000), va(0x2fff));
    let mut small = small;
    assert_eq!(
        small.allocate(0x3000, PAGE_SIZE, va(0), RW, RegionKind::Heap, "heap", 0),
        Err(RegionError::NoSpace { len: 0x3000 })
    );
}

#[test]
fn set_flags_checks_w_xor_x() {
    let mut layout = kernel_layout();
    let code = Region::new(va(KERNEL_BASE), 0x1000, RW, RegionKind::Code, "jit");
    layout.insert(code).unwrap();
    layout
        .set_flags(code.start, PageFlags::READ_EXECUTE)
        .unwrap();
    assert_eq!(
        layout.get(code.start).unwrap().flags,
        PageFlags::READ_EXECUTE
    );
    assert_eq!(
        layout.set_flags(code.start, RW | PageFlags::EXECUTE),
        Err(RegionError::WriteAndExecute)
    );
    assert_eq!(
        layout.set_flags(va(KERNEL_BASE + 0x1000), RW),
        Err(RegionError::NotFound(va(KERNEL_BASE + 0x1000)))
    );
}

// === property test: layout vs. a page-set model ===

#[derive(Debug, Clone)]
enum Op {
    Insert { page: usize, pages: usize },
    Allocate { pages: usize, align_pages: usize },
    Remove(usize),
}

const PAGES: usize = 256;

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..PAGES, 1usize..16).prop_map(|(page, pages)| Op::Insert { page, pages }),
        (1usize..16, prop_oneof![Just(1usize), Just(4), Just(16)])
            .prop_map(|(pages, align_pages)| Op::Allocate { pages, align_pages }),
        any::<usize>().prop_map(Op::Remove),
    ]
}

proptest! {
    #[test]
    fn layout_matches_model(ops in proptest::collection::vec(op_strategy(), 1..100)) {
        let base = KERNEL_BASE;
        let mut layout = AddressSpaceLayout::new(va(base), va(base + PAGES * PAGE_SIZE - 1));
        let mut used = [false; PAGES];
        let mut starts: Vec<usize> = Vec::new();
        for op in ops {
            match op {
                Op::Insert { page, pages } => {
                    let region = Region::new(va(base + page * PAGE_SIZE), pages * PAGE_SIZE, RW, RegionKind::Other, "r");
                    let result = layout.insert(region);
                    let fits = page + pages <= PAGES;
                    let free = fits && used[page..page + pages].iter().all(|u| !u);
                    prop_assert_eq!(result.is_ok(), free);
                    if free {
                        used[page..page + pages].fill(true);
                        starts.push(page);
                    }
                }
                Op::Allocate { pages, align_pages } => {
                    let result = layout.allocate(pages * PAGE_SIZE, align_pages * PAGE_SIZE, va(0), RW, RegionKind::Other, "a", 0);
                    let expected = (0..PAGES)
                        .step_by(align_pages)
                        .find(|&p| p + pages <= PAGES && used[p..p + pages].iter().all(|u| !u));
                    match (result, expected) {
                        (Ok(region), Some(p)) => {
                            prop_assert_eq!(region.start, va(base + p * PAGE_SIZE));
                            used[p..p + pages].fill(true);
                            starts.push(p);
                        }
                        (Err(RegionError::NoSpace { .. }), None) => {}
                        (got, want) => prop_assert!(false, "allocate: got {:?}, model {:?}", got, want),
                    }
                }
                Op::Remove(pick) => {
                    if starts.is_empty() {
                        continue;
                    }
                    let page = starts.swap_remove(pick % starts.len());
                    let region = layout.remove(va(base + page * PAGE_SIZE)).unwrap();
                    used[page..page + region.len / PAGE_SIZE].fill(false);
                }
            }
            for (page, &in_use) in used.iter().enumerate() {
                prop_assert_eq!(layout.find(va(base + page * PAGE_SIZE + 8)).is_some(), in_use);
            }
        }
    }
}
