//! Property tests: random map/unmap/protect sequences against a
//! page-granular model.

use super::*;

// === property tests against a page-granular model ===

/// Window of 8 MiB of virtual space starting 2 MiB below a 1 GiB boundary,
/// so runs can hit 4 KiB and 2 MiB leaves and cross a level-2 boundary.
const WINDOW_BASE: usize = 3 * GIGA_PAGE_SIZE - MEGA_PAGE_SIZE;
const WINDOW_PAGES: usize = 2048;

#[derive(Debug, Clone)]
enum Op {
    Map {
        page: usize,
        pages: usize,
        pa_page: u64,
        flags: PageFlags,
    },
    Unmap {
        page: usize,
        pages: usize,
    },
    UnmapPresent {
        page: usize,
        pages: usize,
    },
    Protect {
        page: usize,
        pages: usize,
        flags: PageFlags,
    },
}

fn flags_strategy() -> impl Strategy<Value = PageFlags> {
    (0u8..=0x3f).prop_map(|bits| PageFlags::from_bits((bits << 1) & 0x3e).unwrap())
}

fn range_strategy() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        // Arbitrary pages.
        (0..WINDOW_PAGES, 1usize..64),
        // 2 MiB aligned runs, to exercise mega leaves and splitting.
        (0..WINDOW_PAGES / 512, 1usize..=3).prop_map(|(m, n)| (m * 512, n * 512)),
    ]
    .prop_map(|(page, pages)| (page, pages.min(WINDOW_PAGES - page)))
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (range_strategy(), 0u64..4, flags_strategy()).prop_map(|((page, pages), pa_mega, flags)| Op::Map {
            page,
            pages,
            // Same offset within 2 MiB as the VA, so mega leaves are possible.
            pa_page: 0x80000 + pa_mega * 512 + (page as u64 % 512),
            flags
        }),
        2 => range_strategy().prop_map(|(page, pages)| Op::Unmap { page, pages }),
        1 => range_strategy().prop_map(|(page, pages)| Op::UnmapPresent { page, pages }),
        1 => (range_strategy(), flags_strategy()).prop_map(|((page, pages), flags)| Op::Protect { page, pages, flags }),
    ]
}

fn page_va(page: usize) -> VirtAddr {
    VirtAddr::new(WINDOW_BASE + page * PAGE_SIZE)
}

fn check_against_model(mode: PagingMode, ops: &[Op]) {
    let (memory, mut frames, mut table) = setup(mode, 256);
    let mut model: BTreeMap<usize, (u64, PageFlags)> = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Map {
                page,
                pages,
                pa_page,
                flags,
            } => {
                let result = table.map(
                    page_va(page),
                    PhysAddr::from_frame_number(pa_page).unwrap(),
                    pages * PAGE_SIZE,
                    flags,
                    &mut frames,
                    &memory,
                );
                if !flags.is_valid_leaf() {
                    assert_eq!(result, Err(MapError::InvalidFlags(flags)));
                } else if let Some(first) = (page..page + pages).find(|p| model.contains_key(p)) {
                    assert_eq!(result, Err(MapError::AlreadyMapped { va: page_va(first) }));
                } else {
                    assert_eq!(result, Ok(()));
                    for i in 0..pages {
                        model.insert(page + i, (pa_page + i as u64, flags | AD));
                    }
                }
            }
            Op::Unmap { page, pages } => {
                let mut removed = BTreeMap::new();
                let result = table.unmap(
                    page_va(page),
                    pages * PAGE_SIZE,
                    &mut frames,
                    &memory,
                    |m, _| {
                        for i in 0..m.len / PAGE_SIZE {
                            let p = (m.va.as_usize() + i * PAGE_SIZE - WINDOW_BASE) / PAGE_SIZE;
                            removed.insert(p, (m.pa.frame_number() + i as u64, m.flags));
                        }
                    },
                );
                if let Some(first) = (page..page + pages).find(|p| !model.contains_key(p)) {
                    assert_eq!(result, Err(MapError::NotMapped { va: page_va(first) }));
                    assert!(removed.is_empty());
                } else {
                    assert!(result.is_ok());
                    let expected: BTreeMap<_, _> = (page..page + pages)
                        .map(|p| (p, model.remove(&p).unwrap()))
                        .collect();
                    assert_eq!(
                        removed, expected,
                        "reported leaves match the unmapped range"
                    );
                }
            }
            Op::UnmapPresent { page, pages } => {
                let mut removed = BTreeMap::new();
                let stats = table
                    .unmap_present(
                        page_va(page),
                        pages * PAGE_SIZE,
                        &mut frames,
                        &memory,
                        |m, _| {
                            for i in 0..m.len / PAGE_SIZE {
                                let p = (m.va.as_usize() + i * PAGE_SIZE - WINDOW_BASE) / PAGE_SIZE;
                                removed.insert(p, (m.pa.frame_number() + i as u64, m.flags));
                            }
                        },
                    )
                    .unwrap();
                let expected: BTreeMap<_, _> = (page..page + pages)
                    .filter_map(|p| model.remove(&p).map(|v| (p, v)))
                    .collect();
                assert_eq!(stats.unmapped_bytes, expected.len() * PAGE_SIZE);
                assert_eq!(
                    removed, expected,
                    "exactly the mapped pages in range are removed"
                );
            }
            Op::Protect { page, pages, flags } => {
                let result = table.protect(
                    page_va(page),
                    pages * PAGE_SIZE,
                    flags,
                    &mut frames,
                    &memory,
                );
                if !flags.is_valid_leaf() {
                    assert_eq!(result, Err(MapError::InvalidFlags(flags)));
                } else if let Some(first) = (page..page + pages).find(|p| !model.contains_key(p)) {
                    assert_eq!(result, Err(MapError::NotMapped { va: page_va(first) }));
                } else {
                    assert_eq!(result, Ok(()));
                    for p in page..page + pages {
                        model.get_mut(&p).unwrap().1 = flags | AD;
                    }
                }
            }
        }
        // The table's leaves, expanded to pages, equal the model.
        let mut actual = BTreeMap::new();
        table.for_each_mapping(&memory, |m| {
            for i in 0..m.len / PAGE_SIZE {
                let p = (m.va.as_usize() + i * PAGE_SIZE - WINDOW_BASE) / PAGE_SIZE;
                actual.insert(p, (m.pa.frame_number() + i as u64, m.flags));
            }
        });
        assert_eq!(actual, model);
    }
    // Spot-check translate on every page, then unmap everything: only the
    // root frame may remain.
    for page in 0..WINDOW_PAGES {
        let got = table.translate(page_va(page).checked_add(0x123).unwrap(), &memory);
        let want = model.get(&page).map(|(f, flags)| {
            (
                PhysAddr::from_frame_number(*f)
                    .unwrap()
                    .checked_add(0x123)
                    .unwrap(),
                *flags,
            )
        });
        assert_eq!(got, want);
    }
    for &page in model.keys() {
        table
            .unmap(page_va(page), PAGE_SIZE, &mut frames, &memory, |_, _| {})
            .unwrap();
    }
    assert_eq!(frames.in_use(), 1, "emptied tables are freed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sv39_matches_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        check_against_model(PagingMode::Sv39, &ops);
    }

    #[test]
    fn sv48_matches_model(ops in proptest::collection::vec(op_strategy(), 1..40)) {
        check_against_model(PagingMode::Sv48, &ops);
    }
}
