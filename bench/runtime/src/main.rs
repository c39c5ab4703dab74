//! `cargo xtask bench runtime` (= `cargo run --release -p hypha-bench-runtime -- [FILTER] [--iters N] [--no-micro]`):
//! hypha-wasm side by side with Wasmtime 48 in one process.
//!
//! - Every sightglass program in `shared/bench/sightglass/` that is a core
//!   module (components and programs needing GC or wasi-nn are listed as
//!   skipped), on both runtimes with the same WASI (`hypha-wasi`): compile,
//!   instantiate and execute (between `bench.start` and `bench.end`) timed
//!   separately; the two runtimes' runs alternate, at least `--iters` runs
//!   each and more for programs with a short window (see `measure_pair`);
//!   medians, output checked against the `*.expected` files; geometric
//!   means of the ratios.
//! - wasm→host and host→wasm calls, instantiation of an empty module, of a
//!   module with a memory and data segments, and of the largest program.
//! - Epoch-check overhead on a loop-heavy program (time with epoch
//!   interruption on / off, ours against Wasmtime's).
//!
//! Prints a table and writes `target/bench/runtime.json`. Exits non-zero
//! if a program fails or prints the wrong output on either runtime.
//!
//! Not a test: nothing here runs under `cargo test`.

mod host;
mod micro;
mod ours;
mod peer;
mod report;
mod sightglass;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use host::{Host, RunStats};
use report::{Row, geomean, median};
use sightglass::Program;

const PEER: &str = "wasmtime-48";

/// The loop-heavy program the epoch overhead is measured on.
const EPOCH_PROGRAM: &str = "shootout-sieve";

struct Args {
    filter: String,
    iters: usize,
    micro: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { filter: String::new(), iters: 3, micro: true };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--iters" => {
                let v = it.next().ok_or("--iters needs a value")?;
                a.iters = v.parse().ok().filter(|n| *n > 0).ok_or_else(|| format!("bad --iters `{v}`"))?;
            }
            "--no-micro" => a.micro = false,
            s if s.starts_with('-') => return Err(format!("unknown option `{s}`")),
            s => a.filter = s.to_owned(),
        }
    }
    Ok(a)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A window in ms, with enough decimals for sub-microsecond ones.
fn fmt_ms(v: f64) -> String {
    if v < 0.01 { format!("{v:9.6}") } else { format!("{v:9.2}") }
}

fn sightglass_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/sightglass")
}

/// Medians of the three phases on one runtime.
struct Phases {
    compile: f64,
    instantiate: f64,
    /// Thread CPU time of the window (the figure compared).
    execute: f64,
    /// Wall-clock time of the window (reported alongside).
    execute_wall: f64,
    /// How many runs the medians are over.
    runs: usize,
}

/// Compile a module, timed.
type CompileFn<'a, M> = &'a dyn Fn(&[u8]) -> Result<(M, Duration), String>;
/// Instantiate and run a module with the given store data.
type RunFn<'a, M> = &'a dyn Fn(&M, Host) -> Result<RunStats, String>;

/// One runtime under measurement: how it compiles and how it runs a module.
struct Side<'a, M> {
    compile: CompileFn<'a, M>,
    run: RunFn<'a, M>,
}

/// Keep repeating short programs until the measured windows of both
/// runtimes add up to this much...
const MIN_WINDOW_TOTAL_MS: f64 = 200.0;
/// ...or this many runs per runtime...
const MAX_RUNS: usize = 500;
/// ...or this much wall-clock time per program has passed.
const REPEAT_BUDGET: Duration = Duration::from_secs(2);

/// Samples of one runtime for one program (ms).
#[derive(Default)]
struct Samples {
    compile: Vec<f64>,
    instantiate: Vec<f64>,
    cpu: Vec<f64>,
    wall: Vec<f64>,
}

impl Samples {
    fn compile_n<M>(&mut self, bytes: &[u8], iters: usize, side: &Side<'_, M>) -> Result<M, String> {
        let mut module = None;
        for _ in 0..iters {
            let (m, t) = (side.compile)(bytes)?;
            self.compile.push(ms(t));
            module = Some(m);
        }
        module.ok_or_else(|| "no iterations".to_owned())
    }

    fn run_once<M>(&mut self, p: &Program, module: &M, side: &Side<'_, M>) -> Result<(), String> {
        let dir = p.wasm.parent().ok_or("no directory")?;
        let argv0 = p.wasm.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (h, cap) = Host::sightglass(dir, &argv0)?;
        let stats = (side.run)(module, h)?;
        sightglass::check_output(&p.wasm, &cap.stdout.contents(), &cap.stderr.contents())?;
        self.instantiate.push(ms(stats.instantiate));
        self.cpu.push(ms(stats.execute.cpu));
        self.wall.push(ms(stats.execute.wall));
        Ok(())
    }

    fn phases(self, outcome: Result<(), String>) -> Result<Phases, String> {
        outcome?;
        let runs = self.cpu.len();
        Ok(Phases {
            compile: median(self.compile),
            instantiate: median(self.instantiate),
            execute: median(self.cpu),
            execute_wall: median(self.wall),
            runs,
        })
    }
}

/// Compile `iters` times on each runtime, then run the two alternately
/// (a, b, a, b, ...) so that both see the same machine load, checking the
/// output of every run. Runs at least `iters` times each; a program whose
/// window is short is repeated (see [`MIN_WINDOW_TOTAL_MS`]) so that its
/// median is not decided by a few disturbed runs. Both runtimes' windows
/// are read from the same clocks in the same hooks; nothing is subtracted.
fn measure_pair<A, B>(p: &Program, iters: usize, a: &Side<'_, A>, b: &Side<'_, B>) -> (Result<Phases, String>, Result<Phases, String>) {
    let (mut sa, mut sb) = (Samples::default(), Samples::default());
    let ma = sa.compile_n(&p.bytes, iters, a);
    let mb = sb.compile_n(&p.bytes, iters, b);
    let mut ra = ma.as_ref().map(|_| ()).map_err(Clone::clone);
    let mut rb = mb.as_ref().map(|_| ()).map_err(Clone::clone);
    let started = std::time::Instant::now();
    for n in 0.. {
        let short = sa.cpu.iter().chain(&sb.cpu).sum::<f64>() < MIN_WINDOW_TOTAL_MS && started.elapsed() < REPEAT_BUDGET;
        if n >= iters && !(short && n < MAX_RUNS) {
            break;
        }
        if let (Ok(m), Ok(())) = (&ma, &ra) {
            ra = sa.run_once(p, m, a);
        }
        if let (Ok(m), Ok(())) = (&mb, &rb) {
            rb = sb.run_once(p, m, b);
        }
        if ra.is_err() && rb.is_err() {
            break;
        }
    }
    (sa.phases(ra), sb.phases(rb))
}

fn row(name: String, unit: &'static str, value: f64, peer_value: f64) -> Row {
    Row { name, unit, value, peer: PEER, peer_value }
}

fn epoch_row(programs: &[Program], iters: usize) -> Result<Option<Row>, String> {
    let Some(p) = programs.iter().find(|p| p.name == EPOCH_PROGRAM) else { return Ok(None) };
    let (ours_off, ours_on) = (ours::Ours::new(false)?, ours::Ours::new(true)?);
    let (peer_off, peer_on) = (peer::Peer::new(false)?, peer::Peer::new(true)?);
    let (o_off, w_off) = measure_pair(
        p,
        iters,
        &Side { compile: &|b| ours_off.compile(b), run: &|m, h| ours_off.run(m, h) },
        &Side { compile: &|b| peer_off.compile(b), run: &|m, h| peer_off.run(m, h) },
    );
    let (o_on, w_on) = measure_pair(
        p,
        iters,
        &Side { compile: &|b| ours_on.compile(b), run: &|m, h| ours_on.run(m, h) },
        &Side { compile: &|b| peer_on.compile(b), run: &|m, h| peer_on.run(m, h) },
    );
    let (o_off, w_off, o_on, w_on) = (o_off?.execute, w_off?.execute, o_on?.execute, w_on?.execute);
    println!("epochs on {EPOCH_PROGRAM}: hypha {o_off:.2} -> {o_on:.2} ms, wasmtime {w_off:.2} -> {w_on:.2} ms");
    Ok(Some(row(format!("epoch overhead ({EPOCH_PROGRAM}, on/off)"), "x", o_on / o_off, w_on / w_off)))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("hypha-bench-runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("hypha-bench-runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<bool, String> {
    let dir = sightglass_dir();
    let (programs, skipped) = sightglass::discover(&dir, &args.filter).map_err(|e| format!("{}: {e}", dir.display()))?;
    for s in &skipped {
        println!("skip {}: {}", s.name, s.reason);
    }
    let ours = ours::Ours::new(false)?;
    let peer = peer::Peer::new(false)?;
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let (mut exec_ratios, mut compile_rows, mut inst_rows, mut exec_rows) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut wall_rows = Vec::new();
    for p in &programs {
        let (o, w) = measure_pair(
            p,
            args.iters,
            &Side { compile: &|b| ours.compile(b), run: &|m, h| ours.run(m, h) },
            &Side { compile: &|b| peer.compile(b), run: &|m, h| peer.run(m, h) },
        );
        match (o, w) {
            (Ok(o), Ok(w)) => {
                println!(
                    "{:24} exec {} / {} ms ({:.3}; wall {:.3}; {} runs)  compile {:8.1} / {:8.1} ms  inst {:.3} / {:.3} ms",
                    p.name,
                    fmt_ms(o.execute),
                    fmt_ms(w.execute),
                    o.execute / w.execute,
                    o.execute_wall / w.execute_wall,
                    o.runs.min(w.runs),
                    o.compile,
                    w.compile,
                    o.instantiate,
                    w.instantiate
                );
                exec_ratios.push(o.execute / w.execute);
                exec_rows.push(row(format!("exec {}", p.name), "ms", o.execute, w.execute));
                wall_rows.push(row(format!("exec-wall {}", p.name), "ms", o.execute_wall, w.execute_wall));
                compile_rows.push(row(format!("compile {}", p.name), "ms", o.compile, w.compile));
                inst_rows.push(row(format!("instantiate {}", p.name), "ms", o.instantiate, w.instantiate));
            }
            (o, w) => {
                let why = [("hypha", o.err()), ("wasmtime", w.err())]
                    .into_iter()
                    .filter_map(|(who, e)| e.map(|e| format!("{who}: {e}")))
                    .collect::<Vec<_>>()
                    .join("; ");
                println!("FAIL {}: {why}", p.name);
                failures.push(p.name.clone());
            }
        }
    }
    for (label, group) in [("exec", &exec_rows), ("exec-wall", &wall_rows), ("compile", &compile_rows), ("instantiate", &inst_rows)] {
        if !group.is_empty() {
            let ours_g = geomean(&group.iter().map(|r| r.value).collect::<Vec<_>>());
            let peer_g = geomean(&group.iter().map(|r| r.peer_value).collect::<Vec<_>>());
            // Per-program wall-clock figures are in the progress lines only.
            if label != "exec-wall" {
                rows.extend(group.iter().cloned());
            }
            rows.push(row(format!("{label} geomean ({} programs)", group.len()), "ms", ours_g, peer_g));
        }
    }
    // Programs whose measured window is below 1 ms (noop, nestedloop after
    // LLVM folds its loops) mostly time the two bench hook calls.
    let long: Vec<&Row> = exec_rows.iter().filter(|r| r.peer_value >= 1.0).collect();
    if !long.is_empty() && long.len() < exec_rows.len() {
        let ours_g = geomean(&long.iter().map(|r| r.value).collect::<Vec<_>>());
        let peer_g = geomean(&long.iter().map(|r| r.peer_value).collect::<Vec<_>>());
        rows.push(row(format!("exec geomean ({} programs >= 1 ms)", long.len()), "ms", ours_g, peer_g));
    }
    if args.micro {
        let largest = programs.iter().max_by_key(|p| p.bytes.len()).map(|p| (p.name.as_str(), p.bytes.as_slice()));
        rows.extend(micro::rows(largest)?);
        if let Some(r) = epoch_row(&programs, args.iters)? {
            rows.push(r);
        }
    }
    println!();
    report::print_table(&rows);
    let json = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/runtime.json");
    report::write_json(&json, &rows).map_err(|e| format!("{}: {e}", json.display()))?;
    println!();
    if !exec_ratios.is_empty() {
        let worst = exec_rows.iter().max_by(|a, b| a.ratio().total_cmp(&b.ratio())).map(|r| (r.name.clone(), r.ratio()));
        println!("execution ratio geomean {:.3} (target <= 1.00)", geomean(&exec_ratios));
        if let Some((name, r)) = worst {
            println!("worst execution ratio {r:.3} ({name}) (target <= 1.10)");
        }
    }
    println!("programs: {} run, {} skipped, {} failed{}", exec_rows.len(), skipped.len(), failures.len(), if failures.is_empty() { String::new() } else { format!(" ({})", failures.join(", ")) });
    println!("wrote {}", json.display());
    Ok(failures.is_empty())
}
