//! `cargo xtask bench SUITE`: runs a benchmark binary side by side with its
//! peer. Each suite is the release binary of package `hypha-bench-SUITE`
//! (in `bench/SUITE/`), which prints its table and writes
//! `target/bench/SUITE.json`. `kernel` is different: it boots the kernel in
//! QEMU (`crate::kernel::bench`).

use anyhow::{Context as _, Result, bail};
use std::process::Command;

/// The suites `cargo xtask bench` knows.
pub(crate) const SUITES: [&str; 4] = ["executor", "runtime-compile", "runtime", "kernel"];

pub(crate) fn run(suite: &str, args: &[String]) -> Result<()> {
    if !SUITES.contains(&suite) {
        bail!("unknown bench suite `{suite}` (known: {})", SUITES.join(", "));
    }
    if suite == "kernel" {
        return crate::kernel::bench(args);
    }
    let root = crate::workspace_root();
    std::fs::create_dir_all(root.join("target/bench")).context("creating target/bench")?;
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["run", "--release", "--package", &format!("hypha-bench-{suite}"), "--"])
        .args(args)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("bench suite `{suite}` failed ({status})");
    }
    println!("results: {}", root.join(format!("target/bench/{suite}.json")).display());
    Ok(())
}
