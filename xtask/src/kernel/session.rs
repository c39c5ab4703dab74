//! The `session` suite: boots Hypha the way `cargo xtask run` does (the
//! initrd with `user/` in `/bin`, 4 harts, 512 MiB; the release test
//! kernel the kernel suite already built, booted without `ktest` so it
//! starts init exactly like a normal kernel) and drives its console
//! like a user at the keyboard: one command line at a time, waiting for the
//! shell's prompt, checking what each command printed.
//!
//! Every step is one test: its name, the line typed, and what the output
//! between the echoed line and the next prompt must contain. A step that
//! fails does not stop the session (later steps still say whether the
//! system is alive), but a step that never gets its prompt back ends it.
//! The whole console transcript is written to `target/session.log`.

use super::boot;
use super::image;
use crate::suite::SuiteResult;
use anyhow::{Context as _, Result};
use std::io::{Read as _, Write as _};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest the kernel may take to start init after QEMU starts (debug
/// build, first translation of everything by TCG, shared machine).
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest one command may take to give the prompt back.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

/// What one step checks in the output of its command.
enum Check {
    /// Every one of these texts appears.
    Contains(&'static [&'static str]),
    /// Some output line is exactly this text (after trimming).
    Line(&'static str),
    /// Every one of these texts appears, and the line typed ended with
    /// `; echo status=$?` whose value is zero (`true`) or not (`false`).
    Status(&'static [&'static str], bool),
}

struct Step {
    name: &'static str,
    line: String,
    check: Check,
}

fn step(name: &'static str, line: impl Into<String>, check: Check) -> Step {
    Step { name, line: line.into(), check }
}

/// The scripted session (issue #7's list, plus the robustness checks).
fn script() -> Vec<Step> {
    // 50 processes alive at once in one pipeline: echo, 48 cats, wc.
    let mut pipeline = String::from("echo hello");
    for _ in 0..48 {
        pipeline.push_str(" | cat");
    }
    pipeline.push_str(" | wc -c");
    vec![
        step("ls_bin", "ls /bin", Check::Contains(&["sh", "cat", "wc", "hello", "ls"])),
        step("echo_redirect_cat", "echo hi > /tmp/a; cat /tmp/a", Check::Line("hi")),
        step("pipe_wc", "cat /tmp/a | wc -c", Check::Line("3")),
        step("ps", "ps", Check::Contains(&["sh", "ps"])),
        step("hello", "hello", Check::Contains(&["Hello"])),
        step("trap_reported", "trap; echo status=$?", Check::Status(&["trapped", "unreachable"], false)),
        step("and_or", "false && echo no; true && echo yes", Check::Line("yes")),
        step("pipeline_50_processes", pipeline, Check::Line("6")),
        step("forkbomb_refused", "forkbomb; echo status=$?", Check::Status(&["before the kernel refused"], true)),
        step("alive_after_forkbomb", "echo alive", Check::Line("alive")),
        step("proc_meminfo", "cat /proc/meminfo", Check::Contains(&["Mem"])),
    ]
}

/// Console bytes as they arrive, with a cursor for "output since".
struct Console {
    stdin: ChildStdin,
    bytes: mpsc::Receiver<Vec<u8>>,
    text: String,
    log: Vec<u8>,
}

impl Console {
    /// Waits until the text after `from` matches `done`, returning the
    /// index where the match ends; `None` on timeout or QEMU exit.
    fn wait_for(&mut self, from: usize, timeout: Duration, done: impl Fn(&str) -> Option<usize>) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.text.get(from..).and_then(&done) {
                return Some(from + end);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            match self.bytes.recv_timeout(deadline - now) {
                Ok(chunk) => {
                    self.log.extend_from_slice(&chunk);
                    self.text.push_str(&clean(&String::from_utf8_lossy(&chunk)));
                }
                Err(_) => return None,
            }
        }
    }

    /// Whether the console closes (QEMU exits) within `timeout`.
    fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self.bytes.recv_timeout(deadline - now) {
                Ok(chunk) => self.log.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Disconnected) => return true,
                Err(mpsc::RecvTimeoutError::Timeout) => return false,
            }
        }
    }

    fn type_line(&mut self, line: &str) -> Result<()> {
        // Typed a few bytes at a time, like a (fast) user: the UART has a
        // 16-byte FIFO and QEMU holds back what does not fit.
        for chunk in line.as_bytes().chunks(8) {
            self.stdin.write_all(chunk).context("writing to the console")?;
            self.stdin.flush().context("writing to the console")?;
        }
        self.stdin.write_all(b"\r").context("writing to the console")?;
        self.stdin.flush().context("writing to the console")
    }
}

/// Removes ANSI escape sequences (the line editor redraws with them) and
/// carriage returns.
fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters, then one final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// End of the first shell prompt (`hypha:DIR$ `) in `text`.
fn prompt_end(text: &str) -> Option<usize> {
    let start = text.find("hypha:")?;
    let rest = &text[start..];
    let dollar = rest.find("$ ")?;
    // A prompt is one line.
    if rest[..dollar].contains('\n') {
        return prompt_end(&text[start + 1..]).map(|end| end + start + 1);
    }
    Some(start + dollar + 2)
}

fn spawn_qemu() -> Result<(Child, Console)> {
    let qemu = crate::qemu::ensure()?;
    let initrd = crate::initrd::build("initrd", &[])?;
    let mut image = image::build(true, true)?;
    image.initrd = Some(initrd);
    let mut command = boot::qemu_command(&qemu, &image, super::TEST_CPUS, super::TEST_MEMORY, "");
    command.args(["-display", "none", "-serial", "stdio", "-monitor", "none"]);
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().with_context(|| format!("starting {command:?}"))?;
    let stdin = child.stdin.take().context("QEMU stdin")?;
    let mut stdout = child.stdout.take().context("QEMU stdout")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(count @ 1..) = stdout.read(&mut buffer) {
            if sender.send(buffer[..count].to_vec()).is_err() {
                break;
            }
        }
    });
    Ok((child, Console { stdin, bytes: receiver, text: String::new(), log: Vec::new() }))
}

fn check(output: &str, expected: &Check) -> Result<(), String> {
    match expected {
        Check::Contains(needles) => match needles.iter().find(|needle| !output.contains(*needle)) {
            Some(missing) => Err(format!("output lacks `{missing}`")),
            None => Ok(()),
        },
        Check::Status(needles, zero) => {
            check(output, &Check::Contains(needles))?;
            let status = output.lines().find_map(|line| line.trim().strip_prefix("status=")).ok_or("no `status=` line")?;
            match (status.parse::<u32>(), zero) {
                (Ok(0), true) | (Ok(1..), false) => Ok(()),
                _ => Err(format!("exit status {status}, expected {}", if *zero { "0" } else { "non-zero" })),
            }
        }
        Check::Line(want) => {
            if output.lines().any(|line| line.trim() == *want) {
                Ok(())
            } else {
                Err(format!("no output line `{want}`"))
            }
        }
    }
}

/// Runs the session; `filter` selects it like any suite (`session` or a
/// step name).
pub(crate) fn test(filter: Option<&str>) -> Result<SuiteResult> {
    let mut result = SuiteResult::new("session");
    let steps = script();
    if let Some(filter) = filter
        && !"session".contains(filter)
        && !steps.iter().any(|step| step.name.contains(filter))
    {
        return Ok(result);
    }
    println!("=== session: a scripted console session with the shell ===");
    let (mut child, mut console) = spawn_qemu()?;
    let outcome = drive(&mut console, &steps, &mut result);
    let _ = child.kill();
    let _ = child.wait();
    let log = super::target_dir().join("session.log");
    if let Err(error) = std::fs::write(&log, &console.log) {
        println!("session: could not write {}: {error}", log.display());
    } else {
        println!("session: transcript in {}", log.display());
    }
    if let Err(error) = outcome {
        result.error = Some(format!("{error:#}"));
    }
    Ok(result)
}

fn record(result: &mut SuiteResult, name: &str, outcome: Result<(), String>) {
    match outcome {
        Ok(()) => {
            println!("session::{name} ... ok");
            result.passed += 1;
        }
        Err(why) => {
            println!("session::{name} ... FAILED: {why}");
            result.failed += 1;
        }
    }
}

fn drive(console: &mut Console, steps: &[Step], result: &mut SuiteResult) -> Result<()> {
    // Boot to the first prompt; the kernel reports when init started.
    let Some(mut at) = console.wait_for(0, BOOT_TIMEOUT, prompt_end) else {
        record(result, "boot_to_prompt", Err("no shell prompt".into()));
        anyhow::bail!("the shell prompt never appeared");
    };
    let started = console.text.lines().find(|line| line.contains("boot: init started after")).map(str::to_owned);
    record(result, "boot_to_prompt", started.as_ref().map_or_else(|| Err("no `boot: init started after` line".into()), |_| Ok(())));
    if let Some(line) = started {
        println!("session: {}", line.trim());
    }
    for step in steps {
        console.type_line(&step.line)?;
        let Some(end) = console.wait_for(at, STEP_TIMEOUT, prompt_end) else {
            record(result, step.name, Err("the prompt did not come back".into()));
            anyhow::bail!("`{}` did not return to the prompt", step.line);
        };
        // Output: after the echoed command line, before the prompt.
        let span = &console.text[at..end];
        let output = span.split_once('\n').map_or("", |(_, rest)| rest);
        let output = output.rfind("hypha:").map_or(output, |prompt| &output[..prompt]);
        record(result, step.name, check(output, &step.check));
        at = end;
    }
    // `exit` ends init: the kernel must say so and start a new shell.
    console.type_line("exit")?;
    let restarted = console.wait_for(at, STEP_TIMEOUT, prompt_end);
    let said = console.text.get(at..).is_some_and(|text| text.contains("init"));
    record(
        result,
        "exit_restarts_init",
        match restarted {
            Some(_) if said => Ok(()),
            Some(_) => Err("a new prompt, but the kernel did not report init's exit".into()),
            None => Err("no prompt after init exited".into()),
        },
    );
    // `shutdown` powers the machine off: the console closes.
    console.type_line("shutdown")?;
    record(result, "shutdown", if console.wait_closed(STEP_TIMEOUT) { Ok(()) } else { Err("QEMU still running".into()) });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{clean, prompt_end};

    #[test]
    fn clean_removes_escapes_and_carriage_returns() {
        assert_eq!(clean("\u{1b}[2Khypha:/$ \u{1b}[3D\r\nx"), "hypha:/$ \nx");
    }

    #[test]
    fn prompt_end_finds_the_prompt_after_output() {
        let text = "ls /bin\nsh\ncat\nhypha:/tmp$ ";
        assert_eq!(prompt_end(text), Some(text.len()));
        assert_eq!(prompt_end("hypha: no prompt\nmore"), None);
    }
}
