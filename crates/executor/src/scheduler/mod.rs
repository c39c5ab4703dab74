//! The executor: per-CPU workers, run queues, work stealing and parking.
//!
//! Per CPU: a LIFO "next" slot (a task woken by the running task runs next,
//! so ping-pong stays on one CPU), a bounded stealable [`LocalQueue`], and
//! one shared [`Injector`] for spawns and wakes from outside a worker. A
//! tick polls a bounded batch, then fires due timers, then refills from the
//! injector, then steals half of a random victim's queue. An idle worker
//! publishes itself in the `parked` bitmap, re-checks every queue, and only
//! then parks; wakes unpark only CPUs whose bit is set.

mod injector;
mod queue;
mod worker;

// Host tests need real threads and clocks; loom builds run the models.
#[cfg(all(test, not(loom)))]
mod tests;

use crate::loom::atomic::{self, AtomicBool, AtomicPtr, AtomicU64, Ordering};
use crate::platform::{Clock, Park};
use crate::task::{self, Builder, Header, JoinHandle, Schedule, SpawnError, TaskRef};
use crate::time::{Instant, Sleep, Timeout, Timer};
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::ptr::{self, NonNull};
use core::time::Duration;
use injector::Injector;
use queue::LocalQueue;

/// Most CPUs one executor drives (the parked bitmap is one `u64`).
pub const MAX_CPUS: usize = 64;

/// A handle to an executor. Cheap to clone; every clone is the same
/// executor. Spawning works from any thread or CPU, worker or not.
#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
}

/// Creating an executor or entering a worker failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecutorError {
    /// `cpus` was 0 or more than [`MAX_CPUS`].
    BadCpuCount {
        /// The count given.
        cpus: usize,
    },
    /// The CPU index is not below the executor's CPU count.
    NoSuchCpu {
        /// The index given.
        cpu: usize,
    },
    /// Another worker loop is already running this CPU.
    CpuBusy {
        /// The index given.
        cpu: usize,
    },
    /// [`Executor::shutdown`] was called.
    Shutdown,
}

impl fmt::Display for ExecutorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadCpuCount { cpus } => write!(f, "bad CPU count {cpus} (must be 1..={MAX_CPUS})"),
            Self::NoSuchCpu { cpu } => write!(f, "no CPU {cpu} in this executor"),
            Self::CpuBusy { cpu } => write!(f, "CPU {cpu} already runs a worker"),
            Self::Shutdown => f.write_str("executor is shut down"),
        }
    }
}

impl core::error::Error for ExecutorError {}

/// Everything the workers share.
pub(crate) struct Shared {
    cpus: Box<[Cpu]>,
    injector: Injector,
    /// Bit `i` set: CPU `i` is parked (or about to park) and needs an unpark.
    parked: AtomicU64,
    shutdown: AtomicBool,
    pub(crate) timer: Timer,
    park: Box<dyn Park>,
}

/// One CPU's scheduling state.
struct Cpu {
    queue: LocalQueue,
    /// The LIFO slot: written and taken only by this CPU's worker.
    next: AtomicPtr<Header>,
    /// The worker is inside a task poll (wakes from it may use `next`).
    /// Written and read only by this CPU's worker.
    in_poll: AtomicBool,
    /// A worker loop runs this CPU.
    active: AtomicBool,
}

// === impl Executor ===

impl Executor {
    /// An executor for `cpus` workers, parked through `park` and timed by
    /// `clock`. No worker runs until [`run_worker`](Self::run_worker) or
    /// [`block_on`](Self::block_on) is called for it.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::BadCpuCount`] unless `1 <= cpus <= MAX_CPUS`.
    pub fn new(cpus: usize, park: impl Park, clock: impl Clock) -> Result<Self, ExecutorError> {
        if cpus == 0 || cpus > MAX_CPUS {
            return Err(ExecutorError::BadCpuCount { cpus });
        }
        let cpus = (0..cpus)
            .map(|_| Cpu {
                queue: LocalQueue::new(),
                next: AtomicPtr::new(ptr::null_mut()),
                in_poll: AtomicBool::new(false),
                active: AtomicBool::new(false),
            })
            .collect();
        let shared = Shared {
            cpus,
            injector: Injector::new(),
            parked: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
            timer: Timer::new(Box::new(clock)),
            park: Box::new(park),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Number of CPUs (workers) this executor was made for.
    #[must_use]
    pub fn cpus(&self) -> usize {
        self.shared.cpus.len()
    }

    /// Spawns a task.
    ///
    /// # Panics
    ///
    /// Aborts through `handle_alloc_error` if the task cannot be allocated,
    /// and panics if the executor was shut down; use
    /// [`try_spawn`](Self::try_spawn) where either must be handled.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.try_spawn_with(Builder::new(), future) {
            Ok(join) => join,
            Err(SpawnError::OutOfMemory) => {
                alloc::alloc::handle_alloc_error(alloc::alloc::Layout::new::<F>())
            }
            Err(error) => panic!("spawn failed: {error}"),
        }
    }

    /// Spawns a task, reporting allocation failure instead of aborting.
    ///
    /// # Errors
    ///
    /// [`SpawnError::OutOfMemory`] if the task allocation failed,
    /// [`SpawnError::Shutdown`] after [`shutdown`](Self::shutdown).
    pub fn try_spawn<F>(&self, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_with(Builder::new(), future)
    }

    /// [`try_spawn`](Self::try_spawn) with a name and other attributes.
    ///
    /// # Errors
    ///
    /// As [`try_spawn`](Self::try_spawn).
    pub fn try_spawn_with<F>(&self, builder: Builder, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.shared.shutdown.load(Ordering::Acquire) {
            return Err(SpawnError::Shutdown);
        }
        let (task, join) = task::allocate(future, self.clone(), builder)?;
        self.shared.schedule_spawned(task);
        Ok(join)
    }

    /// Runs the worker loop for CPU `cpu` on the calling thread/hart until
    /// [`shutdown`](Self::shutdown).
    ///
    /// # Errors
    ///
    /// [`ExecutorError::NoSuchCpu`], [`ExecutorError::CpuBusy`] if another
    /// loop runs that CPU, [`ExecutorError::Shutdown`] once shut down.
    pub fn run_worker(&self, cpu: usize) -> Result<(), ExecutorError> {
        let mut worker = worker::Worker::enter(&self.shared, cpu)?;
        worker.run_until(&|| false);
        Ok(())
    }

    /// Runs the worker loop for CPU `cpu` on the calling thread/hart while
    /// polling `future` there too, until `future` completes. On a one-CPU
    /// executor this is a "current thread" runtime.
    ///
    /// # Errors
    ///
    /// As [`run_worker`](Self::run_worker); also `Shutdown` if the executor
    /// is shut down before `future` completes.
    pub fn block_on<F: Future>(&self, cpu: usize, future: F) -> Result<F::Output, ExecutorError> {
        let worker = worker::Worker::enter(&self.shared, cpu)?;
        worker::block_on(worker, self.clone(), future)
    }

    /// Stops every worker loop after its current tick; later spawns fail.
    /// Queued tasks stay queued until [`drain`](Self::drain).
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::Release);
        for cpu in 0..self.shared.cpus.len() {
            self.shared.park.unpark(cpu);
        }
    }

    /// After [`shutdown`](Self::shutdown) and once no worker loop runs:
    /// fires every timer and cancels every queued task (dropping its future
    /// on the calling thread), repeating until nothing is left. Tasks that
    /// are not queued and not waiting on a timer (woken by something
    /// outside the executor) are left to their owners.
    ///
    /// # Errors
    ///
    /// [`ExecutorError::Shutdown`] is never returned; `CpuBusy` if a worker
    /// loop still runs.
    pub fn drain(&self) -> Result<(), ExecutorError> {
        let shared = &*self.shared;
        for (index, cpu) in shared.cpus.iter().enumerate() {
            if cpu.active.load(Ordering::Acquire) {
                return Err(ExecutorError::CpuBusy { cpu: index });
            }
        }
        loop {
            let mut found = shared.timer.fire_until(u64::MAX);
            for (index, cpu) in shared.cpus.iter().enumerate() {
                // Claim the CPU so we may act as its owner.
                if cpu.active.swap(true, Ordering::AcqRel) {
                    return Err(ExecutorError::CpuBusy { cpu: index });
                }
                let next = cpu.next.swap(ptr::null_mut(), Ordering::AcqRel);
                if let Some(next) = NonNull::new(next) {
                    // SAFETY: the slot held a queue reference, now ours.
                    shutdown_task(unsafe { TaskRef::from_raw(next) });
                    found += 1;
                }
                // SAFETY: we claimed the CPU (`active`), so we are its owner.
                while let Some(task) = unsafe { cpu.queue.pop() } {
                    shutdown_task(task);
                    found += 1;
                }
                cpu.active.store(false, Ordering::Release);
            }
            while let Some(task) = shared.injector.pop() {
                shutdown_task(task);
                found += 1;
            }
            if found == 0 {
                return Ok(());
            }
        }
    }

    /// Now, on the executor's clock.
    #[must_use]
    pub fn now(&self) -> Instant {
        self.shared.timer.now()
    }

    /// A future that completes `duration` from now.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(self.clone(), self.now() + duration)
    }

    /// A future that completes at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(self.clone(), deadline)
    }

    /// Runs `future` for at most `duration`.
    pub fn timeout<F: Future>(&self, duration: Duration, future: F) -> Timeout<F> {
        Timeout::new(future, self.sleep(duration))
    }
}

/// Cancels a task we hold a queue reference to and drops its future here.
fn shutdown_task(task: TaskRef) {
    let _cancel = task.header().state.cancel();
    drop(task.run());
}

impl Schedule for Executor {
    fn schedule(&self, task: TaskRef) {
        self.shared.schedule_woken(task);
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("cpus", &self.shared.cpus.len())
            .field("injector", &self.shared.injector)
            .field("parked", &format_args!("{:#b}", self.shared.parked.load(Ordering::Relaxed)))
            .field("timer", &self.shared.timer)
            .finish_non_exhaustive()
    }
}

// === impl Shared ===

impl Shared {
    /// A woken task: into the LIFO slot if woken by a task running on this
    /// CPU, onto this CPU's queue if woken elsewhere on a worker, else into
    /// the injector.
    fn schedule_woken(&self, task: TaskRef) {
        let Some(cpu) = self.park.current_cpu() else {
            self.injector.push(task);
            self.notify_parked();
            return;
        };
        let slot = &self.cpus[cpu];
        if slot.in_poll.load(Ordering::Relaxed) {
            let previous = slot.next.swap(task.into_raw().as_ptr(), Ordering::Relaxed);
            if let Some(previous) = NonNull::new(previous) {
                // SAFETY: the slot held a queue reference; it is now ours.
                self.push_local(cpu, unsafe { TaskRef::from_raw(previous) });
            }
            return;
        }
        self.push_local(cpu, task);
    }

    /// A new task: onto this CPU's queue (behind ready tasks) if spawned on
    /// a worker, else into the injector.
    fn schedule_spawned(&self, task: TaskRef) {
        match self.park.current_cpu() {
            Some(cpu) => self.push_local(cpu, task),
            None => {
                self.injector.push(task);
                self.notify_parked();
            }
        }
    }

    /// Pushes onto CPU `cpu`'s queue (overflowing half into the injector)
    /// and lets a parked CPU know there is work to steal.
    fn push_local(&self, cpu: usize, task: TaskRef) {
        let slot = &self.cpus[cpu];
        // SAFETY: `current_cpu` said we are CPU `cpu`'s worker (Park
        // contract 1), the only one that may push to its queue.
        if let Err(task) = unsafe { slot.queue.push(task) } {
            // SAFETY: as above.
            match unsafe { slot.queue.take_half() } {
                Some(mut batch) => {
                    let task = task.into_raw();
                    // SAFETY: we own both the batch and `task`'s reference.
                    unsafe { batch.last.as_ref() }.queue_next.with_mut(|link| unsafe { *link = Some(task) });
                    // SAFETY: as above.
                    unsafe { task.as_ref() }.queue_next.with_mut(|link| unsafe { *link = None });
                    batch.last = task;
                    batch.len += 1;
                    self.injector.push_linked(batch);
                }
                None => self.injector.push(task),
            }
        }
        if self.cpus.len() > 1 {
            self.notify_parked();
        }
    }

    /// Unparks one parked CPU, if any.
    fn notify_parked(&self) {
        // Pairs with the fence in `Worker::park`: either we see its parked
        // bit, or it sees the task we just queued.
        atomic::fence(Ordering::SeqCst);
        let parked = self.parked.load(Ordering::Relaxed);
        if parked == 0 {
            return;
        }
        let cpu = parked.trailing_zeros() as usize;
        self.unpark_cpu(cpu);
    }

    /// Unparks CPU `cpu` if it is parked.
    fn unpark_cpu(&self, cpu: usize) {
        let bit = 1_u64 << cpu;
        if self.parked.fetch_and(!bit, Ordering::SeqCst) & bit != 0 {
            self.park.unpark(cpu);
        }
    }

    /// A timer was armed earlier than before: a parked CPU may be sleeping
    /// past it. Workers recompute their timeout before parking, so only a
    /// registration from outside a worker needs to unpark one.
    pub(crate) fn timer_rearmed(&self) {
        if self.park.current_cpu().is_none() {
            self.notify_parked();
        }
    }
}
