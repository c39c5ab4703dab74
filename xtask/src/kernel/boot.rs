//! One QEMU boot: the command line, streaming its console output with a
//! timeout, and how it ended.

use super::image::Image;
use super::symbolize::Symbolizer;
use anyhow::{Context as _, Result};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a boot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// QEMU exited with this status (the kernel chose it through the test device).
    Exited(i32),
    /// QEMU was killed by a signal.
    Killed,
    /// No exit within the time limit; QEMU was killed.
    TimedOut,
}

/// `qemu-system-riscv64` arguments for `image` (and its initrd) on `cpus`
/// harts with `memory`.
pub(crate) fn qemu_command(qemu: &Path, image: &Image, cpus: u32, memory: &str, bootargs: &str) -> Command {
    let mut command = Command::new(qemu);
    command.args(["-machine", "virt", "-bios", "default", "-no-reboot"]);
    command.args(["-smp", &cpus.to_string(), "-m", memory]);
    command.arg("-kernel").arg(&image.loader);
    if let Some(initrd) = &image.initrd {
        command.arg("-initrd").arg(initrd);
    }
    if !bootargs.is_empty() {
        command.args(["-append", bootargs]);
    }
    command
}

/// Boots non-interactively, handing every console line (backtraces
/// symbolised after their raw line) to `on_line`, until QEMU exits or
/// `timeout` passes.
pub(crate) fn boot_and_watch(
    mut command: Command,
    symbolizer: Option<&Symbolizer>,
    timeout: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<Ending> {
    command.args(["-display", "none", "-serial", "stdio", "-monitor", "none"]);
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().with_context(|| format!("starting {command:?}"))?;
    let stdout = child.stdout.take().context("QEMU stdout")?;
    let (sender, receiver) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        match receiver.recv_timeout(deadline - now) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                on_line(line);
                if let Some(symbolized) = symbolizer.and_then(|symbolizer| symbolizer.symbolize_line(line)) {
                    on_line(&symbolized);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out {
        let _ = child.kill();
    }
    let status = child.wait().context("waiting for QEMU")?;
    let _ = reader.join();
    Ok(if timed_out {
        Ending::TimedOut
    } else {
        status.code().map_or(Ending::Killed, Ending::Exited)
    })
}
