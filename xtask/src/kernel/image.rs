//! Building the kernel ELF and the loader that embeds it.

use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "riscv64gc-unknown-none-elf";

/// A built loader with its kernel.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// The kernel ELF (with symbols and DWARF), for symbolising.
    pub kernel: PathBuf,
    /// The loader ELF that QEMU boots (`-kernel`).
    pub loader: PathBuf,
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| crate::workspace_root().join("target"), PathBuf::from)
}

fn cargo_build(package: &str, release: bool, features: &[&str], env: &[(&str, &PathBuf)]) -> Result<()> {
    let mut command = Command::new(env!("CARGO"));
    command.current_dir(crate::workspace_root()).args(["build", "--package", package, "--target", TARGET]);
    if release {
        command.arg("--release");
    }
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let status = command.status().with_context(|| format!("running cargo build for {package}"))?;
    if !status.success() {
        bail!("building {package} failed ({status})");
    }
    Ok(())
}

/// Builds the kernel (with the in-kernel tests when `ktest`) and the loader
/// around it.
pub(crate) fn build(release: bool, ktest: bool) -> Result<Image> {
    let profile = if release { "release" } else { "debug" };
    let out = target_dir().join(TARGET).join(profile);
    let features: &[&str] = if ktest { &["ktest"] } else { &[] };
    cargo_build("hypha-kernel", release, features, &[])?;
    let kernel = out.join("hypha-kernel");
    if !kernel.is_file() {
        bail!("the kernel build did not produce {}", kernel.display());
    }
    cargo_build("hypha-boot", release, &[], &[("HYPHA_KERNEL_ELF", &kernel)])?;
    let loader = out.join("hypha-boot");
    if !loader.is_file() {
        bail!("the loader build did not produce {}", loader.display());
    }
    Ok(Image { kernel, loader })
}
