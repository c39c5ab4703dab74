//! Benchmarks `hypha-executor` side by side with tokio, same machine, same
//! run: current-thread against tokio's current-thread runtime (1 worker)
//! and multi-thread against tokio's multi-thread runtime (2 workers).
//!
//! Prints a table of ns/op and the ratio (hypha / tokio, lower is better)
//! and writes `target/bench/executor.json`. Not a test: tokio is a
//! dependency of this binary only.

use hypha_executor::host::Runtime;
use hypha_executor::sync::{WaitCell, oneshot};
use hypha_executor::{Executor, yield_now};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Samples per benchmark (after one warm-up); the median is reported.
const SAMPLES: usize = 7;
const SPAWN_JOIN_COUNT: usize = 50_000;
const CHAIN_DEPTH: usize = 1_000;
const CHAINS_PER_SAMPLE: usize = 10;
const YIELD_TASKS: usize = 200;
const YIELDS_PER_TASK: usize = 1_000;
const PING_PONG_MESSAGES: usize = 10_000;
const TIMERS: usize = 10_000;
/// Sleeps last 0..=TIMER_MAX_MS milliseconds.
const TIMER_MAX_MS: u64 = 5;

/// One benchmark's outcome for one runtime flavour.
struct Measurement {
    name: String,
    unit: &'static str,
    value: f64,
    peer: &'static str,
    peer_value: f64,
}

/// A benchmark body: runs the workload once and returns (elapsed, ops).
type Body<R> = fn(&R) -> (Duration, usize);

fn median_ns_per_op<R>(runtime: &R, body: Body<R>) -> f64 {
    let _warm_up = body(runtime);
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let (elapsed, ops) = body(runtime);
            elapsed.as_secs_f64() * 1e9 / ops as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[SAMPLES / 2]
}

/// Durations for the timer benchmark: a fixed pseudo-random sequence, the
/// same for every runtime.
fn timer_durations() -> Vec<Duration> {
    let mut state: u32 = 0x2545_f491;
    (0..TIMERS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let micros = u64::from(state) % (TIMER_MAX_MS * 1000 + 1);
            Duration::from_micros(micros)
        })
        .collect()
}

// === hypha ===

mod hypha {
    use super::*;

    pub(super) fn spawn_join(runtime: &Runtime) -> (Duration, usize) {
        let executor = runtime.executor().clone();
        let elapsed = runtime.block_on(async move {
            let start = Instant::now();
            for _ in 0..SPAWN_JOIN_COUNT {
                executor.spawn(async {}).await.expect("trivial task");
            }
            start.elapsed()
        });
        (elapsed, SPAWN_JOIN_COUNT)
    }

    fn chain(executor: Executor, left: usize, done: oneshot::Sender<()>) {
        if left == 0 {
            let _sent = done.send(());
            return;
        }
        let next = executor.clone();
        drop(executor.spawn(async move { chain(next, left - 1, done) }));
    }

    pub(super) fn chained_spawn(runtime: &Runtime) -> (Duration, usize) {
        let executor = runtime.executor().clone();
        let elapsed = runtime.block_on(async move {
            let start = Instant::now();
            for _ in 0..CHAINS_PER_SAMPLE {
                let (done, wait) = oneshot::channel();
                chain(executor.clone(), CHAIN_DEPTH, done);
                wait.await.expect("chain completes");
            }
            start.elapsed()
        });
        (elapsed, CHAIN_DEPTH * CHAINS_PER_SAMPLE)
    }

    pub(super) fn yields(runtime: &Runtime) -> (Duration, usize) {
        let executor = runtime.executor().clone();
        let elapsed = runtime.block_on(async move {
            let start = Instant::now();
            let joins: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    executor.spawn(async {
                        for _ in 0..YIELDS_PER_TASK {
                            yield_now().await;
                        }
                    })
                })
                .collect();
            for join in joins {
                join.await.expect("yielding task");
            }
            start.elapsed()
        });
        (elapsed, YIELD_TASKS * YIELDS_PER_TASK)
    }

    /// `WaitCell` wakeups are "at least once", so each side waits for a
    /// sequence number rather than counting wakes.
    pub(super) fn ping_pong(runtime: &Runtime) -> (Duration, usize) {
        let executor = runtime.executor().clone();
        let elapsed = runtime.block_on(async move {
            let ping = Arc::new((WaitCell::new(), AtomicUsize::new(0)));
            let pong = Arc::new((WaitCell::new(), AtomicUsize::new(0)));
            let start = Instant::now();
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let a = executor.spawn(async move {
                for round in 1..=PING_PONG_MESSAGES / 2 {
                    ping.1.store(round, Ordering::Release);
                    ping.0.wake();
                    let arrived = || pong.1.load(Ordering::Acquire) >= round;
                    if !arrived() {
                        pong.0.wait_for(arrived).await.expect("never closed");
                    }
                }
            });
            let b = executor.spawn(async move {
                for round in 1..=PING_PONG_MESSAGES / 2 {
                    let arrived = || ping2.1.load(Ordering::Acquire) >= round;
                    if !arrived() {
                        ping2.0.wait_for(arrived).await.expect("never closed");
                    }
                    pong2.1.store(round, Ordering::Release);
                    pong2.0.wake();
                }
            });
            a.await.expect("ping task");
            b.await.expect("pong task");
            start.elapsed()
        });
        (elapsed, PING_PONG_MESSAGES)
    }

    pub(super) fn timers(runtime: &Runtime) -> (Duration, usize) {
        let executor = runtime.executor().clone();
        let durations = timer_durations();
        let elapsed = runtime.block_on(async move {
            let start = Instant::now();
            let joins: Vec<_> = durations
                .into_iter()
                .map(|duration| {
                    let sleep = executor.sleep(duration);
                    executor.spawn(sleep)
                })
                .collect();
            for join in joins {
                join.await.expect("sleeping task");
            }
            start.elapsed()
        });
        (elapsed, TIMERS)
    }
}

// === tokio ===

mod peer {
    use super::*;
    use tokio::runtime::Runtime;
    use tokio::sync::Notify;

    pub(super) fn spawn_join(runtime: &Runtime) -> (Duration, usize) {
        let elapsed = runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..SPAWN_JOIN_COUNT {
                tokio::spawn(async {}).await.expect("trivial task");
            }
            start.elapsed()
        });
        (elapsed, SPAWN_JOIN_COUNT)
    }

    fn chain(left: usize, done: tokio::sync::oneshot::Sender<()>) {
        if left == 0 {
            let _sent = done.send(());
            return;
        }
        drop(tokio::spawn(async move { chain(left - 1, done) }));
    }

    pub(super) fn chained_spawn(runtime: &Runtime) -> (Duration, usize) {
        let elapsed = runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..CHAINS_PER_SAMPLE {
                let (done, wait) = tokio::sync::oneshot::channel();
                chain(CHAIN_DEPTH, done);
                wait.await.expect("chain completes");
            }
            start.elapsed()
        });
        (elapsed, CHAIN_DEPTH * CHAINS_PER_SAMPLE)
    }

    pub(super) fn yields(runtime: &Runtime) -> (Duration, usize) {
        let elapsed = runtime.block_on(async {
            let start = Instant::now();
            let joins: Vec<_> = (0..YIELD_TASKS)
                .map(|_| {
                    tokio::spawn(async {
                        for _ in 0..YIELDS_PER_TASK {
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for join in joins {
                join.await.expect("yielding task");
            }
            start.elapsed()
        });
        (elapsed, YIELD_TASKS * YIELDS_PER_TASK)
    }

    /// Same protocol as hypha's: sequence numbers plus a notification.
    pub(super) fn ping_pong(runtime: &Runtime) -> (Duration, usize) {
        let elapsed = runtime.block_on(async {
            let ping = Arc::new((Notify::new(), AtomicUsize::new(0)));
            let pong = Arc::new((Notify::new(), AtomicUsize::new(0)));
            let start = Instant::now();
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let a = tokio::spawn(async move {
                for round in 1..=PING_PONG_MESSAGES / 2 {
                    ping.1.store(round, Ordering::Release);
                    ping.0.notify_one();
                    while pong.1.load(Ordering::Acquire) < round {
                        pong.0.notified().await;
                    }
                }
            });
            let b = tokio::spawn(async move {
                for round in 1..=PING_PONG_MESSAGES / 2 {
                    while ping2.1.load(Ordering::Acquire) < round {
                        ping2.0.notified().await;
                    }
                    pong2.1.store(round, Ordering::Release);
                    pong2.0.notify_one();
                }
            });
            a.await.expect("ping task");
            b.await.expect("pong task");
            start.elapsed()
        });
        (elapsed, PING_PONG_MESSAGES)
    }

    pub(super) fn timers(runtime: &Runtime) -> (Duration, usize) {
        let durations = timer_durations();
        let elapsed = runtime.block_on(async move {
            let start = Instant::now();
            let joins: Vec<_> = durations.into_iter().map(|duration| tokio::spawn(tokio::time::sleep(duration))).collect();
            for join in joins {
                join.await.expect("sleeping task");
            }
            start.elapsed()
        });
        (elapsed, TIMERS)
    }
}

/// The benchmarks: name, unit, hypha body, tokio body.
type Case = (&'static str, &'static str, Body<Runtime>, Body<tokio::runtime::Runtime>);

const CASES: [Case; 5] = [
    ("spawn_join", "ns/task", hypha::spawn_join, peer::spawn_join),
    ("chained_spawn_1000", "ns/spawn", hypha::chained_spawn, peer::chained_spawn),
    ("yield_200x1000", "ns/yield", hypha::yields, peer::yields),
    ("ping_pong_10000", "ns/message", hypha::ping_pong, peer::ping_pong),
    ("timers_10000", "ns/timer", hypha::timers, peer::timers),
];

fn run_flavour(flavour: &str, hypha_runtime: &Runtime, tokio_runtime: &tokio::runtime::Runtime, peer: &'static str, filter: Option<&str>) -> Vec<Measurement> {
    let mut results = Vec::new();
    for (name, unit, hypha_body, tokio_body) in CASES {
        let full_name = format!("{name}/{flavour}");
        if filter.is_some_and(|filter| !full_name.contains(filter)) {
            continue;
        }
        let value = median_ns_per_op(hypha_runtime, hypha_body);
        let peer_value = median_ns_per_op(tokio_runtime, tokio_body);
        let measurement = Measurement { name: full_name, unit, value, peer, peer_value };
        print_row(&measurement);
        results.push(measurement);
    }
    results
}

fn print_row(m: &Measurement) {
    println!(
        "{:<34} {:>12.1} {:>12.1} {:>8.3}  {}  (peer: {})",
        m.name,
        m.value,
        m.peer_value,
        m.value / m.peer_value,
        m.unit,
        m.peer
    );
}

fn to_json(results: &[Measurement]) -> String {
    let mut json = String::from("[\n");
    for (index, m) in results.iter().enumerate() {
        let separator = if index + 1 == results.len() { "" } else { "," };
        let _ = writeln!(
            json,
            "  {{\"name\": \"{}\", \"unit\": \"{}\", \"value\": {:.3}, \"peer\": \"{}\", \"peer_value\": {:.3}, \"ratio\": {:.4}}}{separator}",
            m.name,
            m.unit,
            m.value,
            m.peer,
            m.peer_value,
            m.value / m.peer_value
        );
    }
    json.push_str("]\n");
    json
}

fn main() {
    let filter = std::env::args().nth(1);
    let filter = filter.as_deref();
    println!("{:<34} {:>12} {:>12} {:>8}", "benchmark", "hypha", "tokio", "ratio");
    let mut results = Vec::new();
    {
        let hypha_runtime = Runtime::current_thread();
        let tokio_runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio current-thread runtime");
        results.extend(run_flavour("current_thread", &hypha_runtime, &tokio_runtime, "tokio current_thread", filter));
    }
    {
        let hypha_runtime = Runtime::multi_thread(2).expect("two workers");
        let tokio_runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .expect("tokio multi-thread runtime");
        results.extend(run_flavour("multi_thread_2", &hypha_runtime, &tokio_runtime, "tokio multi_thread(2)", filter));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..").canonicalize().unwrap_or(manifest);
    let directory = root.join("target/bench");
    std::fs::create_dir_all(&directory).expect("creating target/bench");
    let path = directory.join("executor.json");
    std::fs::write(&path, to_json(&results)).expect("writing executor.json");
    let worst = results.iter().map(|m| m.value / m.peer_value).fold(0.0_f64, f64::max);
    println!("worst ratio {worst:.3}; wrote {}", path.display());
}
