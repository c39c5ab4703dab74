//! The WebAssembly spec suite in the kernel: booted with `wasm.spec` in
//! the bootargs (test builds only), the kernel reads the script xtask
//! converted from the `.wast` files (fw_cfg file `opt/hypha/wasm-spec`),
//! runs every file with `hypha-wasm-script`'s runner (the assertions the
//! host applies), prints one line per suite
//! (`spec[kernel/riscv64] SUITE: P/T commands passed (C files clean of F)`)
//! and a closing `spec: P passed, F failed, 0 skipped`, and exits QEMU
//! with success only if every command passed.
//!
//! `wasm.strategy=bounds` forces explicit bounds checks (default: the
//! machine's [`default_strategy`](super::default_strategy)).

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use hypha_boot_info::bootargs;
use hypha_wasm::{Config, Engine, MemoryStrategy};
use hypha_wasm_script::{FileResult, Script, run_file, suite_features};

/// The fw_cfg file xtask passes the script in.
const SCRIPT_FILE: &str = "opt/hypha/wasm-spec";
/// Failures shown per file.
const SHOWN_FAILURES: usize = 5;

/// Runs the suite and exits QEMU (0 when everything passed).
pub fn run(bootargs_text: &str) -> ! {
    let strategy = match bootargs::value(bootargs_text, "wasm.strategy") {
        Some("bounds") => MemoryStrategy::BoundsChecks,
        Some("guard") => MemoryStrategy::GuardPages,
        _ => super::default_strategy(),
    };
    let code = match on_stack(strategy) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(error) => {
            crate::println!("spec: cannot run: {error}");
            2
        }
    };
    crate::drivers::sifive_test::exit(code)
}

fn on_stack(strategy: MemoryStrategy) -> Result<bool, String> {
    let started = crate::time::now_ticks();
    let device = crate::drivers::fw_cfg::FwCfg::find().ok_or("no fw_cfg device")?;
    let bytes = device.read_file(SCRIPT_FILE).map_err(|e| alloc::format!("{SCRIPT_FILE}: {e}"))?;
    let script = Script::decode(&bytes).map_err(|e| alloc::format!("{SCRIPT_FILE}: {e}"))?;
    drop(bytes);
    crate::println!(
        "spec: {} files loaded in {} ms, strategy {strategy:?}",
        script.files.len(),
        crate::time::ticks_to_us(crate::time::now_ticks() - started) / 1000
    );
    let all_ok = super::on_big_stack(8 << 20, || run_script(&script, strategy)).map_err(|e| alloc::format!("{e}"))??;
    crate::println!("spec: finished in {} ms", crate::time::ticks_to_us(crate::time::now_ticks() - started) / 1000);
    Ok(all_ok)
}

fn engine_for(suite: &str, strategy: MemoryStrategy) -> Result<Engine, String> {
    // The host runner's configuration (crates/wasm-spec), compiled for
    // this machine.
    let config = Config {
        features: suite_features(suite),
        memory_strategy: strategy,
        parallel_compilation: false,
        max_wasm_stack: 2 << 20,
        epoch_interruption: true,
        consume_fuel: true,
        target: "riscv64gc-unknown-none-elf".parse().ok(),
        ..Config::default()
    };
    Engine::new(config, alloc::sync::Arc::new(super::KernelPlatform::new())).map_err(|e| alloc::format!("engine: {e}"))
}

fn run_script(script: &Script, strategy: MemoryStrategy) -> Result<bool, String> {
    let mut suites: Vec<(String, Engine, usize, usize, usize, usize)> = Vec::new();
    for file in &script.files {
        let index = match suites.iter().position(|s| s.0 == file.suite) {
            Some(index) => index,
            None => {
                suites.push((file.suite.clone(), engine_for(&file.suite, strategy)?, 0, 0, 0, 0));
                suites.len() - 1
            }
        };
        let file_started = crate::time::now_ticks();
        let result: FileResult = run_file(&suites[index].1, file);
        let ms = crate::time::ticks_to_us(crate::time::now_ticks() - file_started) / 1000;
        let entry = &mut suites[index];
        entry.2 += result.passed;
        entry.3 += result.total;
        entry.5 += 1;
        if result.failures.is_empty() {
            entry.4 += 1;
            log::debug!("spec: {} {}/{} in {ms} ms", file.name, result.passed, result.total);
        } else {
            crate::println!("FAIL {} ({}/{} passed, {ms} ms)", file.name, result.passed, result.total);
            for failure in result.failures.iter().take(SHOWN_FAILURES) {
                crate::println!("    {}:{failure}", file.name);
            }
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for (suite, _, p, t, clean, files) in &suites {
        crate::println!("spec[kernel/riscv64] {suite}: {p}/{t} commands passed ({clean} files clean of {files})");
        passed += p;
        failed += t - p;
    }
    crate::println!("spec: {passed} passed, {failed} failed, 0 skipped");
    Ok(failed == 0)
}
