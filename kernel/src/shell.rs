//! The debug console: a line editor on the UART and a few commands, until
//! the WebAssembly shell exists.

use hypha_boot_info::MemoryKind;

const PROMPT: &str = "hypha> ";
const HELP: &str = "\
commands:
  help          this list
  mem           physical memory map and allocator statistics
  cpus          harts with their interrupt counts
  uptime        time since the kernel started
  log LEVEL     set the log level (off, error, warn, info, debug, trace)
  panic         panic the kernel (shows a backtrace, exits QEMU with failure)
  shutdown      power off (QEMU exits with status 0)";

/// Reads and runs commands forever (or until `shutdown`).
pub fn run() -> ! {
    let mut line = [0u8; 128];
    let mut len = 0;
    crate::print!("{PROMPT}");
    loop {
        let Some(byte) = crate::console::read_byte() else {
            crate::arch::wait_for_interrupt();
            continue;
        };
        match byte {
            b'\r' | b'\n' => {
                crate::println!();
                let text = core::str::from_utf8(&line[..len]).unwrap_or("");
                execute(text.trim());
                len = 0;
                crate::print!("{PROMPT}");
            }
            0x08 | 0x7f => {
                if len > 0 {
                    len -= 1;
                    crate::print!("\x08 \x08");
                }
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
    for per_cpu in crate::percpu::all() {
        crate::println!(
            "hart {} (index {}): {} timer ticks, {} IPIs, {} external interrupts",
            per_cpu.hart_id,
            per_cpu.index,
            per_cpu.timer_ticks.load(core::sync::atomic::Ordering::Relaxed),
            per_cpu.ipis.load(core::sync::atomic::Ordering::Relaxed),
            per_cpu.external_interrupts.load(core::sync::atomic::Ordering::Relaxed),
        );
    }
}
