//! The Hypha kernel: the privileged core that every hart enters from the
//! loader (`boot/`).
//!
//! What it does today: trap entry and exit on per-hart trap stacks, fault
//! reports with symbolisable backtraces, a timer tick and IPIs on every
//! hart, the PLIC and an interrupt-driven 16550 console, logging, the
//! in-kernel test runner (`ktest`) and a debug console.
//!
//! Layout: `arch/riscv64/` holds everything that names a CSR, an
//! instruction or an SBI call; the other modules are portable and reach
//! the hardware through it. Device drivers (`drivers/`) reach their
//! registers through the physical-memory map the loader set up.
//!
//! Not here: what can be tested on the host (page tables and allocators in
//! `crates/kmem`, the boot handoff in `crates/boot-info`).
#![no_std]
#![no_main]

mod arch;
mod backtrace;
#[cfg(feature = "ktest")]
mod bench;
mod boot;
mod console;
mod drivers;
mod fs;
mod init;
mod interrupts;
mod ipi;
mod ktest;
mod logger;
mod mem;
mod panic;
mod percpu;
mod platform;
mod proc;
mod random;
mod sched;
mod shell;
mod sync;
mod time;
mod timer;
mod trap;
mod wasm;

#[cfg(feature = "ktest")]
mod tests;
#[cfg(feature = "ktest")]
mod wasi_suite;

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use hypha_boot_info::{BootInfo, bootargs};

/// Set by the boot hart once the console, interrupts and memory are up;
/// the other harts wait for it.
static BOOT_HART_READY: AtomicBool = AtomicBool::new(false);
/// Harts that printed their boot line.
static HARTS_UP: AtomicUsize = AtomicUsize::new(0);
static PLATFORM: sync::Once<platform::Platform> = sync::Once::new();

/// The device tree's view of the machine (after boot).
pub fn platform() -> Option<&'static platform::Platform> {
    PLATFORM.get()
}

/// Entered by `_start` on every hart: `a0` = hart id, `a1` = BootInfo,
/// `a2` = `time` at entry.
extern "C" fn kernel_entry(hart_id: usize, boot_info_address: usize, entry_ticks: u64) -> ! {
    // SAFETY: the loader passes the BootInfo it wrote in a1 and never
    // touches it again; it is mapped through the physical map.
    let info = match unsafe { boot::init(boot_info_address) } {
        Ok(info) => info,
        Err(_) => {
            arch::sbi::debug_console_write(b"kernel: the loader's BootInfo is invalid\n");
            arch::sbi::shutdown(true);
            arch::halt()
        }
    };
    let harts = info.harts().unwrap_or(&[]);
    let Some(index) = harts.iter().position(|hart| usize::try_from(hart.hart_id).ok() == Some(hart_id)) else {
        arch::halt()
    };
    let hart = &harts[index];
    // SAFETY: the loader put this hart's per-CPU block in `tp`, zeroed,
    // and this is the hart's first and only call.
    let per_cpu = unsafe { percpu::init(hart, index) };
    // SAFETY: the loader mapped this hart's own trap stack (guard-paged)
    // with its top 16-byte aligned.
    unsafe { arch::trap::init_hart(per_cpu.trap_stack.1) };
    if index == 0 { boot_hart_main(info, entry_ticks) } else { secondary_hart_main() }
}

fn boot_hart_main(info: &'static BootInfo, entry_ticks: u64) -> ! {
    time::init(info.timebase_frequency_hz, entry_ticks);
    // The loader found the console and the test device in the device tree
    // already; use them before parsing it again ourselves.
    if let Ok(test_device @ 1..) = usize::try_from(info.test_device_physical) {
        // SAFETY: the loader read this address from the device tree's
        // sifive,test0 node; the physical map covers MMIO below RAM.
        unsafe { drivers::sifive_test::init(boot::physical_to_virtual(test_device)) };
    }
    if let Ok(uart @ 1..) = usize::try_from(info.console_uart_physical) {
        // SAFETY: the loader read this address from the device tree's
        // ns16550a node and no longer drives it.
        unsafe { console::init(boot::physical_to_virtual(uart)) };
    }
    println!("boot: console ready after {} us", time::ticks_to_us(time::now_ticks() - entry_ticks));
    let platform = match platform::Platform::read(info) {
        Ok(platform) => platform,
        Err(error) => panic!("cannot read the device tree: {error}"),
    };
    let level = match bootargs::value(platform.bootargs, "log") {
        Some(name) => logger::parse_level(name).unwrap_or(log::LevelFilter::Info),
        None => log::LevelFilter::Info,
    };
    logger::init(level);
    log::info!(
        "kernel at {:#x} (link {:#x}, slide {:#x}, kaslr seed {:#x}{}), Sv{}, RAM mapped at {:#x}, timer {}",
        info.kernel_virtual_base,
        info.kernel_link_base,
        info.kaslr_slide,
        info.kaslr_seed,
        if info.kaslr_seed_fixed != 0 { " fixed by bootargs" } else { " from the device tree" },
        info.paging_mode.virtual_address_bits().unwrap_or(0),
        info.physical_memory_offset,
        if platform.sstc { "Sstc" } else { "SBI" },
    );
    log::debug!("bootargs: {}", platform.bootargs);

    // Every hart the loader started runs on the loader's identity mapping
    // until it enters the kernel; wait until all have (they register in
    // `percpu::init` first thing) so `mem::init` may reclaim the loader.
    let started = info.harts().unwrap_or(&[]).iter().filter(|hart| hart.started != 0).count();
    let deadline = time::now_ticks() + time::ms_to_ticks(2000);
    while percpu::online_count() < started && time::now_ticks() < deadline {
        core::hint::spin_loop();
    }
    if percpu::online_count() < started {
        log::error!("only {} of {started} started harts entered the kernel", percpu::online_count());
    }
    mem::init(info);
    random::init(info);
    fs::init(info);
    if let Err(error) = sched::init(info.harts().unwrap_or(&[]).len()) {
        panic!("cannot start the executor: {error}");
    }

    timer::init(platform.sstc);
    if let Some(plic) = platform.plic {
        // SAFETY: the device tree names the PLIC here, mapped through the
        // physical map.
        unsafe {
            interrupts::init(
                boot::physical_to_virtual(plic),
                platform.plic_contexts,
                platform.uart.map(|(_, irq)| irq),
                percpu::current().hart_id,
            );
        }
        if platform.uart.is_some() && platform.plic_contexts[percpu::current().hart_id].is_some() {
            console::use_transmit_interrupt();
        }
    } else {
        log::warn!("no PLIC in the device tree: console input disabled, output polled");
    }
    PLATFORM.set(platform);
    start_interrupts_on_this_hart();
    println!("boot: hart {} online (boot hart)", percpu::current().hart_id);
    HARTS_UP.fetch_add(1, Ordering::AcqRel);
    // On a normal boot, the first woken hart creates the process engine
    // while this one waits for the others; init waits for it (see
    // `init::run`) and then loads `/bin/sh` in parallel with the linker.
    let test_boot = ["wasm.spec", "wasi.suite", "bench", "ktest"].iter().any(|arg| bootargs::has(platform.bootargs, arg));
    let engine = if test_boot { None } else { sched::spawn("proc-engine", proc::prepare_engine()).ok() };
    BOOT_HART_READY.store(true, Ordering::Release);
    // Wake the others from their `wfi` (see `secondary_hart_main`); a hart
    // that has not reached it yet sees the flag first. Failing that, they
    // still wake at their next spurious wake-up, so it is only logged.
    let me = percpu::current().hart_id;
    for other in percpu::all().filter(|per_cpu| per_cpu.hart_id != me) {
        if let Err(error) = arch::sbi::send_ipi(1, other.hart_id) {
            log::warn!("boot: cannot wake hart {} by IPI ({error:?})", other.hart_id);
        }
    }

    let expected = started;
    let deadline = time::now_ticks() + time::ms_to_ticks(2000);
    while HARTS_UP.load(Ordering::Acquire) < expected && time::now_ticks() < deadline {
        core::hint::spin_loop();
    }
    let up = HARTS_UP.load(Ordering::Acquire);
    if up < expected {
        log::error!("only {up} of {expected} harts came online");
    }
    println!("boot: {up} harts online after {} us", time::ticks_to_us(time::now_ticks() - entry_ticks));

    #[cfg(feature = "ktest")]
    if bootargs::has(platform.bootargs, "wasm.spec") {
        wasm::spec::run(platform.bootargs)
    }
    #[cfg(feature = "ktest")]
    if bootargs::has(platform.bootargs, "wasi.suite") {
        wasi_suite::run()
    }
    #[cfg(feature = "ktest")]
    if bootargs::has(platform.bootargs, "bench") {
        bench::run(platform.bootargs)
    }
    if bootargs::has(platform.bootargs, "ktest") {
        ktest::run(platform.bootargs)
    }
    // The console belongs to init (`/bin/sh`), or to the debug console
    // with `init=debug` or when init cannot run.
    let debug_console = bootargs::value(platform.bootargs, "init") == Some("debug");
    if let Err(error) = sched::spawn("console", init::run(debug_console, engine)) {
        log::error!("cannot spawn init: {error}");
    }
    sched::run_worker()
}

fn secondary_hart_main() -> ! {
    // Sleep rather than spin while the boot hart sets the kernel up: under
    // QEMU, spinning harts take host CPU from the boot hart (on a 2-core
    // host, 3 spinners halve its speed). `wfi` returns on a pending enabled
    // source even with `sstatus.SIE` clear, so no handler runs here; the
    // boot hart's IPI (or any spurious wake) ends it and the flag decides.
    arch::csr::enable_interrupt_sources(arch::csr::SSI);
    while !BOOT_HART_READY.load(Ordering::Acquire) {
        arch::csr::wait_for_interrupt();
    }
    arch::csr::clear_software_interrupt();
    // The boot hart may have changed the page table (reclaiming the
    // loader's identity mapping) while we waited.
    arch::csr::flush_tlb();
    start_interrupts_on_this_hart();
    println!("boot: hart {} online", percpu::current().hart_id);
    HARTS_UP.fetch_add(1, Ordering::AcqRel);
    sched::run_worker()
}

fn start_interrupts_on_this_hart() {
    timer::start_on_this_hart();
    ipi::start_on_this_hart();
    interrupts::start_on_this_hart();
    arch::csr::enable_interrupts();
}
