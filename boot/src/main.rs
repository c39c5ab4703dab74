//! Hypha's loader: the S-mode program OpenSBI starts, which sets up the
//! machine for the kernel and jumps to it.
//!
//! It runs on the boot hart with paging off. In order: read the device tree
//! (memory, harts, UART, `/chosen` bootargs and `rng-seed`), build the
//! physical memory map, pick Sv48 when the hart has it (else Sv39), load the
//! embedded kernel ELF (a static PIE) at a randomised higher-half address
//! and relocate it, map all of RAM at a fixed offset, give every hart a
//! guard-paged kernel stack, a guard-paged trap stack and a per-CPU block,
//! fill in a [`BootInfo`], start the other harts through SBI HSM and enter
//! the kernel on every hart with `a0` = hart id, `a1` = `BootInfo`.
//!
//! Not here: anything the kernel can do itself. The loader never runs again
//! once the kernel is entered; its memory is marked
//! [`MemoryKind::LOADER`] so the kernel can reclaim it.
#![no_std]
#![no_main]

mod arch;
mod console;
mod device_tree;
mod elf;
mod exit;
mod paging;

use core::panic::PanicInfo;
use device_tree::Machine;
use elf::KernelElf;
use hypha_boot_info::{BootInfo, HartInfo, MemoryKind, MemoryRegion, PagingMode as BootPagingMode, bootargs, kaslr, layout};
use hypha_kmem::{PageFlags, PageTable, PagingMode};
use paging::TableFrames;

/// The kernel ELF, embedded at build time (empty when built without xtask).
static KERNEL_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.elf"));

unsafe extern "C" {
    static __loader_start: u8;
    static __loader_end: u8;
}

/// Everything that can stop the loader, with what to tell the user.
#[derive(Debug)]
enum LoadError {
    NoKernel,
    Elf(elf::ElfError),
    MemoryMap(hypha_boot_info::MemoryMapError),
    Map(hypha_kmem::MapError),
    Kaslr(kaslr::KaslrError),
}

impl core::fmt::Display for LoadError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoKernel => f.write_str("no kernel embedded (build the loader with `cargo xtask run`)"),
            Self::Elf(error) => write!(f, "{error}"),
            Self::MemoryMap(error) => write!(f, "memory map: {error}"),
            Self::Map(error) => write!(f, "page table: {error}"),
            Self::Kaslr(error) => write!(f, "KASLR: {error:?}"),
        }
    }
}

impl From<elf::ElfError> for LoadError {
    fn from(error: elf::ElfError) -> Self {
        Self::Elf(error)
    }
}
impl From<hypha_boot_info::MemoryMapError> for LoadError {
    fn from(error: hypha_boot_info::MemoryMapError) -> Self {
        Self::MemoryMap(error)
    }
}
impl From<hypha_kmem::MapError> for LoadError {
    fn from(error: hypha_kmem::MapError) -> Self {
        Self::Map(error)
    }
}

/// Rust entry point, called by `_start` on the boot hart.
#[unsafe(no_mangle)]
extern "C" fn loader_main(hart_id: u64, fdt_address: usize) -> ! {
    let start_ticks = arch::read_time();
    // SAFETY: OpenSBI passes the device tree's address in a1 and leaves the
    // tree in place; the loader never writes to it.
    let machine = match unsafe { Machine::read(fdt_address, hart_id) } {
        Ok(machine) => machine,
        Err(error) => {
            println!("hypha-boot: {error}");
            exit::fail(2)
        }
    };
    if let Some(uart) = machine.uart {
        // SAFETY: the device tree names a ns16550a at this address, and the
        // loader is the only code running.
        unsafe { console::use_uart(uart) };
    }
    if let Some(test_device) = machine.test_device {
        // SAFETY: the device tree names a sifive,test0 at this address.
        unsafe { exit::use_test_device(test_device) };
    }
    match load(hart_id, fdt_address, &machine, start_ticks) {
        Ok(never) => match never {},
        Err(error) => {
            println!("hypha-boot: error: {error}");
            exit::fail(2)
        }
    }
}

/// Options read from the bootargs.
struct Options {
    fixed_seed: Option<u64>,
    verbose: bool,
}

fn load(hart_id: u64, fdt_address: usize, machine: &Machine<'_>, start_ticks: u64) -> Result<core::convert::Infallible, LoadError> {
    let options = Options {
        fixed_seed: match bootargs::number(machine.bootargs, "kaslr.seed") {
            Some(Ok(seed)) => Some(seed),
            Some(Err(())) => {
                println!("hypha-boot: ignoring kaslr.seed (not a number)");
                None
            }
            None => None,
        },
        verbose: bootargs::has(machine.bootargs, "boot.verbose"),
    };
    if KERNEL_ELF.is_empty() {
        return Err(LoadError::NoKernel);
    }
    let kernel = KernelElf::parse(KERNEL_ELF)?;

    let mut info = BootInfo::new();
    info.boot_hart_id = hart_id;
    info.loader_start_ticks = start_ticks;
    info.timebase_frequency_hz = machine.timebase_hz;
    info.fdt_physical = fdt_address as u64;
    info.fdt_len_bytes = machine.fdt.total_size() as u64;
    info.console_uart_physical = machine.uart.map_or(0, |uart| uart as u64);
    info.test_device_physical = machine.test_device.map_or(0, |device| device as u64);

    // --- memory map ---
    let map = &mut info.memory_map;
    for region in machine.fdt.memory().regions() {
        map.add_usable(region.starting_address as u64, region.size.unwrap_or(0) as u64)?;
    }
    // Only the addresses of these linker symbols are taken, never their contents.
    let (loader_start, loader_end) = (&raw const __loader_start as u64, &raw const __loader_end as u64);
    // Firmware lives below the loader; keep all of it out of the kernel's hands.
    let ram_start = map.regions().first().map_or(0, |region| region.start);
    map.mark(ram_start, loader_start.saturating_sub(ram_start), MemoryKind::RESERVED)?;
    for reservation in machine.fdt.memory_reservations() {
        map.mark(reservation.address() as u64, reservation.size() as u64, MemoryKind::RESERVED)?;
    }
    if let Some(reserved) = machine.fdt.find_node("/reserved-memory") {
        for child in reserved.children() {
            for region in child.reg().into_iter().flatten() {
                map.mark(region.starting_address as u64, region.size.unwrap_or(0) as u64, MemoryKind::RESERVED)?;
            }
        }
    }
    // Whole pages, so every usable region stays page-aligned.
    let fdt_start = info.fdt_physical & !0xfff;
    let fdt_end = (info.fdt_physical + info.fdt_len_bytes).div_ceil(4096) * 4096;
    map.mark(fdt_start, fdt_end - fdt_start, MemoryKind::FDT)?;
    map.mark(loader_start, loader_end - loader_start, MemoryKind::LOADER)?;
    let ram_end = map.regions().last().map_or(0, MemoryRegion::end);

    // --- paging mode ---
    let mode = paging::choose_mode(&mut TableFrames { map: &mut info.memory_map }, loader_start, loader_end);
    info.paging_mode = match mode {
        PagingMode::Sv39 => BootPagingMode::SV39,
        PagingMode::Sv48 => BootPagingMode::SV48,
    };
    info.physical_memory_offset = layout::physical_memory_offset(mode.va_bits());

    // --- kernel image ---
    let (image_start, image_end) = kernel.image_bounds();
    let image_len = image_end - image_start;
    let (seed, seed_fixed) = match options.fixed_seed {
        Some(seed) => (seed, true),
        None if !machine.rng_seed.is_empty() => (kaslr::seed_from_bytes(machine.rng_seed), false),
        None => {
            println!("hypha-boot: warning: no rng-seed in the device tree; KASLR seed from the time CSR");
            (kaslr::mix(arch::read_time()), false)
        }
    };
    let seed_len = machine.rng_seed.len().min(info.rng_seed.len());
    info.rng_seed[..seed_len].copy_from_slice(&machine.rng_seed[..seed_len]);
    info.rng_seed_len = u32::try_from(seed_len).unwrap_or(0);
    info.kaslr_seed = seed;
    info.kaslr_seed_fixed = u32::from(seed_fixed);
    let kernel_base = kaslr::choose_kernel_base(seed, image_len).map_err(LoadError::Kaslr)?;
    let slide = kernel_base.wrapping_sub(image_start);
    let kernel_physical = info.memory_map.allocate(image_len, 0x20_0000, MemoryKind::KERNEL)?;
    let image_bytes = usize::try_from(image_len).map_err(|_| LoadError::NoKernel)?;
    // SAFETY: `allocate` just handed us `image_len` bytes of RAM that
    // nothing else uses; paging is off, so the physical address is a pointer.
    let image = unsafe { core::slice::from_raw_parts_mut(kernel_physical as *mut u8, image_bytes) };
    image.fill(0);
    for segment in kernel.segments() {
        let offset = usize::try_from(segment.vaddr - image_start).map_err(|_| LoadError::NoKernel)?;
        let bytes = kernel.segment_bytes(&segment);
        image[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
    let relocations = kernel.relocate(image, image_start, slide)?;
    info.kernel_link_base = image_start;
    info.kernel_virtual_base = kernel_base;
    info.kaslr_slide = slide;
    info.kernel_physical_base = kernel_physical;
    info.kernel_len_bytes = image_len;

    // --- page table ---
    let mut frames = TableFrames { map: &mut info.memory_map };
    let mut table = PageTable::new(mode, &mut frames)?;
    let global = PageFlags::GLOBAL;
    let ram_end_gib = ram_end.div_ceil(1 << 30) << 30;
    paging::map(&mut table, &mut frames, info.physical_memory_offset, 0, ram_end_gib, PageFlags::READ_WRITE | global)?;
    paging::map(&mut table, &mut frames, loader_start, loader_start, loader_end - loader_start, PageFlags::READ_WRITE | PageFlags::EXECUTE)?;
    for segment in kernel.segments() {
        let mut flags = global;
        if segment.read {
            flags |= PageFlags::READ;
        }
        if segment.write {
            flags |= PageFlags::WRITE;
        }
        if segment.execute {
            flags |= PageFlags::EXECUTE;
        }
        let physical = kernel_physical + (segment.vaddr - image_start);
        paging::map(&mut table, &mut frames, segment.vaddr.wrapping_add(slide), physical, segment.mem_len, flags)?;
    }

    // --- per-hart stacks and per-CPU blocks ---
    let launch_physical = frames.map.allocate(4096, 4096, MemoryKind::LOADER)?;
    let launches = launch_physical as *mut arch::HartLaunch;
    let boot_info_len = (core::mem::size_of::<BootInfo>() as u64).div_ceil(4096) * 4096;
    let boot_info_physical = frames.map.allocate(boot_info_len, 4096, MemoryKind::BOOT_INFO)?;
    let boot_info_virtual = boot_info_physical + info.physical_memory_offset;
    for index in 0..machine.hart_count {
        let slot = index as u64;
        let (stack_bottom, stack_top) = layout::kernel_stack(slot);
        let (trap_bottom, trap_top) = layout::trap_stack(slot);
        let stack_physical = frames.map.allocate(layout::KERNEL_STACK_LEN, 4096, MemoryKind::STACKS)?;
        let trap_physical = frames.map.allocate(layout::TRAP_STACK_LEN, 4096, MemoryKind::STACKS)?;
        let per_cpu_physical = frames.map.allocate(layout::PER_CPU_LEN, 4096, MemoryKind::PER_CPU)?;
        // SAFETY: freshly allocated, unused RAM, reachable with paging off.
        unsafe { core::ptr::write_bytes(per_cpu_physical as *mut u8, 0, 4096) };
        paging::map(&mut table, &mut frames, stack_bottom, stack_physical, layout::KERNEL_STACK_LEN, PageFlags::READ_WRITE | global)?;
        paging::map(&mut table, &mut frames, trap_bottom, trap_physical, layout::TRAP_STACK_LEN, PageFlags::READ_WRITE | global)?;
        let per_cpu = per_cpu_physical + info.physical_memory_offset;
        info.harts[index] = HartInfo {
            hart_id: machine.harts[index],
            stack_top,
            stack_len_bytes: layout::KERNEL_STACK_LEN,
            trap_stack_top: trap_top,
            trap_stack_len_bytes: layout::TRAP_STACK_LEN,
            per_cpu,
            per_cpu_len_bytes: layout::PER_CPU_LEN,
            started: 0,
            reserved: 0,
        };
        let launch = arch::HartLaunch {
            satp: table.satp(),
            stack_top,
            per_cpu,
            entry: kernel.entry.wrapping_add(slide),
            boot_info: boot_info_virtual,
        };
        // SAFETY: `launches` is a fresh page of LOADER memory, and 16 launch
        // blocks of 40 bytes fit in it (`hart_count` <= MAX_HARTS = 16), so
        // `add(index)` stays inside it.
        let slot = unsafe { launches.add(index) };
        // SAFETY: as above; the page is ours, writable and suitably aligned.
        unsafe { slot.write(launch) };
    }
    info.hart_count = u32::try_from(machine.hart_count).unwrap_or(0);
    info.root_page_table_physical = table.root().as_u64();

    let elapsed_us = (arch::read_time() - start_ticks) * 1_000_000 / machine.timebase_hz.max(1);
    println!(
        "hypha-boot: {} harts, {} MiB RAM, {:?}, kernel {} KiB at {:#x} (slide {:#x}, {} relocations, seed {}), {} us",
        machine.hart_count,
        info.memory_map.total_bytes(MemoryKind::USABLE) >> 20,
        mode,
        image_len >> 10,
        kernel_base,
        slide,
        relocations,
        if seed_fixed { "fixed" } else { "from fdt" },
        elapsed_us,
    );
    if machine.harts_ignored > 0 {
        println!("hypha-boot: warning: {} harts beyond the first 16 are not started", machine.harts_ignored);
    }
    if options.verbose {
        for region in info.memory_map.regions() {
            println!("hypha-boot:   {:#012x}..{:#012x} {}", region.start, region.end(), region.kind.name());
        }
    }

    // --- start the other harts, then enter the kernel ---
    info.harts[0].started = 1;
    // SAFETY: `boot_info_physical` is a fresh BOOT_INFO allocation of at
    // least size_of::<BootInfo>() bytes, page-aligned, reachable with paging off.
    unsafe { (boot_info_physical as *mut BootInfo).write(info.clone()) };
    for index in 1..machine.hart_count {
        // SAFETY: the launch block for `index` was written above.
        let launch_address = unsafe { launches.add(index) } as u64;
        let result = arch::sbi::hart_start(machine.harts[index], arch::secondary_entry_address(), launch_address);
        // SAFETY: as above; only the `started` field changes, and the
        // started hart never reads it.
        let boot_info = unsafe { &mut *(boot_info_physical as *mut BootInfo) };
        match result {
            Ok(()) => boot_info.harts[index].started = 1,
            Err(error) => println!("hypha-boot: hart {} did not start: {error:?}", machine.harts[index]),
        }
    }
    // SAFETY: launch block 0 (the boot hart's) was written above.
    let boot_launch = unsafe { &*launches };
    // SAFETY: the table identity-maps the loader (the trampoline), maps the
    // relocated kernel, the boot hart's stack and per-CPU block, and all RAM
    // (where the BootInfo is) at the physical-memory offset.
    unsafe { arch::enter_kernel(hart_id, boot_launch) }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    println!("hypha-boot: panic: {info}");
    exit::fail(3)
}
