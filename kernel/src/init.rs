//! The first process: `/bin/sh` from the initrd, on the console.
//!
//! [`run`] is the console's task. It starts [`INIT_PATH`] with the console
//! as stdin, stdout and stderr, prints `boot: init started after N us` once
//! the first one is running, and waits for it. When init ends (`exit`, a
//! trap, `kill`) the kernel says how and starts a new one; a shell that
//! keeps ending within [`QUICK_EXIT_US`] of starting [`MAX_QUICK_EXITS`]
//! times in a row — or no `/bin/sh` at all, or the bootarg `init=debug` —
//! hands the console to the kernel's debug console (`shell.rs`) instead,
//! so the machine never sits silent.
//!
//! Not here: the shell itself (`user/sh`), process management
//! (`crate::proc`).

extern crate alloc;

use alloc::string::String;
use alloc::vec;

use hypha_executor::JoinHandle;

use crate::proc::{self, ExitStatus};

/// The program the kernel starts first.
pub const INIT_PATH: &str = "/bin/sh";
/// An init that ends sooner than this after starting counts as failing.
const QUICK_EXIT_US: u64 = 2_000_000;
/// Failing starts in a row before the debug console takes over.
const MAX_QUICK_EXITS: u32 = 3;

/// Runs init (restarting it when it ends) and falls back to the debug
/// console; `debug` skips init. `engine` is the boot's task creating the
/// process engine, awaited first so two harts never both build one; the
/// process linker is then built by its own task while the first init
/// loads.
pub async fn run(debug: bool, engine: Option<JoinHandle<()>>) {
    if let Some(engine) = engine {
        // Its failure is reported by the spawn below.
        let _ = engine.await;
    }
    if debug {
        crate::println!("init: `init=debug`: starting the debug console");
        crate::shell::run().await;
        return;
    }
    if let Err(error) = crate::sched::spawn("proc-linker", proc::prepare_linker()) {
        log::debug!("init: no task for the linker ({error:?}); the first spawn builds it");
    }
    let mut first = true;
    let mut quick_exits = 0;
    loop {
        let started_us = crate::time::uptime_us();
        let pid = match start() {
            Ok(pid) => pid,
            Err(why) => {
                crate::println!("init: cannot start {INIT_PATH}: {why}; starting the debug console");
                break;
            }
        };
        if first {
            crate::println!("boot: init started after {} us", crate::time::uptime_us());
            first = false;
        }
        let ended = match proc::wait(0, pid).await {
            Ok(status) => describe(&status),
            Err(error) => alloc::format!("could not be waited for ({error:?})"),
        };
        crate::println!("init: {INIT_PATH} (pid {pid}) {ended}; starting a new one");
        if crate::time::uptime_us().saturating_sub(started_us) < QUICK_EXIT_US {
            quick_exits += 1;
            if quick_exits >= MAX_QUICK_EXITS {
                crate::println!("init: {INIT_PATH} ended {quick_exits} times within seconds; starting the debug console");
                break;
            }
        } else {
            quick_exits = 0;
        }
    }
    crate::shell::run().await;
}

/// Spawns one init process.
fn start() -> Result<proc::Pid, String> {
    let program = crate::fs::load_file(INIT_PATH).map_err(|errno| alloc::format!("reading it: errno {}", errno.raw()))?;
    let stdio = proc::wasi::console_stdio().map_err(|errno| alloc::format!("console descriptors: errno {}", errno.raw()))?;
    let request = proc::Spawn {
        name: "sh",
        bytes: &program.bytes,
        sha256: program.sha256,
        args: vec![String::from("sh")],
        env: vec![String::from("PWD=/"), String::from("HOME=/"), String::from("PATH=/bin")],
        stdio,
        parent: 0,
        limits: proc::Limits::default(),
        stopped: false,
        detached: false,
    };
    proc::spawn(request).map_err(|error| alloc::format!("{error}"))
}

fn describe(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Exited(code) => alloc::format!("exited with status {code}"),
        ExitStatus::Trapped { code, message } => alloc::format!("trapped (code {code}): {message}"),
        ExitStatus::Killed => String::from("was killed"),
    }
}
