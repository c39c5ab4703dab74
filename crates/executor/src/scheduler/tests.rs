//! Executor tests on host threads (`host::Runtime`).

use super::queue::{CAPACITY, LocalQueue};
use crate::host::{Runtime, StdClock, StdPark};
use crate::sync::{WaitCell, oneshot};
use crate::task::{self, Builder, Schedule, TaskRef};
use crate::{Executor, ExecutorError, SpawnError, yield_now};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Scale for loops: smaller in debug and under Miri.
fn scale(release: usize) -> usize {
    if cfg!(miri) {
        release / 100
    } else if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

fn runtimes() -> Vec<Runtime> {
    alloc::vec![Runtime::current_thread(), Runtime::multi_thread(2).unwrap()]
}

#[test]
fn spawn_and_join() {
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let result = runtime.block_on(async move { executor.spawn(async { 1 + 1 }).await });
        assert_eq!(result, Ok(2));
    }
}

#[test]
fn spawn_from_outside_any_worker() {
    let runtime = Runtime::multi_thread(2).unwrap();
    let joins: Vec<_> = (0..scale(1000)).map(|index| runtime.spawn(async move { index * 2 })).collect();
    let sum = runtime.block_on(async move {
        let mut sum = 0;
        for join in joins {
            sum += join.await.unwrap();
        }
        sum
    });
    let n = scale(1000);
    assert_eq!(sum, n * (n - 1));
}

#[test]
fn many_yields_all_complete() {
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let polls = Arc::new(AtomicUsize::new(0));
        let counter = polls.clone();
        let tasks = 50;
        let yields = scale(200);
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
        assert_eq!(polls.load(Ordering::Relaxed), tasks * yields);
    }
}

#[test]
fn chained_spawns() {
    fn chain(executor: Executor, left: usize, done: oneshot::Sender<()>) {
        if left == 0 {
            let _sent = done.send(());
            return;
        }
        let next = executor.clone();
        drop(executor.spawn(async move { chain(next, left - 1, done) }));
    }
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let (done, wait) = oneshot::channel();
        chain(executor, scale(1000), done);
        assert_eq!(runtime.block_on(wait), Ok(()));
    }
}

/// Ping-pong with sequence numbers: `WaitCell` wakeups are "at least
/// once" (a `wait` racing a `wake` may complete twice for one wake), so each
/// side waits for a condition, not for a wake count.
#[test]
fn ping_pong_over_wait_cells() {
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let rounds = scale(2000);
        let ping = Arc::new((WaitCell::new(), AtomicUsize::new(0)));
        let pong = Arc::new((WaitCell::new(), AtomicUsize::new(0)));
        let result = runtime.block_on(async move {
            let (ping2, pong2) = (ping.clone(), pong.clone());
            let b = executor.spawn(async move {
                for round in 1..=rounds {
                    ping2.0.wait_for(|| ping2.1.load(Ordering::Acquire) >= round).await.unwrap();
                    pong2.1.store(round, Ordering::Release);
                    pong2.0.wake();
                }
            });
            for round in 1..=rounds {
                ping.1.store(round, Ordering::Release);
                ping.0.wake();
                pong.0.wait_for(|| pong.1.load(Ordering::Acquire) >= round).await.unwrap();
            }
            b.await.unwrap();
            pong.1.load(Ordering::Acquire)
        });
        assert_eq!(result, rounds);
    }
}

#[test]
fn cancel_running_executor_task() {
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let result = runtime.block_on(async move {
            let (_keep, wait) = oneshot::channel::<()>();
            let join = executor.spawn(wait);
            yield_now().await;
            assert!(join.cancel());
            join.await
        });
        assert_eq!(result, Err(crate::JoinError::Cancelled));
    }
}

#[test]
fn panicking_task_does_not_stop_the_worker() {
    for runtime in runtimes() {
        let executor = runtime.executor().clone();
        let (bad, good) = runtime.block_on(async move {
            let bad = executor.spawn(async {
                if true {
                    panic!("task panic (expected by this test)");
                }
            });
            let bad = bad.await;
            let good = executor.spawn(async { 3 }).await;
            (bad, good)
        });
        assert_eq!(bad, Err(crate::JoinError::Panicked));
        assert_eq!(good, Ok(3));
    }
}

#[test]
fn spawn_after_shutdown_fails() {
    let runtime = Runtime::multi_thread(1).unwrap();
    runtime.executor().shutdown();
    assert_eq!(runtime.executor().try_spawn(async {}).err(), Some(SpawnError::Shutdown));
    assert_eq!(runtime.executor().run_worker(0), Err(ExecutorError::Shutdown));
}

#[test]
fn bad_cpu_counts_and_indices() {
    assert_eq!(
        Executor::new(0, StdPark::new(0), StdClock::new()).err(),
        Some(ExecutorError::BadCpuCount { cpus: 0 })
    );
    assert_eq!(
        Executor::new(65, StdPark::new(65), StdClock::new()).err(),
        Some(ExecutorError::BadCpuCount { cpus: 65 })
    );
    let executor = Executor::new(1, StdPark::new(1), StdClock::new()).unwrap();
    assert_eq!(executor.block_on(1, async {}), Err(ExecutorError::NoSuchCpu { cpu: 1 }));
    let inner = executor.clone();
    let nested = executor.block_on(0, async move { inner.block_on(0, async {}) });
    assert_eq!(nested, Ok(Err(ExecutorError::CpuBusy { cpu: 0 })));
}

#[test]
fn named_spawn() {
    let runtime = Runtime::current_thread();
    let join = runtime.executor().try_spawn_with(Builder::new().name("named"), async { 9 }).unwrap();
    assert!(alloc::format!("{join:?}").contains("named"));
    assert_eq!(runtime.block_on(join), Ok(9));
}

#[test]
fn drain_cancels_queued_tasks() {
    let executor = Executor::new(1, StdPark::new(1), StdClock::new()).unwrap();
    let (_keep, wait) = oneshot::channel::<()>();
    let join = executor.spawn(wait);
    executor.shutdown();
    executor.drain().unwrap();
    assert!(join.is_finished());
}

/// A scheduler that only counts, for driving `LocalQueue` directly.
#[derive(Clone)]
struct Nowhere;

impl Schedule for Nowhere {
    fn schedule(&self, task: TaskRef) {
        drop(task);
    }
}

fn task_ref() -> TaskRef {
    let (task, join) = task::allocate(async {}, Nowhere, Builder::new()).unwrap();
    drop(join);
    task
}

#[test]
fn local_queue_push_pop_fifo_and_full() {
    let queue = LocalQueue::new();
    let mut ids = Vec::new();
    for _ in 0..CAPACITY {
        let task = task_ref();
        ids.push(task.id());
        // SAFETY: this test is the queue's only user.
        assert!(unsafe { queue.push(task) }.is_ok());
    }
    // SAFETY: as above.
    assert!(unsafe { queue.push(task_ref()) }.is_err(), "full queue hands the task back");
    // SAFETY: as above.
    let batch = unsafe { queue.take_half() }.unwrap();
    assert_eq!(batch.len, CAPACITY / 2);
    for (index, expected) in ids.iter().enumerate().skip(CAPACITY / 2) {
        // SAFETY: as above.
        let task = unsafe { queue.pop() }.unwrap();
        assert_eq!(task.id(), *expected, "FIFO order at {index}");
    }
    // SAFETY: as above.
    assert!(unsafe { queue.pop() }.is_none());
    // Return the batch's references.
    let mut next = Some(batch.first);
    while let Some(task) = next {
        // SAFETY: the batch's tasks are ours; read the link before dropping.
        next = unsafe { task.as_ref() }.queue_next.with(|link| unsafe { *link });
        // SAFETY: as above.
        drop(unsafe { TaskRef::from_raw(task) });
    }
}

#[test]
fn steal_takes_half() {
    let victim = LocalQueue::new();
    let thief = LocalQueue::new();
    for _ in 0..10 {
        // SAFETY: single-threaded test; we act as owner of both queues.
        assert!(unsafe { victim.push(task_ref()) }.is_ok());
    }
    // SAFETY: as above.
    let first = unsafe { victim.steal_into(&thief) }.unwrap();
    drop(first);
    assert_eq!(victim.len(), 5);
    assert_eq!(thief.len(), 4);
}

/// A task that yields until `stop`, counting its polls in `polls` and
/// calling `at_poll(n)` at its n-th poll.
async fn spinner(polls: Arc<AtomicUsize>, stop: Arc<core::sync::atomic::AtomicBool>, at_poll: impl Fn(usize) + Send) {
    while !stop.load(Ordering::SeqCst) {
        let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
        at_poll(n);
        yield_now().await;
    }
}

/// On a CPU kept busy by a task that always yields, a `block_on` root
/// woken by that task is polled at the next poll boundary, not after the
/// rest of the batch (a kernel process's poll is a whole time slice).
#[test]
fn a_woken_block_on_root_is_polled_at_the_next_poll_boundary() {
    let runtime = Runtime::current_thread();
    let executor = runtime.executor().clone();
    let polls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let cell = Arc::new(WaitCell::new());
    let waker_cell = cell.clone();
    let task = executor.spawn(spinner(polls.clone(), stop.clone(), move |n| {
        if n == 5 {
            waker_cell.wake();
        }
    }));
    let polls_when_root_ran = runtime.block_on(async move {
        cell.wait().await.unwrap();
        let seen = polls.load(Ordering::SeqCst);
        stop.store(true, Ordering::SeqCst);
        task.await.unwrap();
        seen
    });
    assert_eq!(polls_when_root_ran, 5, "the root ran right after the poll that woke it");
}

/// On a busy CPU, a task in the injector (spawned from outside any
/// worker) runs within `INJECTOR_INTERVAL` polls.
#[test]
fn the_injector_is_served_every_few_polls_on_a_busy_cpu() {
    let runtime = Runtime::current_thread();
    let executor = runtime.executor().clone();
    let polls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(core::sync::atomic::AtomicBool::new(false));
    let (spawned_at, ran_at) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let outside = executor.clone();
    let (count, spawned, ran) = (polls.clone(), spawned_at.clone(), ran_at.clone());
    let task = executor.spawn(spinner(polls.clone(), stop.clone(), move |n| {
        if n == 100 {
            // From another thread: not a worker, so into the injector.
            let (count, ran) = (count.clone(), ran.clone());
            let outside = outside.clone();
            spawned.store(n, Ordering::SeqCst);
            std::thread::spawn(move || {
                drop(outside.spawn(async move { ran.store(count.load(Ordering::SeqCst), Ordering::SeqCst) }));
            })
            .join()
            .unwrap();
        }
    }));
    let ran_seen = ran_at.clone();
    runtime.block_on(async move {
        while ran_seen.load(Ordering::SeqCst) == 0 {
            yield_now().await;
        }
        stop.store(true, Ordering::SeqCst);
        task.await.unwrap();
    });
    let (spawned, ran) = (spawned_at.load(Ordering::SeqCst), ran_at.load(Ordering::SeqCst));
    assert!(ran > spawned && ran - spawned <= 31 + 2, "spawned at poll {spawned}, ran at poll {ran}");
}
