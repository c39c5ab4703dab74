use super::*;

const MIB: u64 = 1024 * 1024;

#[test]
fn new_boot_info_validates_except_for_paging_mode() {
    let mut info = BootInfo::new();
    assert_eq!(info.validate(), Err(BootInfoError::UnknownPagingMode(0)));
    info.paging_mode = PagingMode::SV48;
    assert_eq!(info.validate(), Ok(()));
    info.magic = 1;
    assert_eq!(info.validate(), Err(BootInfoError::BadMagic(1)));
    info.magic = BOOT_INFO_MAGIC;
    info.version = 0;
    assert!(matches!(info.validate(), Err(BootInfoError::VersionMismatch { .. })));
    info.version = BOOT_INFO_VERSION;
    info.hart_count = u32::try_from(MAX_HARTS).unwrap() + 1;
    assert_eq!(info.validate(), Err(BootInfoError::CountOutOfRange));
}

#[test]
fn link_address_undoes_the_slide() {
    let mut info = BootInfo::new();
    info.kaslr_slide = 0u64.wrapping_sub(0x1000);
    assert_eq!(info.link_address(layout::KERNEL_LINK_BASE - 0x1000 + 0x42), layout::KERNEL_LINK_BASE + 0x42);
}

#[test]
fn marking_splits_usable_memory() {
    let mut map = MemoryMap::new();
    map.add_usable(0x8000_0000, 512 * MIB).unwrap();
    map.mark(0x8000_0000, 2 * MIB, MemoryKind::RESERVED).unwrap();
    map.mark(0x8100_0000, MIB, MemoryKind::FDT).unwrap();
    let kinds: std::vec::Vec<_> = map.regions().iter().map(|region| (region.start, region.kind)).collect();
    assert_eq!(
        kinds,
        [
            (0x8000_0000, MemoryKind::RESERVED),
            (0x8020_0000, MemoryKind::USABLE),
            (0x8100_0000, MemoryKind::FDT),
            (0x8110_0000, MemoryKind::USABLE),
        ]
    );
    assert_eq!(map.total_bytes(MemoryKind::USABLE), 512 * MIB - 3 * MIB);
    // Marking memory that is already taken changes nothing.
    map.mark(0x8000_0000, MIB, MemoryKind::LOADER).unwrap();
    assert_eq!(map.total_bytes(MemoryKind::LOADER), 0);
}

#[test]
fn allocations_are_aligned_disjoint_and_merged() {
    let mut map = MemoryMap::new();
    map.add_usable(0x1000, 64 * 4096).unwrap();
    let a = map.allocate(4096, 4096, MemoryKind::PAGE_TABLES).unwrap();
    let b = map.allocate(4096, 4096, MemoryKind::PAGE_TABLES).unwrap();
    assert_eq!((a, b), (0x1000, 0x2000));
    assert_eq!(map.len(), 2, "adjacent page-table regions merge");
    let c = map.allocate(8192, 0x4000, MemoryKind::STACKS).unwrap();
    assert_eq!(c, 0x4000);
    assert_eq!(map.allocate(1 << 30, 4096, MemoryKind::KERNEL), Err(MemoryMapError::OutOfMemory { len_bytes: 1 << 30 }));
    assert_eq!(map.allocate(4096, 3, MemoryKind::KERNEL), Err(MemoryMapError::BadAlignment));
    let total: u64 = map.regions().iter().map(|region| region.len_bytes).sum();
    assert_eq!(total, 64 * 4096);
}

#[test]
fn add_usable_skips_known_regions() {
    let mut map = MemoryMap::new();
    map.add_usable(0, 0x1000).unwrap();
    map.mark(0, 0x1000, MemoryKind::RESERVED).unwrap();
    map.add_usable(0, 0x3000).unwrap();
    assert_eq!(map.total_bytes(MemoryKind::USABLE), 0x2000);
    assert_eq!(map.total_bytes(MemoryKind::RESERVED), 0x1000);
    assert_eq!(map.add_usable(u64::MAX, 2), Err(MemoryMapError::Overflow));
}

#[test]
fn full_map_is_an_error() {
    let mut map = MemoryMap::new();
    for index in 0..u64::try_from(memory_map::MAX_MEMORY_REGIONS).unwrap() {
        map.add_usable(index * 0x2000, 0x1000).unwrap();
    }
    assert_eq!(map.add_usable(0x1_0000_0000, 0x1000), Err(MemoryMapError::Full));
}

#[test]
fn initrd_cells_are_32_or_64_bit() {
    assert_eq!(initrd::cell_value(&[0x88, 0x20, 0, 0]), Ok(0x8820_0000));
    assert_eq!(initrd::cell_value(&[0, 0, 0, 1, 0x88, 0x20, 0, 0]), Ok(0x1_8820_0000));
    assert_eq!(initrd::cell_value(&[1, 2, 3]), Err(initrd::InitrdError::BadCellSize(3)));
    assert_eq!(initrd::cell_value(&[]), Err(initrd::InitrdError::BadCellSize(0)));
}

#[test]
fn initrd_range_needs_both_ends_in_order() {
    let start = 0x8820_0000u64.to_be_bytes();
    let end32 = 0x8830_0000u32.to_be_bytes();
    assert_eq!(initrd::range(None, None), Ok(None));
    // Mixed cell sizes are fine: each property stands alone.
    assert_eq!(initrd::range(Some(&start), Some(&end32)), Ok(Some((0x8820_0000, 0x10_0000))));
    assert_eq!(initrd::range(Some(&start), Some(&start)), Ok(None));
    assert_eq!(initrd::range(Some(&start), None), Err(initrd::InitrdError::Incomplete));
    assert_eq!(initrd::range(None, Some(&end32)), Err(initrd::InitrdError::Incomplete));
    assert_eq!(
        initrd::range(Some(&end32), Some(&start)),
        Err(initrd::InitrdError::Inverted { start: 0x8830_0000, end: 0x8820_0000 })
    );
}

#[test]
fn initrd_pages_cover_the_range() {
    assert_eq!(initrd::page_range(0x8820_0000, 1), Some((0x8820_0000, 0x1000)));
    assert_eq!(initrd::page_range(0x8820_0ff0, 0x20), Some((0x8820_0000, 0x2000)));
    assert_eq!(initrd::page_range(0x8820_0000, 0x2000), Some((0x8820_0000, 0x2000)));
    assert_eq!(initrd::page_range(u64::MAX - 10, 5), None);
}

#[test]
fn boot_info_reports_its_initrd() {
    let mut info = BootInfo::new();
    assert_eq!(info.initrd(), None);
    info.initrd_physical = 0x8820_0000;
    info.initrd_len_bytes = 0x1234;
    assert_eq!(info.initrd(), Some((0x8820_0000, 0x1234)));
}

#[test]
fn is_usable_needs_every_byte_usable() {
    let mut map = MemoryMap::new();
    map.add_usable(0x8000_0000, 512 * MIB).unwrap();
    map.mark(0x8100_0000, MIB, MemoryKind::FDT).unwrap();
    assert!(map.is_usable(0x8000_0000, 16 * MIB));
    assert!(!map.is_usable(0x8000_0000, 16 * MIB + 1));
    assert!(!map.is_usable(0x80ff_f000, 0x2000));
    // Up to the end of RAM, not a byte beyond.
    assert!(map.is_usable(0x8110_0000, 512 * MIB - 17 * MIB));
    assert!(!map.is_usable(0x8110_0000, 512 * MIB - 17 * MIB + 1));
    assert!(!map.is_usable(0x7000_0000, 0x1000));
    assert!(!map.is_usable(0x8000_0000, 0));
    assert!(!map.is_usable(u64::MAX, 2));
    map.mark(0x8200_0000, 2 * MIB, MemoryKind::INITRD).unwrap();
    assert!(!map.is_usable(0x8200_0000, 0x1000));
    assert_eq!(map.total_bytes(MemoryKind::INITRD), 2 * MIB);
    assert_eq!(MemoryKind::INITRD.name(), "initrd");
}
