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
