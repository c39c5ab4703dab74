//! Makes sure the pinned toolchain has the targets `rust-toolchain.toml`
//! names, so a fresh machine needs nothing but `cargo xtask …`.

use anyhow::{Context as _, Result, bail};
use std::process::Command;

const REQUIRED_TARGETS: [&str; 2] = ["riscv64gc-unknown-none-elf", "wasm32-wasip1"];

/// Installs missing targets and components with `rustup toolchain install`,
/// which reads `rust-toolchain.toml` in the workspace root.
pub(crate) fn ensure_targets() -> Result<()> {
    let root = crate::workspace_root();
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(&root)
        .output();
    let installed = match output {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).into_owned(),
        // Without rustup we cannot add targets; let cargo report what is missing.
        _ => return Ok(()),
    };
    if REQUIRED_TARGETS.iter().all(|target| installed.lines().any(|line| line.trim() == *target)) {
        return Ok(());
    }
    eprintln!("xtask: installing the Rust targets named in rust-toolchain.toml");
    let status = Command::new("rustup")
        .args(["toolchain", "install"])
        .current_dir(&root)
        .status()
        .context("running `rustup toolchain install`")?;
    if !status.success() {
        bail!("`rustup toolchain install` failed; run it by hand in {}", root.display());
    }
    Ok(())
}
