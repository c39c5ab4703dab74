//! Multi-threaded stress tests: millions of wake/poll races in release
//! builds, scaled down in debug builds so `cargo test --workspace` stays
//! quick. A lost wake shows up as a timeout with a message, not a hang.

use hypha_executor::host::Runtime;
use hypha_executor::yield_now;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Release-build count, divided by 40 in debug builds.
fn scale(release: usize) -> usize {
    if cfg!(debug_assertions) { release / 40 } else { release }
}

/// Shared between one task and the waking threads.
struct Target {
    waker: Mutex<Option<Waker>>,
    sent: AtomicUsize,
    polls: AtomicUsize,
}

/// Pending until it has seen `total` wakes sent.
struct UntilSeen {
    target: Arc<Target>,
    total: usize,
}

impl Future for UntilSeen {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.target.polls.fetch_add(1, Ordering::Relaxed);
        {
            let mut slot = self.target.waker.lock().unwrap();
            if !slot.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        if self.target.sent.load(Ordering::SeqCst) >= self.total {
            Poll::Ready(self.target.polls.load(Ordering::Relaxed))
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn wake_poll_races_lose_no_wakes() {
    let runtime = Runtime::multi_thread(2).unwrap();
    let tasks = 64;
    let rounds = scale(50_000);
    let waking_threads = 2;
    let total = rounds * waking_threads;
    let targets: Vec<_> = (0..tasks)
        .map(|_| Arc::new(Target { waker: Mutex::new(None), sent: AtomicUsize::new(0), polls: AtomicUsize::new(0) }))
        .collect();
    let joins: Vec<_> = targets
        .iter()
        .map(|target| runtime.spawn(UntilSeen { target: target.clone(), total }))
        .collect();
    let start = Instant::now();
    let wakers: Vec<_> = (0..waking_threads)
        .map(|thread| {
            let targets = targets.clone();
            std::thread::spawn(move || {
                for round in 0..rounds {
                    for target in &targets {
                        target.sent.fetch_add(1, Ordering::SeqCst);
                        let waker = target.waker.lock().unwrap().clone();
                        if let Some(waker) = waker {
                            // Alternate wake-by-value and wake-by-reference.
                            if (round + thread) % 2 == 0 { waker.wake() } else { waker.wake_by_ref() }
                        }
                    }
                }
            })
        })
        .collect();
    for waker in wakers {
        waker.join().unwrap();
    }
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let polls: usize = runtime.block_on(async move {
            let mut polls = 0;
            for join in joins {
                polls += join.await.unwrap();
            }
            polls
        });
        let _sent = done.send(polls);
    });
    let polls = finished.recv_timeout(Duration::from_secs(60)).expect("a wake was lost: tasks never completed");
    let wakes = tasks * total;
    let elapsed = start.elapsed();
    println!(
        "{wakes} wakes raced with {polls} polls on 2 workers + {waking_threads} waking threads in {elapsed:?} ({:.0} ns/wake)",
        elapsed.as_nanos() as f64 / wakes as f64
    );
    assert!(polls >= tasks, "every task polled at least once");
    assert!(polls <= tasks + wakes, "never more polls than wakes (plus the first)");
}

#[test]
fn yield_storm_on_two_workers() {
    let runtime = Runtime::multi_thread(2).unwrap();
    let executor = runtime.executor().clone();
    let tasks = 200;
    let yields = scale(10_000);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let start = Instant::now();
    runtime.block_on(async move {
        let joins: Vec<_> = (0..tasks)
            .map(|_| {
                let counter = counter.clone();
                executor.spawn(async move {
                    for _ in 0..yields {
                        yield_now().await;
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for join in joins {
            join.await.unwrap();
        }
    });
    let total = tasks * yields;
    println!("{total} yields in {:?}", start.elapsed());
    assert_eq!(count.load(Ordering::Relaxed), total);
}

#[test]
fn spawn_storm_from_many_threads() {
    let runtime = Arc::new(Runtime::multi_thread(2).unwrap());
    let per_thread = scale(100_000);
    let threads = 4;
    let count = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let spawners: Vec<_> = (0..threads)
        .map(|_| {
            let executor = runtime.executor().clone();
            let count = count.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| {
                        let count = count.clone();
                        executor.spawn(async move {
                            count.fetch_add(1, Ordering::Relaxed);
                        })
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let joins: Vec<_> = spawners.into_iter().flat_map(|spawner| spawner.join().unwrap()).collect();
    runtime.block_on(async move {
        for join in joins {
            join.await.unwrap();
        }
    });
    println!("{} spawns from {threads} threads in {:?}", threads * per_thread, start.elapsed());
    assert_eq!(count.load(Ordering::Relaxed), threads * per_thread);
}
