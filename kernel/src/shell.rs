//! The debug console: a line editor on the UART and a few commands, until
//! the WebAssembly shell exists. It runs as a task; reading input waits for
//! the UART's receive interrupt.

use hypha_boot_info::MemoryKind;

const PROMPT: &str = "hypha> ";
const HELP: &str = "\
commands:
  help          this list
  mem           physical memory map and allocator statistics
  cpus          harts with their interrupt counts (each is pinged by IPI) and idle/busy time
  ps            tasks with id, name, state, poll count and last hart
  peek ADDR     read the 64-bit word at virtual address ADDR (hex), faults reported
  uptime        time since the kernel started
  log LEVEL     set the log level (off, error, warn, info, debug, trace)
  panic         panic the kernel (shows a backtrace, exits QEMU with failure)
  shutdown      power off (QEMU exits with status 0)";

/// Reads and runs commands forever (or until `shutdown`); a task.
pub async fn run() {
    let mut line = [0u8; 128];
    let mut len = 0;
    crate::print!("{PROMPT}");
    loop {
        let byte = crate::console::next_byte().await;
        match byte {
            b'\r' | b'\n' => {
                crate::println!();
                let text = core::str::from_utf8(&line[..len]).unwrap_or("");
                execute(text.trim());
                len = 0;
                crate::print!("{PROMPT}");
            }
            0x08 | 0x7f if len > 0 => {
                len -= 1;
                crate::print!("\x08 \x08");
            }
            0x20..=0x7e if len < line.len() => {
                line[len] = byte;
                len += 1;
                crate::print!("{}", char::from(byte));
            }
            _ => {}
        }
    }
}

fn execute(command: &str) {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => {}
        (Some("help"), _) => crate::println!("{HELP}"),
        (Some("mem"), _) => mem(),
        (Some("cpus"), _) => cpus(),
        (Some("ps"), _) => ps(),
        (Some("peek"), Some(address)) => peek(address),
        (Some("peek"), None) => crate::println!("usage: peek ADDRESS (hex)"),
        (Some("uptime"), _) => {
            let us = crate::time::uptime_us();
            crate::println!("up {}.{:06} s", us / 1_000_000, us % 1_000_000);
        }
        (Some("log"), Some(level)) => match crate::logger::parse_level(level) {
            Some(level) => {
                crate::logger::set_level(level);
                crate::println!("log level: {level}");
            }
            None => crate::println!("unknown level `{level}` (off, error, warn, info, debug, trace)"),
        },
        (Some("log"), None) => crate::println!("log level: {}", log::max_level()),
        (Some("panic"), _) => panic!("panic requested from the console"),
        (Some("shutdown"), _) => {
            crate::println!("shutting down");
            crate::drivers::sifive_test::exit(0)
        }
        (Some(other), _) => crate::println!("unknown command `{other}`; try `help`"),
    }
}

fn mem() {
    let Some(info) = crate::boot::info() else { return };
    let map = &info.memory_map;
    crate::println!("physical memory map:");
    for region in map.regions() {
        crate::println!(
            "  {:#012x}..{:#012x} {:>8} KiB  {}",
            region.start,
            region.end(),
            region.len_bytes >> 10,
            region.kind.name()
        );
    }
    for kind in [MemoryKind::USABLE, MemoryKind::KERNEL, MemoryKind::LOADER, MemoryKind::PAGE_TABLES, MemoryKind::STACKS] {
        crate::println!("  total {:<12} {:>8} KiB", kind.name(), map.total_bytes(kind) >> 10);
    }
    crate::mem::print_stats();
}

fn cpus() {
    use core::sync::atomic::Ordering::{Acquire, Relaxed};
    for per_cpu in crate::percpu::all() {
        // Ping it and wait briefly for the IPI to be taken.
        let before = per_cpu.ipis.load(Acquire);
        let sent = crate::ipi::send(per_cpu.hart_id, crate::ipi::Message::Ping).is_ok();
        let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(100);
        while sent && per_cpu.ipis.load(Acquire) == before && crate::time::now_ticks() < deadline {
            core::hint::spin_loop();
        }
        let answered = per_cpu.ipis.load(Acquire) != before;
        crate::println!(
            "hart {} (index {}): {}, {} timer ticks, {} IPIs, {} external interrupts",
            per_cpu.hart_id,
            per_cpu.index,
            if answered { "answers IPIs" } else { "DOES NOT ANSWER" },
            per_cpu.timer_ticks.load(Relaxed),
            per_cpu.ipis.load(Relaxed),
            per_cpu.external_interrupts.load(Relaxed),
        );
        if let Some(stats) = crate::sched::park::stats(per_cpu.index) {
            let idle_us = crate::time::ticks_to_us(stats.idle_ticks);
            let busy_us = crate::time::ticks_to_us(stats.busy_ticks);
            let total = (idle_us + busy_us).max(1);
            crate::println!(
                "  worker {}: idle {idle_us} us ({}.{}%), busy {busy_us} us, {} wfi, {} wake-up IPIs",
                if stats.in_worker { "running" } else { "not running" },
                idle_us * 100 / total,
                idle_us * 1000 / total % 10,
                stats.wfis,
                stats.unpark_ipis,
            );
        }
    }
}

fn ps() {
    let (tasks, unpolled) = crate::sched::registry::snapshot();
    crate::println!("{:>8}  {:<20} {:<8} {:>10}  hart", "id", "name", "state", "polls");
    for task in &tasks {
        crate::println!("{:>8}  {:<20} {:<8} {:>10}  {}", task.number, task.name, task.state.name(), task.polls, task.last_hart);
    }
    crate::println!("{} tasks, {unpolled} more spawned but not yet polled", tasks.len());
}

fn peek(text: &str) {
    let Ok(address) = usize::from_str_radix(text.trim_start_matches("0x"), 16) else {
        crate::println!("`{text}` is not a hexadecimal address");
        return;
    };
    if !address.is_multiple_of(8) {
        crate::println!("{address:#x} is not 8-byte aligned");
        return;
    }
    let mut value = 0u64;
    let pointer = core::ptr::with_exposed_provenance::<u64>(address);
    let result = crate::trap::catch_fault(|| {
        // SAFETY: not known to be valid: the address is whatever the user
        // typed. A fault is caught and reported instead of ending the kernel;
        // a successful read of mapped memory is a plain aligned load.
        value = unsafe { core::ptr::read_volatile(pointer) };
    });
    match result {
        Ok(()) => crate::println!("{address:#x}: {value:#018x}"),
        Err(fault) => crate::println!(
            "{address:#x}: {} (stval {:#x})",
            crate::trap::exception_name(fault.cause),
            fault.address
        ),
    }
}
