//! Loom models of the task state machine, one per invariant in
//! `EXECUTOR.md`. Run exhaustively with
//!
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 RUSTFLAGS="--cfg loom" \
//!     cargo test -p hypha-executor --release --test loom
//! ```
//!
//! (about 45 s on two cores; the two-worker executor model caps itself at
//! one preemption, which already explores ~190k interleavings). The run
//! queue's own model lives beside it in the library:
//! `RUSTFLAGS="--cfg loom" cargo test -p hypha-executor --release --lib`.
//!
//! Without `--cfg loom` every model runs once on real threads as a plain
//! test. Tasks are driven by a toy scheduler (a locked FIFO) through the
//! public [`task`] API, so these models see exactly the code the executor
//! runs.

use hypha_executor::sync::oneshot;
use hypha_executor::{Clock, Executor, ExecutorError, JoinError, Park};
use hypha_executor::task::{self, Builder, JoinHandle, Schedule, TaskRef};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[cfg(loom)]
mod harness {
    /// Runs `f` under loom's scheduler, exploring interleavings, and
    /// reports how many it explored.
    pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
        let iterations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = iterations.clone();
        loom::model(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f();
        });
        std::println!("explored {} interleavings", iterations.load(std::sync::atomic::Ordering::Relaxed));
    }

    /// [`model`] with at most `bound` preemptions, whatever the environment
    /// says (for models with more threads).
    pub(crate) fn model_bounded(bound: usize, f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(bound);
        let iterations = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = iterations.clone();
        builder.check(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            f();
        });
        std::println!("explored {} interleavings", iterations.load(std::sync::atomic::Ordering::Relaxed));
    }
    pub(crate) use loom::future::block_on;
    pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use loom::sync::{Arc, Condvar, Mutex};
    pub(crate) use loom::thread;
}

#[cfg(not(loom))]
mod harness {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    pub(crate) use std::sync::{Arc, Condvar, Mutex};
    pub(crate) use std::thread;

    /// Polls `future` on this thread, parking between polls.
    pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::park();
        }
    }

    /// Runs the model once.
    pub(crate) fn model(f: impl Fn() + Sync + Send + 'static) {
        f();
    }

    /// Runs the model once.
    pub(crate) fn model_bounded(_bound: usize, f: impl Fn() + Sync + Send + 'static) {
        f();
    }
}

use harness::{Arc, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering, block_on, model, model_bounded, thread};

/// A run queue checked for duplicates (invariant 3), which counts how often
/// the scheduler (and so the task allocation that owns it) is dropped
/// (invariant 6).
#[derive(Clone)]
struct Queue {
    tasks: Arc<Mutex<VecDeque<TaskRef>>>,
    frees: Arc<AtomicUsize>,
    owner: bool,
}

impl Queue {
    fn new() -> Self {
        Self { tasks: Arc::new(Mutex::new(VecDeque::new())), frees: Arc::new(AtomicUsize::new(0)), owner: true }
    }

    /// The handle stored in the task; its drop is the task being freed.
    fn for_task(&self) -> Self {
        Self { tasks: self.tasks.clone(), frees: self.frees.clone(), owner: false }
    }

    fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (task, join) = task::allocate(future, self.for_task(), Builder::new()).unwrap();
        self.schedule(task);
        join
    }

    /// Runs one queued task, if any; returns whether one ran.
    fn run_one(&self) -> bool {
        let task = self.tasks.lock().unwrap().pop_front();
        match task {
            Some(task) => {
                if let Some(again) = task.run() {
                    self.schedule(again);
                }
                true
            }
            None => false,
        }
    }

    fn run_all(&self) {
        while self.run_one() {}
    }

    fn frees(&self) -> usize {
        self.frees.load(Ordering::SeqCst)
    }
}

impl Schedule for Queue {
    fn schedule(&self, task: TaskRef) {
        let mut tasks = self.tasks.lock().unwrap();
        assert!(tasks.iter().all(|queued| queued.id() != task.id()), "task enqueued twice");
        tasks.push_back(task);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        if !self.owner {
            self.frees.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Pending until `needed` steps were signalled; stores its waker, counts
/// polls and drops, and asserts it is never polled concurrently or after
/// completing (invariant 2).
struct Steps {
    shared: Arc<StepsShared>,
    done: bool,
}

struct StepsShared {
    steps: AtomicUsize,
    needed: usize,
    waker: Mutex<Option<Waker>>,
    polling: AtomicBool,
    polls: AtomicUsize,
    drops: AtomicUsize,
}

impl StepsShared {
    fn new(needed: usize) -> Arc<Self> {
        Arc::new(Self {
            steps: AtomicUsize::new(0),
            needed,
            waker: Mutex::new(None),
            polling: AtomicBool::new(false),
            polls: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
        })
    }


    /// Signals one step and wakes the task (by value).
    fn step(&self) {
        self.steps.fetch_add(1, Ordering::SeqCst);
        let waker = self.waker.lock().unwrap().clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future for `shared`.
fn steps_future(shared: &Arc<StepsShared>) -> Steps {
    Steps { shared: shared.clone(), done: false }
}

impl Future for Steps {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        assert!(!self.done, "polled after completion");
        assert!(!self.shared.polling.swap(true, Ordering::SeqCst), "polled concurrently");
        self.shared.polls.fetch_add(1, Ordering::SeqCst);
        *self.shared.waker.lock().unwrap() = Some(cx.waker().clone());
        let ready = self.shared.steps.load(Ordering::SeqCst) >= self.shared.needed;
        self.shared.polling.store(false, Ordering::SeqCst);
        if ready {
            self.done = true;
            // Drop our stored waker so the task can be freed.
            self.shared.waker.lock().unwrap().take();
            Poll::Ready(self.shared.needed)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        // Break the cycle task -> future -> shared -> stored waker -> task.
        // Never the task's last reference: whoever drops the future holds one.
        let waker = self.shared.waker.lock().unwrap().take();
        drop(waker);
        self.shared.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that records being woken.
struct Flag(AtomicBool);

impl std::task::Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag_waker() -> (std::sync::Arc<Flag>, Waker) {
    let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    (flag, waker)
}

fn poll_join<T>(join: &mut JoinHandle<T>, waker: &Waker) -> Poll<Result<T, JoinError>> {
    Pin::new(join).poll(&mut Context::from_waker(waker))
}

/// Invariants 1 and 2: wakes before, during and after a poll are never
/// lost, and the task is never polled concurrently.
#[test]
fn wake_before_during_after_poll() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(2);
        let join = queue.spawn(steps_future(&steps));
        // First poll: pending, waker stored.
        queue.run_all();
        let waker_thread = {
            let steps = steps.clone();
            thread::spawn(move || {
                steps.step();
                steps.step();
            })
        };
        // Poll concurrently with the wakes.
        queue.run_all();
        waker_thread.join().unwrap();
        queue.run_all();
        assert!(join.is_finished(), "a wake was lost");
        drop(join);
        assert_eq!(steps.drops.load(Ordering::SeqCst), 1);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 2: two workers racing to run the same task never poll it
/// concurrently.
#[test]
fn no_concurrent_poll_between_workers() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(1);
        let join = queue.spawn(steps_future(&steps));
        queue.run_all();
        let other_worker = {
            let queue = queue.clone();
            thread::spawn(move || {
                queue.run_one();
            })
        };
        steps.step();
        queue.run_one();
        other_worker.join().unwrap();
        queue.run_all();
        assert!(join.is_finished());
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 3: concurrent wakes enqueue the task at most once (the queue
/// asserts there is no duplicate).
#[test]
fn concurrent_wakes_enqueue_once() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(3);
        let join = queue.spawn(steps_future(&steps));
        queue.run_all();
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let steps = steps.clone();
                thread::spawn(move || steps.step())
            })
            .collect();
        steps.step();
        for waker in wakers {
            waker.join().unwrap();
        }
        assert!(queue.tasks.lock().unwrap().len() <= 1);
        queue.run_all();
        assert!(join.is_finished());
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 4: a join racing with completion either gets the output or is
/// woken when it arrives; the output is taken exactly once.
#[test]
fn join_before_and_after_completion() {
    model(|| {
        let queue = Queue::new();
        let mut join = queue.spawn(async { 17_u32 });
        let worker = {
            let queue = queue.clone();
            thread::spawn(move || queue.run_all())
        };
        let (flag, waker) = flag_waker();
        let first = poll_join(&mut join, &waker);
        worker.join().unwrap();
        let output = match first {
            Poll::Ready(output) => output,
            Poll::Pending => {
                assert!(flag.0.load(Ordering::SeqCst), "join waker not woken on completion");
                match poll_join(&mut join, &waker) {
                    Poll::Ready(output) => output,
                    Poll::Pending => panic!("completed task still pending"),
                }
            }
        };
        assert_eq!(output, Ok(17));
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 5: cancellation before, during or after a poll drops the
/// future exactly once and the join handle reports it.
#[test]
fn cancel_before_during_after_poll() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(1);
        let mut join = queue.spawn(steps_future(&steps));
        let worker = {
            let queue = queue.clone();
            thread::spawn(move || queue.run_all())
        };
        let cancelled = join.cancel();
        worker.join().unwrap();
        queue.run_all();
        assert!(cancelled, "a never-completing task cannot finish before cancel");
        assert!(join.is_finished());
        assert_eq!(steps.drops.load(Ordering::SeqCst), 1);
        let (_flag, waker) = flag_waker();
        assert_eq!(poll_join(&mut join, &waker), Poll::Ready(Err(JoinError::Cancelled)));
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariants 1, 4 and 5 together: a wake, a cancel, a worker and a join
/// all racing. The future is dropped once, the join handle is woken and
/// reports the outcome `cancel` promised, and the task is freed once.
#[test]
fn cancel_wake_and_join_race() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(1);
        let mut join = queue.spawn(steps_future(&steps));
        queue.run_all();
        let worker = {
            let queue = queue.clone();
            thread::spawn(move || queue.run_all())
        };
        let waker_thread = {
            let steps = steps.clone();
            thread::spawn(move || steps.step())
        };
        let (flag, waker) = flag_waker();
        let first = poll_join(&mut join, &waker);
        let cancelled = join.cancel();
        waker_thread.join().unwrap();
        worker.join().unwrap();
        queue.run_all();
        assert!(join.is_finished());
        if first.is_pending() {
            assert!(flag.0.load(Ordering::SeqCst), "join waker not woken");
        }
        let output = match first {
            Poll::Ready(output) => output,
            Poll::Pending => match poll_join(&mut join, &waker) {
                Poll::Ready(output) => output,
                Poll::Pending => panic!("finished task still pending"),
            },
        };
        if cancelled {
            assert_eq!(output, Err(JoinError::Cancelled));
        } else {
            assert_eq!(output, Ok(1));
        }
        assert_eq!(steps.drops.load(Ordering::SeqCst), 1);
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 5, racing a completing poll: either the output or
/// `Cancelled`, consistent with what `cancel` returned.
#[test]
fn cancel_races_completion() {
    model(|| {
        let queue = Queue::new();
        let mut join = queue.spawn(async { 3_u8 });
        let worker = {
            let queue = queue.clone();
            thread::spawn(move || queue.run_all())
        };
        let cancelled = join.cancel();
        worker.join().unwrap();
        queue.run_all();
        let (_flag, waker) = flag_waker();
        let output = poll_join(&mut join, &waker);
        if cancelled {
            assert_eq!(output, Poll::Ready(Err(JoinError::Cancelled)));
        } else {
            assert_eq!(output, Poll::Ready(Ok(3)));
        }
        drop(join);
        assert_eq!(queue.frees(), 1);
    });
}

/// Invariant 6: the allocation is freed exactly once whatever order the
/// waker, the run queue and the join handle drop in.
#[test]
fn last_reference_frees_once() {
    model(|| {
        let queue = Queue::new();
        let steps = StepsShared::new(1);
        let join = queue.spawn(steps_future(&steps));
        queue.run_all();
        let waker = steps.waker.lock().unwrap().take().unwrap();
        let waker_thread = thread::spawn(move || waker.wake());
        let join_thread = thread::spawn(move || drop(join));
        steps.steps.fetch_add(1, Ordering::SeqCst);
        queue.run_all();
        waker_thread.join().unwrap();
        join_thread.join().unwrap();
        queue.run_all();
        assert_eq!(queue.frees(), 1);
        assert_eq!(steps.drops.load(Ordering::SeqCst), 1);
    });
}

/// Invariant 6 for detached tasks: dropping the join handle while the task
/// completes drops the output once and frees the task once.
#[test]
fn detached_join_handle() {
    model(|| {
        let queue = Queue::new();
        let output = std::sync::Arc::new(());
        let inner = output.clone();
        let join = queue.spawn(async move { inner });
        let worker = {
            let queue = queue.clone();
            thread::spawn(move || queue.run_all())
        };
        drop(join);
        worker.join().unwrap();
        queue.run_all();
        assert_eq!(queue.frees(), 1);
        assert_eq!(std::sync::Arc::strong_count(&output), 1, "output dropped exactly once");
    });
}

// === the executor's park/notify protocol ===

/// A [`Park`] on (loom's) mutexes and condition variables, with an unpark
/// token per CPU as the trait requires.
struct TestPark {
    cpus: Vec<TestCpu>,
}

struct TestCpu {
    worker: Mutex<Option<thread::ThreadId>>,
    token: Mutex<bool>,
    condvar: Condvar,
}

impl TestPark {
    fn new(cpus: usize) -> Self {
        Self {
            cpus: (0..cpus)
                .map(|_| TestCpu { worker: Mutex::new(None), token: Mutex::new(false), condvar: Condvar::new() })
                .collect(),
        }
    }
}

// SAFETY: (1) `current_cpu` compares the calling thread with the one that
// entered each CPU and has not exited. (2) `unpark` sets a token under the
// lock that `park` consumes, so an unpark before the park is not lost.
unsafe impl Park for TestPark {
    fn enter(&self, cpu: usize) {
        *self.cpus[cpu].worker.lock().unwrap() = Some(thread::current().id());
    }

    fn exit(&self, cpu: usize) {
        *self.cpus[cpu].worker.lock().unwrap() = None;
    }

    fn current_cpu(&self) -> Option<usize> {
        let me = thread::current().id();
        self.cpus.iter().position(|cpu| *cpu.worker.lock().unwrap() == Some(me))
    }

    fn park(&self, cpu: usize, _timeout: Option<std::time::Duration>) {
        let cpu = &self.cpus[cpu];
        let mut token = cpu.token.lock().unwrap();
        while !*token {
            token = cpu.condvar.wait(token).unwrap();
        }
        *token = false;
    }

    fn unpark(&self, cpu: usize) {
        let cpu = &self.cpus[cpu];
        *cpu.token.lock().unwrap() = true;
        cpu.condvar.notify_one();
    }
}

/// Runs a worker; it may legitimately start after the model shut down.
fn run_worker(executor: &Executor, cpu: usize) {
    match executor.run_worker(cpu) {
        Ok(()) | Err(ExecutorError::Shutdown) => {}
        Err(error) => panic!("worker {cpu}: {error}"),
    }
}

/// Time stands still (these models arm no timers).
struct FrozenClock;

impl Clock for FrozenClock {
    fn now_nanos(&self) -> u64 {
        0
    }
}

/// The real executor with one worker thread: a wake from outside any
/// worker (a oneshot send) reaches a worker that is parking or parked, and
/// the join handle on a third party sees the result. A lost unpark shows up
/// as a loom deadlock.
#[test]
fn executor_wake_from_outside_reaches_parked_worker() {
    model(|| {
        let executor = Executor::new(1, TestPark::new(1), FrozenClock).unwrap();
        let (sender, receiver) = oneshot::channel::<u8>();
        let join = executor.spawn(receiver);
        let worker = {
            let executor = executor.clone();
            thread::spawn(move || run_worker(&executor, 0))
        };
        sender.send(9).unwrap();
        assert_eq!(block_on(join), Ok(Ok(9)));
        executor.shutdown();
        worker.join().unwrap();
        executor.drain().unwrap();
    });
}

/// Two workers: a task spawned from outside wakes one parked worker; that
/// task spawns a second one on its own CPU, which the other worker may
/// steal; both complete and their results reach the outside.
#[test]
fn executor_two_workers_spawn_and_steal() {
    model_bounded(1, || {
        let executor = Executor::new(2, TestPark::new(2), FrozenClock).unwrap();
        let workers: Vec<_> = (0..2)
            .map(|cpu| {
                let executor = executor.clone();
                thread::spawn(move || run_worker(&executor, cpu))
            })
            .collect();
        let inner = executor.clone();
        let join = executor.spawn(async move {
            let child = inner.spawn(async { 2_u8 });
            child.await.map(|value| value + 1)
        });
        assert_eq!(block_on(join), Ok(Ok(3)));
        executor.shutdown();
        for worker in workers {
            worker.join().unwrap();
        }
        executor.drain().unwrap();
    });
}
