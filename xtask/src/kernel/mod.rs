//! Building the loader + kernel image, booting it in QEMU, and reading the
//! in-kernel test results.
//!
//! `test` boots the kernel built with the `ktest` feature and `ktest` in
//! its bootargs. When a test panics, the kernel prints `test NAME ...
//! FAILED`, the message and a backtrace, and exits QEMU with status 101;
//! xtask then boots again with `ktest.skip=N` (N = tests already reported)
//! so the remaining tests still run. Any other non-zero exit, or no exit
//! within the time limit, is a suite error.
//!
//! The harness checks itself: three self-tests (`ktest.self_test`) must be
//! reported as failed — an assertion, a hang ended by the in-kernel
//! timeout, an unexpected page fault — with symbolised backtraces.
//!
//! The tests run on two machines: the default (Sv48, Sstc, 4 harts,
//! 512 MiB) with a debug build, and one without Sv48 or Sstc (Sv39, SBI
//! timer, 2 harts, 256 MiB) with a release build, so the loader's
//! fallback, the SBI timer path and optimised code are covered. Finally two boots with `kaslr.seed=1` and `kaslr.seed=2` must
//! place the kernel at different addresses.

mod bench;
mod boot;
mod image;
mod results;
mod session;
mod spec;
mod symbolize;
mod wasi;

pub(crate) use bench::run as bench;
pub(crate) use image::target_dir;
pub(crate) use session::test as session_test;
pub(crate) use spec::test as spec_test;
pub(crate) use wasi::test as wasi_test;

use crate::suite::SuiteResult;
use anyhow::{Context as _, Result, bail};
use boot::Ending;
use results::TestLine;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use symbolize::Symbolizer;

/// QEMU exit status of a kernel that panicked inside a test.
const EXIT_TEST_FAILED: i32 = 101;
/// Longest a single test boot may take. The debug machine runs every
/// test in one boot: about 70 s on an idle 2-core host (the process tests
/// dominate), past 120 s when the host is busy. Hangs inside a test are
/// caught sooner by the in-kernel per-test timeout.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest the whole kernel suite may take.
const SUITE_TIMEOUT: Duration = Duration::from_secs(900);
/// Harts and memory for test boots (the `run` defaults).
const TEST_CPUS: u32 = 4;
const TEST_MEMORY: &str = "512M";

/// Options of `cargo xtask run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunOptions {
    pub release: bool,
    pub cpus: u32,
    pub memory: String,
    pub gdb: bool,
    pub bootargs: Vec<String>,
    /// Extra WebAssembly programs to put in `/bin` (`--add`).
    pub extra_programs: Vec<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        // Release by default: the kernel compiles `/bin/sh` with Cranelift
        // at boot, ~5 s in release and ~30 s in a debug kernel under TCG.
        Self { release: true, cpus: 4, memory: "512M".to_owned(), gdb: false, bootargs: Vec::new(), extra_programs: Vec::new() }
    }
}

/// Builds and boots Hypha interactively.
pub(crate) fn run(options: &RunOptions) -> Result<()> {
    let qemu = crate::qemu::ensure()?;
    let initrd = crate::initrd::build("initrd", &options.extra_programs)?;
    let mut image = image::build(options.release, false)?;
    image.initrd = Some(initrd);
    report_sizes(&image);
    let symbolizer = Symbolizer::new(&image.kernel).ok();
    let mut command = boot::qemu_command(&qemu, &image, options.cpus, &options.memory, &options.bootargs.join(" "));
    command.arg("-nographic");
    if options.gdb {
        command.args(["-s", "-S"]);
        eprintln!("xtask: QEMU waits for gdb on localhost:1234 (`target remote :1234` with {})", image.kernel.display());
    }
    command.stdin(Stdio::inherit()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut child = command.spawn().with_context(|| format!("starting {command:?}"))?;
    let mut stdout = child.stdout.take().context("QEMU stdout")?;
    // Forward bytes as they come (the prompt has no newline) and add a
    // symbolised line after each backtrace line.
    let mut out = std::io::stdout();
    let mut line = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let count = match stdout.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => count,
        };
        let mut chunk = &buffer[..count];
        while !chunk.is_empty() {
            // Up to and including the next newline, then that line's
            // symbolised form (if it was a backtrace line).
            let end = chunk.iter().position(|&byte| byte == b'\n').map_or(chunk.len(), |newline| newline + 1);
            let (piece, rest) = chunk.split_at(end);
            out.write_all(piece).context("writing to stdout")?;
            line.extend_from_slice(piece);
            if line.ends_with(b"\n") {
                let text = String::from_utf8_lossy(&line);
                if let Some(symbolized) = symbolizer.as_ref().and_then(|symbolizer| symbolizer.symbolize_line(text.trim_end())) {
                    write!(out, "{}\r\n", symbolized.replace('\n', "\r\n")).context("writing to stdout")?;
                }
                line.clear();
            }
            chunk = rest;
        }
        out.flush().context("flushing stdout")?;
    }
    let status = child.wait().context("waiting for QEMU")?;
    if !status.success() {
        bail!("QEMU exited with {status} (the kernel reported a failure)");
    }
    Ok(())
}

fn report_sizes(image: &image::Image) {
    let size = |path: &PathBuf| std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    eprintln!(
        "xtask: loader image {} KiB (embeds the stripped kernel: {} KiB; unstripped: {} KiB)",
        size(&image.loader) / 1024,
        size(&image.kernel.with_extension("stripped")) / 1024,
        size(&image.kernel) / 1024
    );
}

/// A machine the in-kernel tests run on.
struct Configuration {
    name: &'static str,
    cpus: u32,
    memory: &'static str,
    qemu_args: &'static [&'static str],
    /// Whether the kernel and loader are built with `--release`.
    release: bool,
    /// Texts the kernel's boot log must contain (proves the configuration
    /// took effect).
    expect_in_log: &'static [&'static str],
}

/// Every test runs on each: the default machine (Sv48, Sstc timer) with a
/// debug build, and one without Sv48 or Sstc with a release build, so the
/// loader's Sv39 fallback, the SBI timer and optimised code are exercised
/// too.
const CONFIGURATIONS: [Configuration; 2] = [
    Configuration {
        name: "sv48-sstc-4harts",
        release: false,
        cpus: TEST_CPUS,
        memory: TEST_MEMORY,
        qemu_args: &[],
        expect_in_log: &[", Sv48, ", "timer Sstc"],
    },
    Configuration {
        name: "sv39-sbi-timer-2harts-release",
        release: true,
        cpus: 2,
        memory: "256M",
        qemu_args: &["-cpu", "rv64,sv48=off,sv57=off,sstc=off"],
        expect_in_log: &[", Sv39, ", "timer SBI"],
    },
];

/// Builds the kernel in test mode, boots it and collects the results.
pub(crate) fn test(filter: Option<&str>) -> Result<SuiteResult> {
    println!("=== kernel: in-kernel tests under QEMU ===");
    let qemu = crate::qemu::ensure()?;
    let mut result = SuiteResult::new("kernel");
    if filter.is_some_and(|filter| filter.contains(char::is_whitespace)) {
        bail!("a kernel test filter cannot contain whitespace");
    }
    // Every test boot gets the same initrd (the `fs::` tests read it).
    let initrd = crate::initrd::build("initrd-test", &[])?;
    let mut image = image::build(false, true)?;
    image.initrd = Some(initrd.clone());
    let symbolizer = Symbolizer::new(&image.kernel)?;
    let mut release_image = image::build(true, true)?;
    release_image.initrd = Some(initrd);
    let release_symbolizer = Symbolizer::new(&release_image.kernel)?;
    let started = Instant::now();
    let mut boots = 0;
    for configuration in &CONFIGURATIONS {
        let (image, symbolizer) =
            if configuration.release { (&release_image, &release_symbolizer) } else { (&image, &symbolizer) };
        let profile = if configuration.release { "release" } else { "debug" };
        println!(
            "--- kernel tests on {} ({} harts, {}, {profile} build) ---",
            configuration.name, configuration.cpus, configuration.memory
        );
        boots += run_configuration(&qemu, image, symbolizer, configuration, filter, "", started, &mut result, &mut |_| {})?;
        if result.error.is_some() {
            break;
        }
    }
    let harness_test = "xtask::harness_reports_failures_faults_and_hangs";
    if result.error.is_none() && filter.is_none_or(|filter| harness_test.contains(filter)) {
        println!("--- harness self-test: these three kernel tests must fail ---");
        let (harness_boots, outcome) = harness_check(&qemu, &image, &symbolizer, started)?;
        boots += harness_boots;
        match outcome {
            Ok(()) => {
                println!("test {harness_test} ... ok");
                result.passed += 1;
            }
            Err(error) => {
                println!("test {harness_test} ... FAILED\n  {error:#}");
                result.failed += 1;
            }
        }
    }
    let kaslr_test = "xtask::kaslr_two_seeds_two_addresses";
    if result.error.is_none() && filter.is_none_or(|filter| kaslr_test.contains(filter)) {
        boots += 2;
        match kaslr_check(&qemu, &image, &symbolizer) {
            Ok(()) => {
                println!("test {kaslr_test} ... ok");
                result.passed += 1;
            }
            Err(error) => {
                println!("test {kaslr_test} ... FAILED\n  {error:#}");
                result.failed += 1;
            }
        }
    }
    println!("kernel: {} boots, {:.1} s", boots, started.elapsed().as_secs_f64());
    Ok(result)
}

/// Boots the harness self-tests (`ktest.self_test`), which must all fail:
/// an assertion, a hang ended by the in-kernel timeout, and an unexpected
/// page fault. Checks each is reported as a failure with its message and a
/// symbolised backtrace. Returns the boots used and the verdict.
fn harness_check(qemu: &std::path::Path, image: &image::Image, symbolizer: &Symbolizer, started: Instant) -> Result<(u32, Result<()>)> {
    let mut result = SuiteResult::new("harness");
    let mut text = String::new();
    let boots = run_configuration(
        qemu,
        image,
        symbolizer,
        &CONFIGURATIONS[0],
        None,
        "ktest.self_test",
        started,
        &mut result,
        &mut |line| {
            text.push_str(line);
            text.push('\n');
        },
    )?;
    let verdict = (|| {
        if let Some(error) = &result.error {
            bail!("the self-test boots ended badly: {error}");
        }
        if (result.passed, result.failed) != (0, 3) {
            bail!("expected 0 passed and 3 failed, got {} passed and {} failed", result.passed, result.failed);
        }
        for expected in [
            "deliberate failure: the harness must report this",
            "test timed out",
            "store page fault",
            "hypha_kernel::tests::harness::failing_assertion_is_reported at ",
        ] {
            if !text.contains(expected) {
                bail!("the self-test output lacks `{expected}`");
            }
        }
        Ok(())
    })();
    Ok((boots, verdict))
}

/// Runs the (filtered) tests on one configuration, rebooting after each
/// failed test. Adds to `result` and shows each line to `watch`; returns
/// the number of boots.
#[expect(clippy::too_many_arguments, reason = "one call site per use; a struct would only rename them")]
fn run_configuration(
    qemu: &std::path::Path,
    image: &image::Image,
    symbolizer: &Symbolizer,
    configuration: &Configuration,
    filter: Option<&str>,
    extra_bootargs: &str,
    started: Instant,
    result: &mut SuiteResult,
    watch: &mut dyn FnMut(&str),
) -> Result<u32> {
    let mut reported: u64 = 0;
    let mut boots = 0;
    loop {
        boots += 1;
        let mut bootargs = format!("ktest ktest.skip={reported}");
        if let Some(filter) = filter {
            bootargs.push_str(&format!(" ktest.filter={filter}"));
        }
        if !extra_bootargs.is_empty() {
            bootargs.push(' ');
            bootargs.push_str(extra_bootargs);
        }
        let remaining = SUITE_TIMEOUT.saturating_sub(started.elapsed()).min(BOOT_TIMEOUT);
        let mut last_failed = None;
        let mut finished = false;
        let mut banner = Vec::new();
        let mut in_banner = true;
        let mut seen = vec![false; configuration.expect_in_log.len()];
        let mut command = boot::qemu_command(qemu, image, configuration.cpus, configuration.memory, &bootargs);
        command.args(configuration.qemu_args);
        let ending = boot::boot_and_watch(command, Some(symbolizer), remaining, |line| {
            // Keep OpenSBI's banner out of the way unless something fails early.
            if in_banner && !line.starts_with("hypha-boot") {
                banner.push(line.to_owned());
                return;
            }
            in_banner = false;
            println!("{line}");
            watch(line);
            for (seen, expected) in seen.iter_mut().zip(configuration.expect_in_log) {
                *seen |= line.contains(expected);
            }
            match results::parse(line) {
                Some(TestLine::Passed(_)) => {
                    result.passed += 1;
                    reported += 1;
                }
                Some(TestLine::Failed(name)) => {
                    result.failed += 1;
                    reported += 1;
                    last_failed = Some(name);
                }
                Some(TestLine::Ignored(_)) => {
                    result.skipped += 1;
                    reported += 1;
                }
                Some(TestLine::Finished) => finished = true,
                Some(TestLine::Running(_)) | None => {}
            }
        })?;
        if in_banner {
            println!("{}", banner.join("\n"));
        }
        if let Some((_, missing)) = seen.iter().zip(configuration.expect_in_log).find(|(seen, _)| !**seen)
            && !in_banner
        {
            result.error = Some(format!(
                "configuration {}: the boot log never said `{}`",
                configuration.name,
                missing.trim_matches([',', ' '])
            ));
            return Ok(boots);
        }
        let error = match ending {
            Ending::Exited(0) if finished => return Ok(boots),
            Ending::Exited(0) => "the kernel exited with success before finishing its tests".to_owned(),
            Ending::Exited(EXIT_TEST_FAILED) if last_failed.is_some() => {
                println!("xtask: a test failed; rebooting the kernel to run the rest (boot {})", boots + 1);
                continue;
            }
            Ending::Exited(code) => format!("the kernel exited with status {code} outside a test (panic or fault during boot?)"),
            Ending::Killed => "QEMU was killed by a signal".to_owned(),
            Ending::TimedOut => format!(
                "the kernel did not finish within {} s (a hang, or a test that blocks with interrupts off); {reported} tests had reported",
                remaining.as_secs()
            ),
        };
        result.error = Some(format!("configuration {}: {error}", configuration.name));
        return Ok(boots);
    }
}

/// Boots twice with fixed, different KASLR seeds; each boot's own test
/// checks the kernel runs where its seed says, and the two addresses must
/// differ.
fn kaslr_check(qemu: &std::path::Path, image: &image::Image, symbolizer: &Symbolizer) -> Result<()> {
    let mut bases = Vec::new();
    for seed in [1, 2] {
        let bootargs = format!("kaslr.seed={seed} ktest ktest.filter=boot::kernel_runs_where_the_seed_says");
        let mut base = None;
        let mut passed = false;
        let command = boot::qemu_command(qemu, image, 1, TEST_MEMORY, &bootargs);
        let ending = boot::boot_and_watch(command, Some(symbolizer), BOOT_TIMEOUT, |line| {
            if let Some(rest) = line.split("kernel at ").nth(1) {
                base = rest.split_whitespace().next().and_then(|text| u64::from_str_radix(text.trim_start_matches("0x"), 16).ok());
            }
            if matches!(results::parse(line), Some(TestLine::Passed(_))) {
                passed = true;
            }
        })?;
        if ending != Ending::Exited(0) || !passed {
            bail!("boot with kaslr.seed={seed} ended {ending:?} (its placement test passed: {passed})");
        }
        bases.push(base.with_context(|| format!("boot with kaslr.seed={seed} did not report `kernel at 0x…`"))?);
    }
    if bases[0] == bases[1] {
        bail!("kaslr.seed=1 and kaslr.seed=2 both placed the kernel at {:#x}", bases[0]);
    }
    println!("xtask: kaslr.seed=1 -> {:#x}, kaslr.seed=2 -> {:#x}", bases[0], bases[1]);
    Ok(())
}
