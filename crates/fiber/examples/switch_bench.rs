//! Micro-benchmark: one switch round trip (resume + suspend), and creating
//! a fiber with a fresh or a reused stack. Prints nanoseconds per operation.
//!
//! `cargo run --release -p hypha-fiber --example switch_bench`
//!
//! A rough figure for reports, not a timed assertion.

use std::hint::black_box;
use std::time::Instant;

use hypha_fiber::{Fiber, FiberResult, FiberStack, Suspend};

const CREATIONS: u32 = 20_000;

/// Best batch of `BATCH` round trips out of `BATCHES`: the minimum filters
/// out preemption by other processes on a shared machine.
fn round_trip_ns() -> f64 {
    const BATCH: u32 = 2_000;
    const BATCHES: u32 = 2_000;
    let mut fiber = Fiber::new(FiberStack::new(64 * 1024).unwrap(), |mut x: u64, s: &Suspend<u64, u64, ()>| {
        loop {
            match s.suspend(x) {
                Ok(next) => x = next,
                Err(_) => return,
            }
        }
    })
    .unwrap();
    // Warm up.
    for i in 0..10_000 {
        black_box(fiber.resume(i));
    }
    let mut best = f64::INFINITY;
    for _ in 0..BATCHES {
        let start = Instant::now();
        for i in 0..u64::from(BATCH) {
            match fiber.resume(black_box(i)) {
                FiberResult::Yield(y) => {
                    black_box(y);
                }
                FiberResult::Return(()) => unreachable!("the fiber loops until cancelled"),
            }
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH));
    }
    best
}

fn create_ns(reuse: bool) -> f64 {
    let mut spare = Some(FiberStack::new(64 * 1024).unwrap());
    let start = Instant::now();
    for i in 0..CREATIONS {
        let stack = if reuse {
            spare.take().unwrap()
        } else {
            FiberStack::new(64 * 1024).unwrap()
        };
        let mut fiber = Fiber::new(stack, |x: u32, _: &Suspend<u32, (), u32>| x + 1).unwrap();
        black_box(fiber.resume(i));
        if reuse {
            spare = Some(fiber.into_stack());
        }
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(CREATIONS)
}

fn main() {
    // Best of fifteen to dodge noise from the other helpers on the machine.
    let best = |f: &dyn Fn() -> f64| (0..15).map(|_| f()).fold(f64::INFINITY, f64::min);
    println!("switch round trip (resume + suspend): {:8.2} ns", round_trip_ns());
    println!(
        "create + run + drop, fresh mmap stack: {:8.0} ns",
        best(&|| create_ns(false))
    );
    println!(
        "create + run, reused stack:            {:8.0} ns",
        best(&|| create_ns(true))
    );
}
