//! Single-threaded tests of the task state machine, driven by a toy
//! scheduler (a FIFO we run by hand).

use super::state::{JoinWakerState, Snapshot};
use super::*;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, AtomicUsize};
use core::task::{Context, Poll, Waker};
use std::sync::Mutex;
use std::task::Wake;

/// A run queue we drive by hand.
#[derive(Clone, Default)]
struct Fifo(Arc<Mutex<VecDeque<TaskRef>>>);

impl Schedule for Fifo {
    fn schedule(&self, task: TaskRef) {
        self.0.lock().unwrap().push_back(task);
    }
}

impl Fifo {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Runs queued tasks until the queue is empty; returns how many polls.
    fn run_all(&self) -> usize {
        let mut polls = 0;
        loop {
            let task = self.0.lock().unwrap().pop_front();
            let Some(task) = task else { return polls };
            polls += 1;
            if let Some(again) = task.run() {
                self.schedule(again);
            }
        }
    }
}

/// Counts wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_join<T>(join: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(join).poll(&mut Context::from_waker(waker))
}

/// A future that is pending until `ready` is set, storing its waker, and
/// counts polls and drops.
struct Gate {
    ready: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl Future for Gate {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.ready.load(Ordering::SeqCst) {
            return Poll::Ready(7);
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct GateControl {
    ready: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
    polls: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

impl GateControl {
    fn gate(&self) -> Gate {
        Gate {
            ready: self.ready.clone(),
            waker: self.waker.clone(),
            polls: self.polls.clone(),
            drops: self.drops.clone(),
        }
    }
    fn open(&self) {
        self.ready.store(true, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().unwrap().take() {
            waker.wake();
        }
    }
    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
    fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }
}

fn spawn_on<F>(fifo: &Fifo, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (task, join) = allocate(future, fifo.clone(), Builder::new()).unwrap();
    fifo.schedule(task);
    join
}

#[test]
fn state_bitfield_is_valid() {
    Snapshot::assert_valid();
    let state = State::new_spawned(true);
    let snapshot = state.load();
    assert!(snapshot.get(Snapshot::WOKEN));
    assert!(snapshot.get(Snapshot::HAS_JOIN_HANDLE));
    assert_eq!(snapshot.get(Snapshot::JOIN_WAKER), JoinWakerState::Empty);
    assert_eq!(snapshot.ref_count(), 2);
}

#[test]
fn runs_to_completion_and_joins() {
    let fifo = Fifo::default();
    let mut join = spawn_on(&fifo, async { 40 + 2 });
    assert!(!join.is_finished());
    assert_eq!(fifo.run_all(), 1);
    assert!(join.is_finished());
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Ok(42)));
}

#[test]
fn join_before_completion_is_woken() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let mut join = spawn_on(&fifo, gate.gate());
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    assert_eq!(poll_join(&mut join, &waker), Poll::Pending);
    fifo.run_all();
    assert_eq!(poll_join(&mut join, &waker), Poll::Pending);
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    gate.open();
    assert_eq!(fifo.run_all(), 1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1, "join waker woken once on completion");
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Ok(7)));
    assert_eq!(gate.drops(), 1);
}

#[test]
fn join_waker_can_be_replaced() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let mut join = spawn_on(&fifo, gate.gate());
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    assert!(poll_join(&mut join, &Waker::from(first.clone())).is_pending());
    assert!(poll_join(&mut join, &Waker::from(second.clone())).is_pending());
    fifo.run_all();
    gate.open();
    fifo.run_all();
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
}

#[test]
fn wake_while_idle_enqueues_once() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let join = spawn_on(&fifo, gate.gate());
    fifo.run_all();
    let waker = gate.waker.lock().unwrap().clone().unwrap();
    waker.wake_by_ref();
    waker.wake_by_ref();
    let by_value = waker.clone();
    by_value.wake();
    assert_eq!(fifo.len(), 1, "a task is on at most one queue");
    fifo.run_all();
    assert_eq!(gate.polls(), 2);
    // Break the cycle task -> future -> waker slot -> waker -> task.
    drop(join);
    drop(waker);
    drop(gate.waker.lock().unwrap().take());
    assert_eq!(gate.drops(), 1, "the last waker freed the pending task");
}

#[test]
fn wake_during_poll_reschedules() {
    struct WakeSelf(usize);
    impl Future for WakeSelf {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 == 0 {
                return Poll::Ready(());
            }
            self.0 -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
    let fifo = Fifo::default();
    let join = spawn_on(&fifo, WakeSelf(5));
    assert_eq!(fifo.run_all(), 6);
    assert!(join.is_finished());
}

#[test]
fn yield_now_goes_back_on_the_queue() {
    let fifo = Fifo::default();
    let join = spawn_on(&fifo, async {
        for _ in 0..3 {
            yield_now().await;
        }
    });
    assert_eq!(fifo.run_all(), 4);
    assert!(join.is_finished());
}

#[test]
fn cancel_before_first_poll_drops_future_without_polling() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let mut join = spawn_on(&fifo, gate.gate());
    assert!(join.cancel());
    assert!(join.cancel(), "cancel is idempotent");
    assert_eq!(fifo.len(), 1, "already queued: not queued twice");
    fifo.run_all();
    assert_eq!(gate.polls(), 0);
    assert_eq!(gate.drops(), 1);
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Err(JoinError::Cancelled)));
}

#[test]
fn cancel_idle_task_schedules_it_to_drop() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let mut join = spawn_on(&fifo, gate.gate());
    fifo.run_all();
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    assert!(poll_join(&mut join, &waker).is_pending());
    assert!(join.cancel());
    assert_eq!(fifo.len(), 1);
    assert_eq!(gate.drops(), 0, "dropped on a worker, not in cancel()");
    fifo.run_all();
    assert_eq!(gate.drops(), 1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Err(JoinError::Cancelled)));
}

#[test]
fn cancel_after_completion_keeps_output() {
    let fifo = Fifo::default();
    let mut join = spawn_on(&fifo, async { 5 });
    fifo.run_all();
    assert!(!join.cancel());
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Ok(5)));
}

#[test]
fn detached_task_runs_and_frees_output() {
    let fifo = Fifo::default();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Output(Arc<AtomicUsize>);
    impl Drop for Output {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let output = Output(dropped.clone());
    drop(spawn_on(&fifo, async move { output }));
    fifo.run_all();
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[test]
fn join_handle_dropped_after_completion_drops_output() {
    let fifo = Fifo::default();
    let value = Arc::new(());
    let inner = value.clone();
    let join = spawn_on(&fifo, async move { inner });
    fifo.run_all();
    assert_eq!(Arc::strong_count(&value), 2, "output stored for the join handle");
    drop(join);
    assert_eq!(Arc::strong_count(&value), 1, "freed with the last reference");
}

#[test]
fn unpolled_task_dropped_from_queue_frees_future() {
    let fifo = Fifo::default();
    let gate = GateControl::default();
    let join = spawn_on(&fifo, gate.gate());
    drop(join);
    fifo.0.lock().unwrap().clear();
    assert_eq!(gate.drops(), 1);
}

#[test]
fn panic_in_poll_is_reported() {
    let fifo = Fifo::default();
    let mut join = spawn_on(&fifo, async {
        if true {
            panic!("task panic (expected by this test)");
        }
    });
    let ok = spawn_on(&fifo, async { 1 });
    fifo.run_all();
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Err(JoinError::Panicked)));
    assert!(ok.is_finished(), "other tasks still run");
}

#[test]
fn names_and_ids() {
    let fifo = Fifo::default();
    let (task, join) = allocate(async {}, fifo.clone(), Builder::new().name("worker")).unwrap();
    let (other, other_join) = allocate(async {}, fifo.clone(), Builder::new()).unwrap();
    assert_eq!(task.name(), Some("worker"));
    assert_eq!(other.name(), None);
    assert_ne!(task.id(), other.id());
    assert_eq!(task.id(), join.id());
    assert!(alloc::format!("{:?}", join).contains("worker"));
    assert!(alloc::format!("{}", other_join.id()).starts_with("task#"));
    drop((task, join, other, other_join));
}

#[test]
#[should_panic(expected = "polled after it returned Ready")]
fn join_polled_twice_panics() {
    let fifo = Fifo::default();
    let mut join = spawn_on(&fifo, async { 1 });
    fifo.run_all();
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    let _first = poll_join(&mut join, &waker);
    let _second = poll_join(&mut join, &waker);
}
