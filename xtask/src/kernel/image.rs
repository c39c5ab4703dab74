//! Building the kernel ELF and the loader that embeds it.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "riscv64gc-unknown-none-elf";

/// A built loader with its kernel.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// The kernel ELF (with symbols and DWARF), for symbolising.
    pub kernel: PathBuf,
    /// The loader ELF that QEMU boots (`-kernel`).
    pub loader: PathBuf,
    /// The initrd QEMU loads (`-initrd`), if any (see `crate::initrd`).
    pub initrd: Option<PathBuf>,
}

/// The cargo target directory xtask builds into (`CARGO_TARGET_DIR`, else
/// `target/` in the workspace).
pub(crate) fn target_dir() -> PathBuf {
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

/// `llvm-objcopy --strip-all` (symbols and debug info) from the toolchain's `llvm-tools`.
fn strip(input: &Path, output: &Path) -> Result<()> {
    let sysroot = Command::new("rustc").arg("--print").arg("sysroot").current_dir(crate::workspace_root()).output();
    let sysroot = match sysroot {
        Ok(output) if output.status.success() => PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()),
        _ => bail!("`rustc --print sysroot` failed"),
    };
    let host = Command::new("rustc").arg("-vV").output().context("running rustc -vV")?;
    let host = String::from_utf8_lossy(&host.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .context("rustc -vV names no host")?;
    let objcopy = sysroot.join("lib/rustlib").join(host).join("bin/llvm-objcopy");
    if !objcopy.is_file() {
        bail!("{} is missing: add the `llvm-tools` component (rust-toolchain.toml lists it)", objcopy.display());
    }
    let status = Command::new(&objcopy)
        .arg("--strip-all")
        .arg(input)
        .arg(output)
        .status()
        .with_context(|| format!("running {}", objcopy.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", objcopy.display());
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
    // The loader embeds a copy without debug info; the full ELF stays for
    // symbolising backtraces.
    let stripped = out.join("hypha-kernel.stripped");
    strip(&kernel, &stripped)?;
    cargo_build("hypha-boot", release, &[], &[("HYPHA_KERNEL_ELF", &stripped)])?;
    let loader = out.join("hypha-boot");
    if !loader.is_file() {
        bail!("the loader build did not produce {}", loader.display());
    }
    Ok(Image { kernel, loader, initrd: None })
}
