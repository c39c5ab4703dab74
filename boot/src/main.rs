//! Hypha's loader: the S-mode program OpenSBI starts, which sets up the
//! machine for the kernel and jumps to it.
//!
//! It runs on the boot hart with paging off. In order: read the device tree
//! (memory, harts, UART, `/chosen` bootargs, `rng-seed` and the initrd's
//! range), build the physical memory map (the initrd's pages kept out of
//! every allocation), pick Sv48 when the hart has it (else Sv39), load the
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
mod harts;
mod kernel_image;
mod memory;
mod paging;

use core::panic::PanicInfo;
use device_tree::Machine;
use elf::KernelElf;
use hypha_boot_info::{BootInfo, MemoryKind, PagingMode as BootPagingMode, bootargs, kaslr, layout};
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

impl Options {
    fn read(bootargs_text: &str) -> Self {
        let fixed_seed = match bootargs::number(bootargs_text, "kaslr.seed") {
            Some(Ok(seed)) => Some(seed),
            Some(Err(())) => {
                println!("hypha-boot: ignoring kaslr.seed (not a number)");
                None
            }
            None => None,
        };
        Self { fixed_seed, verbose: bootargs::has(bootargs_text, "boot.verbose") }
    }
}

fn load(hart_id: u64, fdt_address: usize, machine: &Machine<'_>, start_ticks: u64) -> Result<core::convert::Infallible, LoadError> {
    let options = Options::read(machine.bootargs);
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

    // Only the addresses of these linker symbols are taken, never their contents.
    let loader = (&raw const __loader_start as u64, &raw const __loader_end as u64);
    let (ram_end, initrd) = memory::build_map(&mut info.memory_map, machine, loader, (info.fdt_physical, info.fdt_len_bytes))?;
    match (initrd, machine.initrd) {
        (memory::InitrdPlacement::Kept(start, len), _) => {
            info.initrd_physical = start;
            info.initrd_len_bytes = len;
        }
        (memory::InitrdPlacement::Overlaps(start, len), _) => {
            println!("hypha-boot: warning: initrd at {start:#x} ({len} bytes) overlaps memory in use; ignored");
        }
        (memory::InitrdPlacement::None, Err(error)) => println!("hypha-boot: warning: initrd ignored: {error}"),
        (memory::InitrdPlacement::None, Ok(_)) => {}
    }

    let mode = paging::choose_mode(&mut TableFrames { map: &mut info.memory_map }, loader.0, loader.1);
    info.paging_mode = match mode {
        PagingMode::Sv39 => BootPagingMode::SV39,
        PagingMode::Sv48 => BootPagingMode::SV48,
    };
    info.physical_memory_offset = layout::physical_memory_offset(mode.va_bits());

    let seed = kernel_image::choose_seed(options.fixed_seed, machine.rng_seed);
    let seed_len = machine.rng_seed.len().min(info.rng_seed.len());
    info.rng_seed[..seed_len].copy_from_slice(&machine.rng_seed[..seed_len]);
    info.rng_seed_len = u32::try_from(seed_len).unwrap_or(0);
    info.kaslr_seed = seed.value;
    info.kaslr_seed_fixed = u32::from(seed.fixed);
    let placed = kernel_image::place(&kernel, seed.value, &mut info.memory_map)?;
    info.kernel_link_base = placed.link_base;
    info.kernel_virtual_base = placed.virtual_base;
    info.kaslr_slide = placed.slide;
    info.kernel_physical_base = placed.physical_base;
    info.kernel_len_bytes = placed.len_bytes;

    let mut frames = TableFrames { map: &mut info.memory_map };
    let mut table = PageTable::new(mode, &mut frames)?;
    let ram_window = ram_end.div_ceil(1 << 30) << 30;
    let physical_map = PageFlags::READ_WRITE | PageFlags::GLOBAL;
    paging::map(&mut table, &mut frames, info.physical_memory_offset, 0, ram_window, physical_map)?;
    // The trampoline keeps running at its physical address after `satp` is written.
    let loader_flags = PageFlags::READ_WRITE | PageFlags::EXECUTE;
    paging::map(&mut table, &mut frames, loader.0, loader.0, loader.1 - loader.0, loader_flags)?;
    kernel_image::map_segments(&kernel, &placed, &mut table, &mut frames)?;

    let boot_info_len = (core::mem::size_of::<BootInfo>() as u64).div_ceil(4096) * 4096;
    let boot_info_physical = frames.map.allocate(boot_info_len, 4096, MemoryKind::BOOT_INFO)?;
    let launch = arch::HartLaunch {
        satp: table.satp(),
        stack_top: 0,
        per_cpu: 0,
        entry: kernel.entry.wrapping_add(placed.slide),
        boot_info: boot_info_physical + info.physical_memory_offset,
    };
    let launches = harts::prepare(machine, &mut table, &mut frames, info.physical_memory_offset, launch, &mut info.harts)?;
    info.hart_count = u32::try_from(machine.hart_count).unwrap_or(0);
    info.root_page_table_physical = table.root().as_u64();

    let elapsed_us = (arch::read_time() - start_ticks) * 1_000_000 / machine.timebase_hz.max(1);
    println!(
        "hypha-boot: {} harts, {} MiB RAM, {:?}, kernel {} KiB at {:#x} (slide {:#x}, {} relocations, seed {}), {} us",
        machine.hart_count,
        info.memory_map.total_bytes(MemoryKind::USABLE) >> 20,
        mode,
        placed.len_bytes >> 10,
        placed.virtual_base,
        placed.slide,
        placed.relocations,
        if seed.fixed { "fixed" } else if seed.from_device_tree { "from fdt" } else { "from time" },
        elapsed_us,
    );
    if let Some((start, len)) = info.initrd() {
        println!("hypha-boot: initrd {} KiB at {start:#x}", len.div_ceil(1024));
    }
    if machine.harts_ignored > 0 {
        println!("hypha-boot: warning: {} harts beyond the first 16 are not started", machine.harts_ignored);
    }
    if options.verbose {
        for region in info.memory_map.regions() {
            println!("hypha-boot:   {:#012x}..{:#012x} {}", region.start, region.end(), region.kind.name());
        }
    }

    info.harts[0].started = 1;
    let boot_info = boot_info_physical as *mut BootInfo;
    // SAFETY: `boot_info_physical` is a fresh BOOT_INFO allocation of at
    // least size_of::<BootInfo>() bytes, page-aligned, reachable with paging
    // off; nobody reads it before the harts are started below.
    unsafe { boot_info.write(info) };
    harts::start_secondaries(machine, launches, boot_info);
    // SAFETY: the table identity-maps the loader (the trampoline), maps the
    // relocated kernel, the boot hart's stack and per-CPU block, and all RAM
    // (where the BootInfo is) at the physical-memory offset; `launches[0]`
    // is the boot hart's block, written by `harts::prepare`.
    unsafe { harts::enter_kernel(hart_id, launches) }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    println!("hypha-boot: panic: {info}");
    exit::fail(3)
}
