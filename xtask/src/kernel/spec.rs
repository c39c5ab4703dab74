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

/// Converts the suite, boots the kernel on it once per machine and
/// reports each run as a suite.
pub(crate) fn test(filter: Option<&str>) -> Result<Vec<SuiteResult>> {
    let name = "spec[kernel/riscv64]";
    println!("=== {name}: the spec suite in the kernel under QEMU ===");
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
        return Ok(Vec::new());
    }
    let image = image::build(true, true)?;
    let mut results = Vec::new();
    for machine in &MACHINES {
        let mut result = SuiteResult::new(&format!("{name} {}", machine.name));
        println!("--- {} ({} harts, {}) ---", result.name, machine.cpus, machine.memory);
        let mut command = boot::qemu_command(&qemu, &image, machine.cpus, machine.memory, "wasm.spec");
        command.args(["-cpu", machine.cpu]);
        let mut fw_cfg = std::ffi::OsString::from("name=opt/hypha/wasm-spec,file=");
        fw_cfg.push(&script);
        command.arg("-fw_cfg").arg(fw_cfg);
        let started = Instant::now();
        let mut seen = false;
        let mut strategy_ok = false;
        let ending = boot::boot_and_watch(command, None, SPEC_TIMEOUT, |line| {
            if line.starts_with("spec") || line.starts_with("FAIL ") || line.starts_with("    ") || line.contains("panicked") {
                println!("{line}");
            }
            strategy_ok |= line.contains(machine.expect_strategy);
            if let Some((parsed, passed, failed, skipped)) = suite::parse_counts_line(line)
                && parsed == "spec"
            {
                (result.passed, result.failed, result.skipped) = (passed, failed, skipped);
                seen = true;
            }
        })?;
        println!("{}: kernel run took {:.1} s", result.name, started.elapsed().as_secs_f64());
        if !seen {
            result.error = Some(format!("the kernel ended ({ending:?}) without its `spec: N passed, N failed` line"));
        } else if !strategy_ok {
            result.error = Some(format!("the kernel did not report `{}`", machine.expect_strategy));
        } else if ending != boot::Ending::Exited(0) && result.failed == 0 {
            result.error = Some(format!("the kernel ended with {ending:?}"));
        }
        results.push(result);
    }
    Ok(results)
}

/// A machine the spec suite runs on.
struct Machine {
    name: &'static str,
    cpus: u32,
    memory: &'static str,
    cpu: &'static str,
    /// The kernel's log line proving which memory strategy it chose.
    expect_strategy: &'static str,
}

/// Sv48 (guard pages) and Sv39 (bounds checks, the address-space
/// fallback); both with the V extension (128-bit vectors) for SIMD.
const MACHINES: [Machine; 2] = [
    Machine { name: "sv48-guard", cpus: 4, memory: "1G", cpu: "rv64,v=true,vlen=128", expect_strategy: "strategy GuardPages" },
    Machine {
        name: "sv39-bounds",
        cpus: 2,
        memory: "512M",
        cpu: "rv64,v=true,vlen=128,sv48=off,sv57=off",
        expect_strategy: "strategy BoundsChecks",
    },
];
