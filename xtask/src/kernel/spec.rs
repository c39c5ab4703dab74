//! The WebAssembly spec suite inside the kernel (`spec[kernel/riscv64]`):
//! the `.wast` files are converted on the host by `wast2script`
//! (`hypha-wasm-script`) into one script, which QEMU hands to the kernel
//! as the fw_cfg file `opt/hypha/wasm-spec`; the kernel (release test
//! build, booted with `wasm.spec`) runs it and prints its own
//! `spec[kernel/riscv64] SUITE: P/T commands passed` lines and a closing
//! `spec: P passed, F failed, S skipped`.

use super::{boot, image};
use crate::suite::{self, SuiteResult};
use anyhow::{Context as _, Result, bail};
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest the kernel spec run may take.
const SPEC_TIMEOUT: Duration = Duration::from_secs(1200);

/// Converts the suite, boots the kernel on it and reports the counts.
pub(crate) fn test(filter: Option<&str>) -> Result<SuiteResult> {
    let name = "spec[kernel/riscv64]";
    println!("=== {name}: the spec suite in the kernel under QEMU ===");
    let mut result = SuiteResult::new(name);
    let qemu = crate::qemu::ensure()?;
    let root = crate::workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), std::path::PathBuf::from);
    std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let script = target.join("wasm-spec.script");
    let mut convert = Command::new(env!("CARGO"));
    convert.current_dir(&root).args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "hypha-wasm-script",
        "--features",
        "convert",
        "--bin",
        "wast2script",
        "--",
    ]);
    convert.arg(&script).args(filter);
    let output = convert.output().context("running wast2script")?;
    let report = String::from_utf8_lossy(&output.stdout);
    print!("{report}");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!("wast2script failed ({})", output.status);
    }
    if report.contains(" 0 files,") {
        println!("{name}: no spec file matches the filter");
        return Ok(result);
    }
    let image = image::build(true, true)?;
    let mut command = boot::qemu_command(&qemu, &image, 4, "1G", "wasm.spec");
    // Compiled SIMD uses the V extension with 128-bit vectors.
    command.args(["-cpu", "rv64,v=true,vlen=128"]);
    let mut fw_cfg = std::ffi::OsString::from("name=opt/hypha/wasm-spec,file=");
    fw_cfg.push(&script);
    command.arg("-fw_cfg").arg(fw_cfg);
    let started = Instant::now();
    let mut seen = false;
    let ending = boot::boot_and_watch(command, None, SPEC_TIMEOUT, |line| {
        if line.starts_with("spec") || line.starts_with("FAIL ") || line.starts_with("    ") || line.contains("panicked") {
            println!("{line}");
        }
        if let Some((parsed, passed, failed, skipped)) = suite::parse_counts_line(line)
            && parsed == "spec"
        {
            (result.passed, result.failed, result.skipped) = (passed, failed, skipped);
            seen = true;
        }
    })?;
    println!("{name}: kernel run took {:.1} s", started.elapsed().as_secs_f64());
    if !seen {
        result.error = Some(format!("the kernel ended ({ending:?}) without its `spec: N passed, N failed` line"));
    } else if ending != boot::Ending::Exited(0) && result.failed == 0 {
        result.error = Some(format!("the kernel ended with {ending:?}"));
    }
    Ok(result)
}
