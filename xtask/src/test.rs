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
    let results = vec![host_suite(filter)?, crate::kernel::test(filter)?];

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
    println!("=== host: cargo test (host crates) ===");
    let mut result = SuiteResult::new("host");
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
    let success = suite::run_streaming(&mut command, |line| {
        suite::add_libtest_summary(line, &mut result);
    })?;
    if !success && result.failed == 0 {
        result.error = Some("cargo test failed before running tests (build error?)".to_owned());
    }
    Ok(result)
}

/// Runs a suite runner that prints its own closing line
/// `NAME: P passed, F failed[, S skipped]` and exits non-zero on failure.
#[expect(dead_code, reason = "used as the spec and loom suites land")]
fn runner_suite(name: &str, command: &mut Command) -> Result<SuiteResult> {
    println!("=== {name} ===");
    let mut result = SuiteResult::new(name);
    let mut seen = false;
    let success = suite::run_streaming(command, |line| {
        if let Some((line_name, passed, failed, skipped)) = suite::parse_counts_line(line)
            && line_name == name
        {
            (result.passed, result.failed, result.skipped) = (passed, failed, skipped);
            seen = true;
        }
    })?;
    if !seen {
        result.error = Some(format!("the {name} runner ended without its `{name}: N passed, N failed` line"));
    } else if !success && result.failed == 0 {
        result.error = Some(format!("the {name} runner exited with failure"));
    }
    Ok(result)
}
