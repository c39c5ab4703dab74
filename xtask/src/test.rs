//! `cargo xtask test`: every suite, host and in-kernel, one summary line per
//! suite and one closing line summing them all.

use crate::suite::{self, SuiteResult};
use anyhow::Result;
use std::process::Command;
use std::time::Instant;

/// Runs every suite whose name or tests match `filter` (all when `None`).
/// Returns whether all of them passed.
pub(crate) fn run_all(filter: Option<&str>) -> Result<bool> {
    let started = Instant::now();
    let root = crate::workspace_root();
    let mut results = vec![host_suite(filter)?, user_suite(filter)?];
    for strategy in ["guard", "bounds"] {
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(&root).args(["run", "--release", "--quiet", "-p", "hypha-wasm-spec", "--", "--strategy", strategy]);
        command.args(filter);
        results.push(runner_suite(&format!("spec[{strategy}]"), "spec", &mut command)?);
    }
    results.push(loom_suite(filter)?);
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(&root).args(["run", "--release", "--quiet", "-p", "hypha-run", "--bin", "wasi-testsuite", "--"]);
    command.args(filter);
    results.push(runner_suite("wasi[host]", "wasi", &mut command)?);
    results.extend(crate::kernel::wasi_test(filter)?);
    results.push(crate::kernel::test(filter)?);
    results.extend(crate::kernel::spec_test(filter)?);
    results.push(crate::kernel::session_test(filter)?);

    println!();
    println!("=== summary ({:.0} s) ===", started.elapsed().as_secs_f64());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut all_ok = true;
    for result in &results {
        println!("{}", result.summary_line());
        if let Some(error) = &result.error {
            println!("  {}: suite error: {error}", result.name);
        }
        passed += result.passed;
        failed += result.failed;
        skipped += result.skipped;
        all_ok &= result.ok();
    }
    println!("{}", suite::counts_line(passed, failed, skipped));
    Ok(all_ok)
}

/// `cargo test` over every host crate (everything but the riscv64-only
/// loader and kernel and the benchmark binaries with their peers).
fn host_suite(filter: Option<&str>) -> Result<SuiteResult> {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(crate::workspace_root()).args([
        "test",
        "--workspace",
        "--exclude",
        "hypha-kernel",
        "--exclude",
        "hypha-boot",
        "--exclude",
        "hypha-bench-*",
    ]);
    if let Some(filter) = filter {
        command.args(["--", filter]);
    }
    libtest_suite("host", &mut command)
}

/// The host tests of the programs in `user/` (their own workspace, built
/// for the host here; the same code runs on Hypha as `wasm32-wasip1`).
fn user_suite(filter: Option<&str>) -> Result<SuiteResult> {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(crate::workspace_root().join("user")).args(["test", "--workspace"]);
    if let Some(filter) = filter {
        command.args(["--", filter]);
    }
    libtest_suite("user", &mut command)
}

/// The executor's loom models (one per task-state invariant in
/// `EXECUTOR.md`), exhaustively explored up to 3 preemptions. Built with
/// `--cfg loom` into their own target directory so the flag does not
/// invalidate the ordinary builds.
fn loom_suite(filter: Option<&str>) -> Result<SuiteResult> {
    let root = crate::workspace_root();
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(&root)
        .env("RUSTFLAGS", "--cfg loom")
        .env("LOOM_MAX_PREEMPTIONS", "3")
        .env("CARGO_TARGET_DIR", root.join("target/loom"))
        .args(["test", "--release", "-p", "hypha-executor", "--test", "loom", "--lib"]);
    if let Some(filter) = filter {
        command.args(["--", filter]);
    }
    libtest_suite("loom", &mut command)
}

/// Runs a libtest-based command (`cargo test …`) and sums its
/// `test result:` lines.
fn libtest_suite(name: &str, command: &mut Command) -> Result<SuiteResult> {
    println!("=== {name}: {command:?} ===");
    let mut result = SuiteResult::new(name);
    let success = suite::run_streaming(command, |line| {
        suite::add_libtest_summary(line, &mut result);
    })?;
    if !success && result.failed == 0 {
        result.error = Some("cargo test failed before running tests (build error?)".to_owned());
    }
    Ok(result)
}

/// Runs a suite runner that prints its own closing line
/// `LINE_NAME: P passed, F failed[, S skipped]` and exits non-zero on
/// failure; the suite is reported as `name`.
fn runner_suite(name: &str, line_name: &str, command: &mut Command) -> Result<SuiteResult> {
    println!("=== {name}: {command:?} ===");
    let mut result = SuiteResult::new(name);
    let mut seen = false;
    let success = suite::run_streaming(command, |line| {
        if let Some((parsed_name, passed, failed, skipped)) = suite::parse_counts_line(line)
            && parsed_name == line_name
        {
            (result.passed, result.failed, result.skipped) = (passed, failed, skipped);
            seen = true;
        }
    })?;
    if !seen {
        result.error = Some(format!("the runner ended without its `{line_name}: N passed, N failed` line"));
    } else if !success && result.failed == 0 {
        result.error = Some("the runner exited with failure".to_owned());
    }
    Ok(result)
}
