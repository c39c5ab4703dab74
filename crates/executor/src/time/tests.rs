//! Timer wheel and sleep tests.

use super::wheel::{Entry, EntryState, Wheel};
use crate::host::Runtime;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::task::Waker;
use core::time::Duration;
use std::task::Wake;
use std::sync::Mutex;

/// Records the order in which wakers fire.
struct Recorder {
    id: u64,
    log: Arc<Mutex<Vec<u64>>>,
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.log.lock().unwrap().push(self.id);
    }
}

fn entries(deadlines: &[u64], log: &Arc<Mutex<Vec<u64>>>) -> Vec<Entry> {
    deadlines
        .iter()
        .map(|&id| {
            let mut entry = Entry::new();
            entry.waker = Some(Waker::from(Arc::new(Recorder { id, log: log.clone() })));
            entry
        })
        .collect()
}

fn fire(wheel: &mut Wheel, now: u64) {
    while let Some(waker) = wheel.poll_fired(now) {
        waker.unwrap().wake();
    }
}

#[test]
fn fires_in_deadline_order_across_levels() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let deadlines = [5, 1, 63, 64, 65, 4095, 4096, 300_000, 70, 2];
    let mut boxes = entries(&deadlines, &log);
    let mut wheel = Wheel::new();
    for (entry, &deadline) in boxes.iter_mut().zip(&deadlines) {
        // SAFETY: the vector is not touched while entries are linked, so they stay put and outlive the wheel's use.
        assert!(unsafe { wheel.insert(NonNull::from(entry), deadline) });
    }
    assert_eq!(wheel.next_deadline_tick(), Some(1));
    fire(&mut wheel, 64);
    assert_eq!(*log.lock().unwrap(), [1, 2, 5, 63, 64]);
    fire(&mut wheel, 1_000_000);
    assert_eq!(*log.lock().unwrap(), [1, 2, 5, 63, 64, 65, 70, 4095, 4096, 300_000]);
    assert!(boxes.iter().all(|entry| entry.state == EntryState::Fired));
    assert_eq!(wheel.next_deadline_tick(), None);
}

#[test]
fn never_fires_early() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let deadlines: Vec<u64> = (1..2000).step_by(7).collect();
    let mut boxes = entries(&deadlines, &log);
    let mut wheel = Wheel::new();
    for (entry, &deadline) in boxes.iter_mut().zip(&deadlines) {
        // SAFETY: as above.
        assert!(unsafe { wheel.insert(NonNull::from(entry), deadline) });
    }
    for now in (0..2100).step_by(13) {
        fire(&mut wheel, now);
        for &id in log.lock().unwrap().iter() {
            assert!(id <= now, "deadline {id} fired at {now}");
        }
        let fired = log.lock().unwrap().len();
        assert_eq!(fired, deadlines.iter().filter(|&&d| d <= now).count());
    }
}

#[test]
fn removed_entries_do_not_fire_and_past_deadlines_are_refused() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut boxes = entries(&[10, 20, 5000], &log);
    let mut wheel = Wheel::new();
    for (entry, deadline) in boxes.iter_mut().zip([10, 20, 5000]) {
        // SAFETY: as above.
        assert!(unsafe { wheel.insert(NonNull::from(entry), deadline) });
    }
    // SAFETY: entries came from this wheel.
    unsafe { wheel.remove(NonNull::from(&mut boxes[1])) };
    // SAFETY: as above.
    unsafe { wheel.remove(NonNull::from(&mut boxes[2])) };
    fire(&mut wheel, 10_000);
    assert_eq!(*log.lock().unwrap(), [10]);
    let mut late = entries(&[99], &log);
    // SAFETY: as above.
    assert!(!unsafe { wheel.insert(NonNull::from(&mut late[0]), 3) }, "deadline already processed");
}

#[test]
fn sleep_waits_at_least_its_duration() {
    for runtime in [Runtime::current_thread(), Runtime::multi_thread(2).unwrap()] {
        let executor = runtime.executor().clone();
        let elapsed = runtime.block_on(async move {
            let start = std::time::Instant::now();
            let joins: Vec<_> = (1..=20_u64)
                .map(|ms| {
                    let executor2 = executor.clone();
                    executor.spawn(async move {
                        let start = std::time::Instant::now();
                        executor2.sleep(Duration::from_millis(ms % 7)).await;
                        (ms % 7, start.elapsed())
                    })
                })
                .collect();
            for join in joins {
                let (ms, took) = join.await.unwrap();
                assert!(took >= Duration::from_millis(ms), "slept {took:?} < {ms} ms");
            }
            start.elapsed()
        });
        assert!(elapsed >= Duration::from_millis(6));
    }
}

#[test]
fn sleep_from_block_on_thread_wakes_parked_workers() {
    let runtime = Runtime::multi_thread(2).unwrap();
    let executor = runtime.executor().clone();
    let start = std::time::Instant::now();
    runtime.block_on(executor.sleep(Duration::from_millis(5)));
    assert!(start.elapsed() >= Duration::from_millis(5));
}

#[test]
fn timeout_expires_and_passes_through() {
    let runtime = Runtime::current_thread();
    let executor = runtime.executor().clone();
    let (slow, fast) = runtime.block_on(async move {
        let slow = executor.timeout(Duration::from_millis(2), executor.sleep(Duration::from_secs(3600))).await;
        let fast = executor.timeout(Duration::from_secs(3600), async { 4 }).await;
        (slow, fast)
    });
    assert_eq!(slow, Err(super::Elapsed));
    assert_eq!(fast, Ok(4));
}

#[test]
fn dropped_sleep_unlinks() {
    let runtime = Runtime::current_thread();
    let executor = runtime.executor().clone();
    runtime.block_on(async move {
        for _ in 0..100 {
            let result = executor.timeout(Duration::from_millis(1), executor.sleep(Duration::from_secs(10))).await;
            assert!(result.is_err());
        }
        // All the 10 s sleeps were dropped: the wheel is empty again.
        assert!(!executor.shared().timer.is_armed());
    });
}
