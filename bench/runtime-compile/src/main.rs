//! Compile-throughput benchmark: how fast hypha-wasm turns the largest
//! sightglass core modules into loaded machine code, side by side with
//! Wasmtime 48 (which uses the same Cranelift 0.135).
//!
//! Both engines run `Module::new` (validate, translate, Cranelift at
//! `opt_level=speed`, link, publish executable code) for the host target.
//! Two configurations are measured, each fair to both engines: parallel
//! compilation on in both (all cores), and off in both (one thread).
//! Each measurement is the best of several runs. It is not a test: it
//! prints a table and writes `target/bench/runtime-compile.json`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How many of the largest modules to compile.
const MODULES: usize = 8;
/// Runs per (module, engine, configuration); the fastest counts.
const RUNS: usize = 3;

struct Input {
    name: String,
    bytes: Vec<u8>,
    funcs: u64,
}

/// Number of function bodies (the "functions" in functions/s).
fn count_funcs(bytes: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            wasmparser::Payload::CodeSectionStart { count, .. } => n += u64::from(count),
            wasmparser::Payload::Version { encoding: wasmparser::Encoding::Component, .. } => return None,
            _ => {}
        }
    }
    Some(n)
}

fn find_wasm(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            find_wasm(&p, out);
        } else if p.extension().is_some_and(|x| x == "wasm") {
            out.push(p);
        }
    }
}

fn best(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed());
    }
    Ok(best)
}

fn hypha_engine(parallel: bool) -> Result<hypha_wasm::Engine, String> {
    let config = hypha_wasm::Config { parallel_compilation: parallel, optimize: true, ..hypha_wasm::Config::default() };
    hypha_wasm::Engine::host(config).map_err(|e| e.to_string())
}

fn wasmtime_engine(parallel: bool) -> Result<wasmtime::Engine, String> {
    let mut config = wasmtime::Config::new();
    config.strategy(wasmtime::Strategy::Cranelift);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    config.parallel_compilation(parallel);
    wasmtime::Engine::new(&config).map_err(|e| e.to_string())
}

struct Row {
    name: String,
    unit: &'static str,
    value: f64,
    peer_value: f64,
}

fn main() -> Result<(), String> {
    let root = std::env::var_os("SIGHTGLASS_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/sightglass"), PathBuf::from);
    let mut paths = Vec::new();
    find_wasm(&root, &mut paths);
    let hypha = [hypha_engine(true)?, hypha_engine(false)?];
    let peer = [wasmtime_engine(true)?, wasmtime_engine(false)?];
    // Largest core modules first; components and modules either engine
    // rejects (e.g. wasi-nn, GC) are left out and named.
    let mut inputs = Vec::new();
    let mut sized: Vec<(u64, PathBuf)> = paths.into_iter().filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p))).collect();
    sized.sort_by_key(|(len, _)| std::cmp::Reverse(*len));
    for (_, path) in sized {
        if inputs.len() == MODULES {
            break;
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let Some(funcs) = count_funcs(&bytes) else { continue };
        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
        if let Err(e) = hypha_wasm::Module::new(&hypha[1], &bytes) {
            println!("skipped {name}: hypha-wasm: {e}");
            continue;
        }
        if let Err(e) = wasmtime::Module::new(&peer[1], &bytes) {
            println!("skipped {name}: wasmtime: {e}");
            continue;
        }
        inputs.push(Input { name, bytes, funcs });
    }
    if inputs.is_empty() {
        return Err(format!("no core modules found under {}", root.display()));
    }

    let mut rows = Vec::new();
    let mut table = String::new();
    let _ = writeln!(table, "{:<40} {:>9} {:>8} {:>11} {:>11} {:>9} {:>9} {:>6}", "module (config)", "KiB", "funcs", "hypha MB/s", "wt MB/s", "hypha f/s", "wt f/s", "ratio");
    let mut totals = [(0.0f64, 0.0f64, 0.0f64, 0u64); 2];
    for input in &inputs {
        for (ci, label) in ["parallel", "1 thread"].iter().enumerate() {
            let ours = best(RUNS, || hypha_wasm::Module::new(&hypha[ci], &input.bytes).map(drop).map_err(|e| e.to_string()))?;
            let theirs = best(RUNS, || wasmtime::Module::new(&peer[ci], &input.bytes).map(drop).map_err(|e| e.to_string()))?;
            let mb = input.bytes.len() as f64 / 1e6;
            let (o, t) = (ours.as_secs_f64(), theirs.as_secs_f64());
            #[expect(clippy::cast_precision_loss, reason = "function counts are far below 2^52")]
            let funcs = input.funcs as f64;
            let _ = writeln!(
                table,
                "{:<40} {:>9} {:>8} {:>11.2} {:>11.2} {:>9.0} {:>9.0} {:>6.2}",
                format!("{} ({label})", input.name),
                input.bytes.len() / 1024,
                input.funcs,
                mb / o,
                mb / t,
                funcs / o,
                funcs / t,
                o / t
            );
            totals[ci].0 += o;
            totals[ci].1 += t;
            totals[ci].2 += mb;
            totals[ci].3 += input.funcs;
            rows.push(Row { name: format!("compile/{}/{label}", input.name), unit: "ms", value: o * 1e3, peer_value: t * 1e3 });
        }
    }
    for (ci, label) in ["parallel", "1 thread"].iter().enumerate() {
        let (o, t, mb, funcs) = totals[ci];
        #[expect(clippy::cast_precision_loss, reason = "function counts are far below 2^52")]
        let funcs = funcs as f64;
        let _ = writeln!(
            table,
            "{:<40} {:>9} {:>8} {:>11.2} {:>11.2} {:>9.0} {:>9.0} {:>6.2}",
            format!("TOTAL ({label})"),
            "",
            funcs,
            mb / o,
            mb / t,
            funcs / o,
            funcs / t,
            o / t
        );
        // Throughputs are "higher is better"; the JSON keeps the contract
        // "value/peer_value, lower is better" by recording seconds per MB
        // and per 1000 functions.
        rows.push(Row { name: format!("compile/total/{label}/time-per-MB"), unit: "ms/MB", value: o * 1e3 / mb, peer_value: t * 1e3 / mb });
        rows.push(Row {
            name: format!("compile/total/{label}/time-per-kfunc"),
            unit: "ms/1000 funcs",
            value: o * 1e6 / funcs,
            peer_value: t * 1e6 / funcs,
        });
    }
    print!("{table}");
    println!("ratio = hypha time / wasmtime time (lower is better); both engines opt_level=speed, host target, best of {RUNS}");

    let mut json = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let sep = if i + 1 == rows.len() { "" } else { "," };
        let _ = writeln!(
            json,
            "  {{\"name\": \"{}\", \"unit\": \"{}\", \"value\": {:.4}, \"peer\": \"wasmtime-48\", \"peer_value\": {:.4}, \"ratio\": {:.4}}}{sep}",
            r.name.replace('\\', "/").replace('"', "'"),
            r.unit,
            r.value,
            r.peer_value,
            r.value / r.peer_value
        );
    }
    json.push_str("]\n");
    // `target/bench/` of the workspace, whatever CARGO_TARGET_DIR says
    // (that is where `cargo xtask bench` reports it).
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let out = out_dir.join("runtime-compile.json");
    std::fs::write(&out, json).map_err(|e| e.to_string())?;
    println!("wrote {}", out.display());
    Ok(())
}
