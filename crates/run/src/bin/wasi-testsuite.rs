//! `wasi-testsuite [FILTER]`: run the wasi-testsuite Rust preview 1 tests
//! (prebuilt, read in place from `shared/wasi-testsuite/rust/wasm32-wasip1`)
//! on the host with Hypha's runtime and WASI. `HYPHA_WASI_TESTSUITE`
//! overrides the suite directory.
//!
//! Prints one line per test, then `wasi-testsuite[host] rust: P/T passed`,
//! and last `wasi: P passed, F failed`. Exits non-zero if any test failed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hypha_run::runner;
use hypha_run::testsuite::{self, TestCase, Verdict};

/// A test that runs longer than this is reported as failed.
const TIMEOUT: Duration = Duration::from_secs(120);

fn suite_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HYPHA_WASI_TESTSUITE") {
        return PathBuf::from(d);
    }
    // crates/run -> workspace root -> ../shared
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.join("../shared/wasi-testsuite/rust/wasm32-wasip1")
}

/// Run `case` on its own thread (big stack) so a hung test can time out.
fn run_with_timeout(case: &TestCase) -> Verdict {
    let (tx, rx) = mpsc::channel();
    let case2 = case.clone();
    let spawned = std::thread::Builder::new().name(case.name.clone()).stack_size(32 << 20).spawn(move || {
        let verdict = match runner::engine(false) {
            Ok(engine) => testsuite::run_case(&engine, &case2),
            Err(e) => Verdict::Fail(format!("engine: {e}")),
        };
        // The receiver may have timed out and gone; nothing to do then.
        let _ = tx.send(verdict);
    });
    if let Err(e) = spawned {
        return Verdict::Fail(format!("cannot spawn test thread: {e}"));
    }
    rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| Verdict::Fail(format!("timed out after {}s", TIMEOUT.as_secs())))
}

fn main() -> ExitCode {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let dir = suite_dir();
    let cases = match testsuite::discover(&dir, &filter) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wasi-testsuite: {e}");
            println!("wasi: 0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut failures = Vec::new();
    for case in &cases {
        let start = Instant::now();
        let verdict = run_with_timeout(case);
        let ms = start.elapsed().as_millis();
        match verdict {
            Verdict::Pass => {
                passed += 1;
                println!("PASS {} ({ms} ms)", case.name);
            }
            Verdict::Fail(why) => {
                failed += 1;
                println!("FAIL {} ({ms} ms): {why}", case.name);
                failures.push(case.name.clone());
            }
        }
    }
    println!("wasi-testsuite[host] rust: {passed}/{} passed", cases.len());
    if !failures.is_empty() {
        println!("failed: {}", failures.join(", "));
    }
    println!("wasi: {passed} passed, {failed} failed");
    // No test at all is a missing suite, unless a filter chose none.
    if failed == 0 && (!cases.is_empty() || !filter.is_empty()) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
