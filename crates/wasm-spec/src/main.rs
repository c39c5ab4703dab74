//! The WebAssembly spec-test runner for `hypha-wasm` on the host.
//!
//! Runs every `.wast` file of `core-wasm2/` plus the selected Wasm 3.0
//! files of `core/` (see `suites.toml`) from the shared test suite, each
//! file a named case, and prints one summary line per suite and a final
//! total. Files listed in `skip.toml` are counted as skipped.
//!
//! Usage: `hypha-wasm-spec [--strategy guard|bounds] [--preempt] [--compile-only riscv64] [-v] [FILTER]`
//!
//! `--preempt` compiles with epoch interruption and fuel metering on (and
//! gives every store ample fuel), to check that the instrumentation leaves
//! every result unchanged.
//!
//! Not here: the runtime itself (`hypha-wasm`), the in-kernel run of the
//! same suite (the kernel's test harness).

mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use hypha_wasm::{Config, Engine, MemoryStrategy};

use hypha_wasm_script::suites::{core3_files, skip_list, suite_root};
use run::{FileResult, Mode, count, run_file};

struct Args {
    strategy: MemoryStrategy,
    compile_only: Option<String>,
    preempt: bool,
    verbose: bool,
    filter: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { strategy: MemoryStrategy::GuardPages, compile_only: None, preempt: false, verbose: false, filter: None };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--strategy" => {
                args.strategy = match it.next().as_deref() {
                    Some("guard") => MemoryStrategy::GuardPages,
                    Some("bounds") => MemoryStrategy::BoundsChecks,
                    other => return Err(format!("unknown strategy {other:?} (guard|bounds)")),
                }
            }
            "--compile-only" => args.compile_only = Some(it.next().ok_or("--compile-only needs a target")?),
            "--preempt" => args.preempt = true,
            "-v" | "--verbose" => args.verbose = true,
            f if !f.starts_with('-') => args.filter = Some(f.to_string()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

struct Case {
    suite: &'static str,
    name: String,
    path: PathBuf,
    skip: Option<String>,
}

fn cases(root: &Path, filter: Option<&str>) -> Vec<Case> {
    let skips = skip_list();
    let mut out = Vec::new();
    let mut wasm2: Vec<String> = std::fs::read_dir(root.join("core-wasm2"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|n| n.ends_with(".wast"))
                .collect()
        })
        .unwrap_or_default();
    wasm2.sort();
    let lists: [(&'static str, &str, Vec<String>); 2] =
        [("core-wasm2", "core-wasm2", wasm2), ("core-3.0", "core", core3_files())];
    for (suite, dir, files) in lists {
        for f in files {
            let name = format!("{dir}/{f}");
            if filter.is_some_and(|flt| !name.contains(flt)) {
                continue;
            }
            let skip = skips.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            out.push(Case { suite, path: root.join(dir).join(&f), name, skip });
        }
    }
    out
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let root = suite_root();
    let mut config = Config { memory_strategy: args.strategy, parallel_compilation: false, max_wasm_stack: 2 << 20, ..Config::default() };
    config.epoch_interruption = args.preempt;
    config.consume_fuel = args.preempt;
    let (mode, label) = match &args.compile_only {
        Some(target) => {
            let triple = match target.as_str() {
                "riscv64" => "riscv64gc-unknown-none-elf",
                other => other,
            };
            config.target = match triple.parse() {
                Ok(t) => Some(t),
                Err(e) => {
                    eprintln!("error: target {target}: {e}");
                    return ExitCode::from(2);
                }
            };
            match Engine::host(config) {
                Ok(e) => (Mode::CompileOnly(e), format!("compile-only/{target}")),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => match Engine::host(config) {
            Ok(e) => (Mode::Execute(e), format!("host/{}", std::env::consts::ARCH)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // core-wasm2 runs with exactly the Wasm 2.0 feature set, so its
    // 2.0-only rejections (e.g. "zero byte expected") are checked too.
    let wasm2_features = hypha_wasm::Features { tail_call: false, extended_const: false, multi_memory: false, function_references: false, ..hypha_wasm::Features::default() };
    let mode2 = match &mode {
        Mode::Execute(e) | Mode::CompileOnly(e) => {
            let cfg = Config { features: wasm2_features, ..e.config().clone() };
            match Engine::host(cfg) {
                Ok(e2) => if matches!(mode, Mode::Execute(_)) { Mode::Execute(e2) } else { Mode::CompileOnly(e2) },
                Err(err) => {
                    eprintln!("error: {err}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let mut cases = cases(&root, args.filter.as_deref());
    if args.compile_only.is_some() {
        cases.retain(|c| c.suite == "core-wasm2");
    }
    if cases.is_empty() {
        if let Some(filter) = &args.filter {
            // Like libtest: a filter that selects nothing is not a failure.
            println!("spec: no spec file matches `{filter}`");
            println!("spec: 0 passed, 0 failed, 0 skipped");
            return ExitCode::SUCCESS;
        }
        eprintln!("error: no spec files found under {}", root.display());
        return ExitCode::from(2);
    }
    let results: Vec<Mutex<Option<FileResult>>> = cases.iter().map(|_| Mutex::new(None)).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let builder = std::thread::Builder::new().stack_size(64 << 20);
            let spawned = builder.spawn_scoped(s, || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let src = std::fs::read_to_string(&case.path).unwrap_or_default();
                    let r = if case.skip.is_some() {
                        FileResult { passed: 0, total: count(&src), failures: Vec::new() }
                    } else {
                        run_file(if case.suite == "core-wasm2" { &mode2 } else { &mode }, case.suite, &case.name, &src)
                    };
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
            if let Err(e) = spawned {
                eprintln!("error: spawning worker: {e}");
            }
        }
    });
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    for suite in ["core-wasm2", "core-3.0"] {
        let (mut p, mut t, mut clean, mut files) = (0, 0, 0, 0);
        for (case, slot) in cases.iter().zip(&results) {
            if case.suite != suite {
                continue;
            }
            let r = slot.lock().ok().and_then(|mut s| s.take()).unwrap_or_default();
            if let Some(reason) = &case.skip {
                skipped += r.total;
                if args.verbose {
                    eprintln!("skip {}: {reason}", case.name);
                }
                continue;
            }
            files += 1;
            p += r.passed;
            t += r.total;
            if r.failures.is_empty() {
                clean += 1;
            } else {
                eprintln!("FAIL {} ({}/{} passed)", case.name, r.passed, r.total);
                let shown = if args.verbose { r.failures.len() } else { 5 };
                for f in r.failures.iter().take(shown) {
                    eprintln!("    {}:{f}", case.name);
                }
            }
        }
        if files == 0 {
            continue;
        }
        passed += p;
        failed += t - p;
        let unit = if args.compile_only.is_some() { "modules compiled" } else { "commands passed" };
        println!("spec[{label}] {suite}: {p}/{t} {unit} ({clean} files clean of {files})");
    }
    println!("spec: {passed} passed, {failed} failed, {skipped} skipped");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
