//! The debug console: a line editor on the UART and a few commands, until
//! the WebAssembly shell exists. It runs as a task; reading input waits for
//! the UART's receive interrupt. `run` starts a WebAssembly process on the
//! console and waits for it (the console is its stdin/stdout meanwhile).

use hypha_boot_info::MemoryKind;

const PROMPT: &str = "hypha> ";
const HELP: &str = "\
commands:
  help          this list
  mem           physical memory map and allocator statistics
  cpus          harts with their interrupt counts (each is pinged by IPI) and idle/busy time
  run NAME [ARGS] [&]  run a WebAssembly program (built-in: see `programs`) on the console and
                wait for it; with a final `&`, in the background
  programs      the programs built into the image
  ps            processes: pid, parent, state, memory, CPU time, name
  kill PID      end a process
  tasks         kernel tasks with id, name, state, poll count and last hart
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
                execute(text.trim()).await;
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

async fn execute(command: &str) {
    let mut words = command.split_whitespace();
    match (words.next(), words.next()) {
        (None, _) => {}
        (Some("run"), Some(name)) => run_program(name, command).await,
        (Some("run"), None) => crate::println!("usage: run NAME [ARGS] [&]"),
        (Some("programs"), _) => {
            for name in crate::proc::programs::names() {
                crate::print!("{name} ");
            }
            crate::println!();
            crate::println!(
                "module cache: {} modules, {} hits, {} misses",
                crate::proc::cache::len(),
                crate::proc::cache::HITS.load(core::sync::atomic::Ordering::Relaxed),
                crate::proc::cache::MISSES.load(core::sync::atomic::Ordering::Relaxed)
            );
        }
        (Some("kill"), Some(pid)) => match pid.parse() {
            Ok(pid) => match crate::proc::kill(0, pid) {
                Ok(()) => crate::println!("killed {pid}"),
                Err(error) => crate::println!("kill {pid}: {error:?}"),
            },
            Err(_) => crate::println!("usage: kill PID"),
        },
        (Some("kill"), None) => crate::println!("usage: kill PID"),
        (Some("tasks"), _) => tasks(),
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

/// `run NAME [ARGS] [&]`: argv is the words after `run`.
async fn run_program(name: &str, command: &str) {
    extern crate alloc;
    use alloc::string::String;
    let mut words: alloc::vec::Vec<&str> = command.split_whitespace().skip(1).collect();
    let background = words.last() == Some(&"&");
    if background {
        words.pop();
    }
    let path = if name.contains('/') { String::from(name) } else { alloc::format!("/bin/{name}") };
    let program = match crate::proc::programs::find(&path) {
        Ok(program) => program,
        Err(errno) => {
            crate::println!("run: {path}: errno {} (try `programs`, or `/bin` of the initrd)", errno.raw());
            return;
        }
    };
    let stdio = match crate::proc::wasi::console_stdio() {
        Ok(stdio) => stdio,
        Err(errno) => {
            crate::println!("run: console descriptors: errno {}", errno.raw());
            return;
        }
    };
    let request = crate::proc::Spawn {
        name,
        bytes: &program.bytes,
        sha256: program.sha256,
        args: words.iter().map(|w| String::from(*w)).collect(),
        env: alloc::vec![String::from("PWD=/")],
        stdio,
        parent: 0,
        limits: crate::proc::Limits::default(),
        stopped: false,
        detached: background,
    };
    let pid = match crate::proc::spawn(request) {
        Ok(pid) => pid,
        Err(error) => {
            crate::println!("run: {name}: {error}");
            return;
        }
    };
    if background {
        crate::println!("[{pid}] {name}");
        return;
    }
    match crate::proc::wait(0, pid).await {
        Ok(crate::proc::ExitStatus::Exited(0)) => {}
        Ok(crate::proc::ExitStatus::Exited(code)) => crate::println!("{name}: exited with {code}"),
        Ok(crate::proc::ExitStatus::Trapped { code, message }) => crate::println!("{name}: trapped (code {code}): {message}"),
        Ok(crate::proc::ExitStatus::Killed) => crate::println!("{name}: killed"),
        Err(error) => crate::println!("{name}: wait: {error:?}"),
    }
}

fn ps() {
    let procs = crate::proc::list();
    crate::println!("{:>6} {:>6}  {:<8} {:>8} {:>8} {:>10}  name", "pid", "parent", "state", "mem KiB", "rss KiB", "cpu ms");
    for p in &procs {
        crate::println!(
            "{:>6} {:>6}  {:<8} {:>8} {:>8} {:>10}  {}",
            p.pid,
            p.parent,
            p.state.name(),
            p.memory_pages * 64,
            p.committed_bytes / 1024,
            p.cpu_ns / 1_000_000,
            p.name
        );
    }
    crate::println!("{} processes", procs.len());
}

fn tasks() {
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
