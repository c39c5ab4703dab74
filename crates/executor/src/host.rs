//! Host implementations of [`Park`] and [`Clock`] on std threads, and a
//! small [`Runtime`] wrapper for tests and benchmarks. `std` feature only.

use crate::platform::{Clock, Park};
use crate::{Executor, ExecutorError, JoinHandle};
use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use std::sync::Mutex;
use std::thread::{self, Thread};
use std::time::Instant;

std::thread_local! {
    /// `(park id, cpu)` of the worker loop running on this thread, if any.
    static CURRENT: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// [`Park`] on std threads: `thread::park` with the token semantics the
/// trait needs, and a thread-local for [`Park::current_cpu`].
///
/// A thread runs at most one worker at a time (of any executor): entering a
/// worker while already inside another one's loop is not supported.
#[derive(Debug)]
pub struct StdPark {
    /// Distinguishes executors sharing a thread-local.
    id: usize,
    threads: Box<[Mutex<Option<Thread>>]>,
}

impl StdPark {
    /// Parking for `cpus` workers.
    #[must_use]
    pub fn new(cpus: usize) -> Self {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
        Self { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), threads: (0..cpus).map(|_| Mutex::new(None)).collect() }
    }

    fn thread_slot(&self, cpu: usize) -> std::sync::MutexGuard<'_, Option<Thread>> {
        // A poisoned lock only means a panic elsewhere; the Option is fine.
        self.threads[cpu].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

// SAFETY: (1) `current_cpu` reads a thread-local that only `enter` sets (to
// this park's id and the entered CPU) and `exit` clears, so it names the
// worker of the calling thread. (2) `thread::park` consumes a token that
// `Thread::unpark` sets, so an unpark before or during park is never lost.
unsafe impl Park for StdPark {
    fn enter(&self, cpu: usize) {
        *self.thread_slot(cpu) = Some(thread::current());
        CURRENT.with(|current| current.set(Some((self.id, cpu))));
    }

    fn exit(&self, cpu: usize) {
        CURRENT.with(|current| current.set(None));
        *self.thread_slot(cpu) = None;
    }

    fn current_cpu(&self) -> Option<usize> {
        match CURRENT.with(Cell::get) {
            Some((id, cpu)) if id == self.id => Some(cpu),
            _ => None,
        }
    }

    fn park(&self, _cpu: usize, timeout: Option<Duration>) {
        match timeout {
            Some(timeout) => thread::park_timeout(timeout),
            None => thread::park(),
        }
    }

    fn unpark(&self, cpu: usize) {
        if let Some(thread) = self.thread_slot(cpu).as_ref() {
            thread.unpark();
        }
    }
}

/// [`Clock`] on `std::time::Instant`, with its origin at creation.
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    origin: Instant,
}

impl StdClock {
    /// A clock starting at zero now.
    #[must_use]
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for StdClock {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// An executor with its worker threads, for host tests and benchmarks.
///
/// `current_thread` has one CPU that runs only inside
/// [`block_on`](Self::block_on), on the calling thread. `multi_thread(n)`
/// runs `n` worker threads; `block_on` then parks the calling thread.
/// Dropping the runtime shuts the executor down, joins the threads and
/// drains what is left.
#[derive(Debug)]
pub struct Runtime {
    executor: Executor,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Runtime {
    /// One CPU, driven by the thread calling `block_on`.
    ///
    /// # Panics
    ///
    /// Never in practice (one CPU is always a valid count).
    #[must_use]
    pub fn current_thread() -> Self {
        let executor = Executor::new(1, StdPark::new(1), StdClock::new()).expect("one CPU is a valid count");
        Self { executor, threads: Vec::new() }
    }

    /// `workers` worker threads.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::BadCpuCount`] unless `1 <= workers <= MAX_CPUS`.
    ///
    /// # Panics
    ///
    /// If the OS refuses to create a thread.
    pub fn multi_thread(workers: usize) -> Result<Self, ExecutorError> {
        let executor = Executor::new(workers, StdPark::new(workers), StdClock::new())?;
        let threads = (0..workers)
            .map(|cpu| {
                let executor = executor.clone();
                thread::Builder::new()
                    .name(format!("hypha-worker-{cpu}"))
                    .spawn(move || {
                        // Only fails if the CPU is busy or shut down, which
                        // cannot happen for a fresh executor's own threads
                        // before `Drop`.
                        let _result = executor.run_worker(cpu);
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        Ok(Self { executor, threads })
    }

    /// The executor, for spawning and timers.
    #[must_use]
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Spawns a task (see [`Executor::spawn`]).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }

    /// Runs `future` to completion on the calling thread.
    ///
    /// # Panics
    ///
    /// If called from inside a worker of this runtime (current-thread: if
    /// another `block_on` is running).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if self.threads.is_empty() {
            return self.executor.block_on(0, future).expect("current-thread runtime is already running");
        }
        let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.executor.shutdown();
        for thread in self.threads.drain(..) {
            // A worker that panicked has already reported it.
            let _joined = thread.join();
        }
        let _drained = self.executor.drain();
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}
