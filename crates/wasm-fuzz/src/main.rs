//! `cargo run --release -p hypha-wasm-fuzz -- --minutes N [--seed S]`:
//! fuzz hypha-wasm until the time is up.
//!
//! The supervisor runs workers (this binary with `--worker`) one after
//! another. A worker alternates the two targets on random inputs; before
//! each case it writes the input to `crashes/.current-<target>` so that an
//! input that kills the process (abort, signal) is not lost: the
//! supervisor moves it to `crashes/<target>-<hash>.bin` and restarts the
//! worker with a new seed. Panics are caught in the worker and saved the
//! same way. Statistics go to stdout.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hypha_wasm_fuzz::{Harness, Outcome, Rng, Target, generate};

fn crash_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crashes")
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn save_crash(target: Target, data: &[u8]) -> PathBuf {
    let path = crash_dir().join(format!("{}-{:016x}.bin", target.name(), fnv(data)));
    if let Err(e) = std::fs::write(&path, data) {
        eprintln!("cannot save crash {}: {e}", path.display());
    }
    path
}

fn current_file(target: Target) -> PathBuf {
    crash_dir().join(format!(".current-{}", target.name()))
}

struct Args {
    minutes: f64,
    seed: u64,
    worker: bool,
    deadline_secs: f64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { minutes: 1.0, seed: 0, worker: false, deadline_secs: 0.0 };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--minutes" => args.minutes = value("--minutes")?.parse().map_err(|e| format!("--minutes: {e}"))?,
            "--seed" => args.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--worker" => args.worker = true,
            "--deadline-secs" => {
                args.deadline_secs = value("--deadline-secs")?.parse().map_err(|e| format!("--deadline-secs: {e}"))?;
            }
            "-h" | "--help" => return Err("usage: hypha-wasm-fuzz [--minutes N] [--seed S]".into()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

/// Worker: run cases until the deadline; exit 0 at the deadline.
fn worker(seed: u64, deadline: Duration) -> ExitCode {
    let harness = match Harness::new() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("engine: {e}");
            return ExitCode::from(2);
        }
    };
    // Panics are reported through the saved files; keep stderr readable.
    std::panic::set_hook(Box::new(|info| eprintln!("PANIC: {info}")));
    let start = Instant::now();
    let mut rng = Rng::new(seed);
    let mut cases = 0u64;
    let mut panics = 0u64;
    let mut total = Outcome::default();
    while start.elapsed() < deadline {
        let target = if cases.is_multiple_of(2) { Target::Smith } else { Target::Bytes };
        let input = generate(target, &mut rng);
        let _ = std::fs::write(current_file(target), &input);
        match std::panic::catch_unwind(AssertUnwindSafe(|| harness.run(target, &input))) {
            Ok(o) => total.add(o),
            Err(_) => {
                panics += 1;
                let path = save_crash(target, &input);
                println!("panic: saved {}", path.display());
            }
        }
        cases += 1;
    }
    println!(
        "worker seed {seed}: {cases} cases, {} compiled, {} instantiated, {} calls ({} trapped), {panics} panics",
        total.compiled, total.instantiated, total.calls, total.traps
    );
    ExitCode::SUCCESS
}

fn supervise(minutes: f64, mut seed: u64) -> ExitCode {
    if seed == 0 {
        seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs());
    }
    if let Err(e) = std::fs::create_dir_all(crash_dir()) {
        eprintln!("{}: {e}", crash_dir().display());
        return ExitCode::from(2);
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("current_exe: {e}");
            return ExitCode::from(2);
        }
    };
    let total = Duration::from_secs_f64(minutes * 60.0);
    let start = Instant::now();
    let mut crashes = 0u32;
    // Workers run at most 5 minutes each so progress is reported.
    while start.elapsed() < total {
        let left = (total - start.elapsed()).min(Duration::from_secs(300));
        println!("[{:>6.1} min] worker seed {seed}", start.elapsed().as_secs_f64() / 60.0);
        let status = Command::new(&exe)
            .args(["--worker", "--seed", &seed.to_string(), "--deadline-secs", &left.as_secs_f64().to_string()])
            .status();
        match status {
            Ok(s) if s.success() => {}
            other => {
                crashes += 1;
                println!("worker seed {seed} died ({other:?})");
                for target in [Target::Smith, Target::Bytes] {
                    recover(target);
                }
            }
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    }
    println!("fuzzed {minutes} min, {crashes} worker crashes; inputs in {}", crash_dir().display());
    if crashes == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Move the in-flight input of a dead worker to a crash file. Both
/// targets' files exist; the newer one was running.
fn recover(target: Target) {
    let cur = current_file(target);
    let other = current_file(if target == Target::Smith { Target::Bytes } else { Target::Smith });
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&cur) >= modified(&other)
        && let Ok(data) = std::fs::read(&cur)
    {
        println!("crash input saved to {}", save_crash(target, &data).display());
    }
}

/// `--to-wasm SEED OUT`: write the module the smith target makes of a
/// saved input (for regression tests, which do not depend on wasm-smith).
fn to_wasm(seed: &str, out: &str) -> ExitCode {
    let Ok(data) = std::fs::read(seed) else {
        eprintln!("cannot read {seed}");
        return ExitCode::from(2);
    };
    let Some(wasm) = hypha_wasm_fuzz::smith_module(&data) else {
        eprintln!("{seed}: wasm-smith made no module");
        return ExitCode::from(2);
    };
    match std::fs::write(out, wasm) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{out}: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() == 4 && argv[1] == "--to-wasm" {
        return to_wasm(&argv[2], &argv[3]);
    }
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.worker {
        worker(args.seed, Duration::from_secs_f64(args.deadline_secs))
    } else {
        supervise(args.minutes, args.seed)
    }
}
