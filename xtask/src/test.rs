//! `cargo xtask test`: every suite, host and in-kernel, one summary line per
//! suite and one closing line summing them all.

use crate::suite::{self, SuiteResult};
use anyhow::Result;
use std::process::Command;
use std::time::Instant;

/// `[--only SUITE]… [FILTER]`: the suite prefixes to run (empty: all)
/// and the test-name filter.
///
/// # Errors
/// `--only` without a name, an unknown flag, or a second filter.
pub(crate) fn parse_args(args: &[String]) -> Result<(Vec<String>, Option<String>), String> {
    let (mut only, mut filter) = (Vec::new(), None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--only" {
            only.push(args.next().ok_or("`--only` needs a suite name")?.clone());
        } else if arg.starts_with("--") {
            return Err(format!("unknown option `{arg}`"));
        } else if filter.replace(arg.clone()).is_some() {
            return Err(String::from("at most one FILTER"));
        }
    }
    Ok((only, filter))
}

/// Whether the suite called `name` is wanted: `only` empty, or one of its
/// entries a prefix of `name` (`spec` takes every spec suite).
fn wanted(only: &[String], name: &str) -> bool {
    only.is_empty() || only.iter().any(|prefix| name.starts_with(prefix.as_str()))
}

/// Runs every suite whose name starts with an entry of `only` (all when it
/// is empty), keeping the tests that match `filter` (all when `None`).
/// Returns whether all of them passed.
pub(crate) fn run_all(only: &[String], filter: Option<&str>) -> Result<bool> {
    let started = Instant::now();
    let root = crate::workspace_root();
    let mut results = Vec::new();
    if wanted(only, "host") {
        results.push(host_suite(filter)?);
    }
    if wanted(only, "user") {
        results.push(user_suite(filter)?);
    }
    for strategy in ["guard", "bounds"] {
        let name = format!("spec[{strategy}]");
        if !wanted(only, &name) {
            continue;
        }
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(&root).args(["run", "--release", "--quiet", "-p", "hypha-wasm-spec", "--", "--strategy", strategy]);
        command.args(filter);
        results.push(runner_suite(&name, "spec", &mut command)?);
    }
    if wanted(only, "loom") {
        results.push(loom_suite(filter)?);
    }
    if wanted(only, "wasi[host]") {
        let mut command = Command::new(env!("CARGO"));
        command.current_dir(&root).args(["run", "--release", "--quiet", "-p", "hypha-run", "--bin", "wasi-testsuite", "--"]);
        command.args(filter);
        results.push(runner_suite("wasi[host]", "wasi", &mut command)?);
    }
    if wanted(only, "wasi[kernel]") {
        results.extend(crate::kernel::wasi_test(filter)?);
    }
    if wanted(only, "kernel") {
        results.push(crate::kernel::test(filter)?);
    }
    if wanted(only, "spec[kernel/riscv64]") {
        results.extend(crate::kernel::spec_test(filter)?);
    }
    if wanted(only, "session") {
        results.push(crate::kernel::session_test(filter)?);
    }
    if results.is_empty() {
        anyhow::bail!("no suite starts with {only:?}: host, user, spec[guard], spec[bounds], loom, wasi[host], wasi[kernel], kernel, spec[kernel/riscv64], session");
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn only_and_filter_are_parsed_in_any_order() {
        assert_eq!(parse_args(&args(&[])), Ok((vec![], None)));
        assert_eq!(parse_args(&args(&["proc::"])), Ok((vec![], Some("proc::".to_owned()))));
        assert_eq!(
            parse_args(&args(&["--only", "kernel", "proc::", "--only", "session"])),
            Ok((args(&["kernel", "session"]), Some("proc::".to_owned())))
        );
        assert!(parse_args(&args(&["--only"])).is_err());
        assert!(parse_args(&args(&["--fast"])).is_err());
        assert!(parse_args(&args(&["a", "b"])).is_err());
    }

    #[test]
    fn only_selects_suites_by_prefix() {
        let all = ["host", "user", "spec[guard]", "spec[bounds]", "loom", "wasi[host]", "wasi[kernel]", "kernel", "spec[kernel/riscv64]", "session"];
        let pick = |only: &[&str]| all.iter().copied().filter(|name| wanted(&args(only), name)).collect::<Vec<_>>();
        assert_eq!(pick(&[]), all);
        assert_eq!(pick(&["kernel"]), ["kernel"]);
        assert_eq!(pick(&["spec"]), ["spec[guard]", "spec[bounds]", "spec[kernel/riscv64]"]);
        assert_eq!(pick(&["wasi", "host"]), ["host", "wasi[host]", "wasi[kernel]"]);
        assert_eq!(pick(&["spec[kernel/riscv64]"]), ["spec[kernel/riscv64]"]);
        assert!(pick(&["nothing"]).is_empty());
    }
}
