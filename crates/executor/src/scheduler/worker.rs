//! One CPU's worker loop.

use super::{Executor, ExecutorError, Shared};
use crate::loom::atomic::{self, AtomicBool, Ordering};
use crate::task::TaskRef;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, Waker};

/// Tasks polled per tick before timers and the injector get a look (a
/// tick ends earlier when the platform or the caller asks: see
/// [`Worker::tick`]).
const BATCH: usize = 61;
/// Every this many polls the injector goes first, even with local work, so
/// a task there waits at most this many polls on a busy CPU.
const INJECTOR_INTERVAL: u32 = 31;
/// Consecutive LIFO-slot polls before the local queue gets a turn.
const LIFO_LIMIT: u32 = 3;

/// The worker state owned by the CPU running the loop.
pub(super) struct Worker<'a> {
    shared: &'a Shared,
    cpu: usize,
    rng: u32,
    polls: u32,
    lifo_streak: u32,
}

// === impl Worker ===

impl<'a> Worker<'a> {
    /// Claims CPU `cpu` for the calling thread.
    pub(super) fn enter(shared: &'a Shared, cpu: usize) -> Result<Self, ExecutorError> {
        if shared.shutdown.load(Ordering::Acquire) {
            return Err(ExecutorError::Shutdown);
        }
        let slot = shared.cpus.get(cpu).ok_or(ExecutorError::NoSuchCpu { cpu })?;
        if slot.active.swap(true, Ordering::AcqRel) {
            return Err(ExecutorError::CpuBusy { cpu });
        }
        shared.park.enter(cpu);
        let seed = u32::try_from(cpu % 0x7fff_ffff).unwrap_or(0);
        Ok(Self { shared, cpu, rng: seed.wrapping_mul(0x9e37_79b9) | 1, polls: 0, lifo_streak: 0 })
    }

    /// Runs ticks until shutdown or `done()`, parking when idle.
    pub(super) fn run_until(&mut self, done: &dyn Fn() -> bool) {
        while !self.shared.shutdown.load(Ordering::Acquire) && !done() {
            if !self.tick(done) {
                self.park(done);
            }
        }
    }

    /// One round of work; returns whether anything ran.
    ///
    /// Polls up to [`BATCH`] tasks (every [`INJECTOR_INTERVAL`]th poll
    /// takes the injector's first task), then fires due timers, then, with
    /// no local work, refills from the injector or steals. The batch ends
    /// early when `stop()` says so (`block_on`'s root was woken) or the
    /// platform's [`between_polls`](crate::Park::between_polls) does: a
    /// poll may be long (a process's whole time slice), and neither timers
    /// nor the root future may wait for 61 of them.
    pub(super) fn tick(&mut self, stop: &dyn Fn() -> bool) -> bool {
        let mut did_work = false;
        for _ in 0..BATCH {
            self.polls = self.polls.wrapping_add(1);
            let injected = if self.polls.is_multiple_of(INJECTOR_INTERVAL) { self.shared.injector.pop() } else { None };
            let Some(task) = injected.or_else(|| self.next_local()) else { break };
            self.run(task);
            did_work = true;
            if self.shared.park.between_polls(self.cpu) || stop() {
                break;
            }
        }
        if self.shared.timer.is_armed() && self.shared.timer.fire_due(self.shared.timer.now()) > 0 {
            did_work = true;
        }
        if self.local_is_empty() {
            if self.refill_from_injector() {
                did_work = true;
            } else if let Some(task) = self.steal() {
                self.run(task);
                did_work = true;
            }
        }
        did_work
    }

    fn local_is_empty(&self) -> bool {
        let slot = &self.shared.cpus[self.cpu];
        slot.next.load(Ordering::Relaxed).is_null() && slot.queue.is_empty()
    }

    /// The LIFO slot (unless it had its turn), else the local queue.
    fn next_local(&mut self) -> Option<TaskRef> {
        let slot = &self.shared.cpus[self.cpu];
        if self.lifo_streak < LIFO_LIMIT
            && let Some(task) = take_next(slot)
        {
            self.lifo_streak += 1;
            return Some(task);
        }
        self.lifo_streak = 0;
        // SAFETY: we are this CPU's worker (we hold `active`).
        if let Some(task) = unsafe { slot.queue.pop() } {
            return Some(task);
        }
        take_next(slot)
    }

    fn run(&mut self, task: TaskRef) {
        let slot = &self.shared.cpus[self.cpu];
        slot.in_poll.store(true, Ordering::Relaxed);
        let again = task.run();
        slot.in_poll.store(false, Ordering::Relaxed);
        if let Some(task) = again {
            self.shared.push_local(self.cpu, task);
        }
    }

    /// Moves a fair share of the injector onto the local queue.
    fn refill_from_injector(&mut self) -> bool {
        let waiting = self.shared.injector.len();
        if waiting == 0 {
            return false;
        }
        let share = (waiting / self.shared.cpus.len() + 1).min(super::queue::CAPACITY / 2);
        let slot = &self.shared.cpus[self.cpu];
        let moved = self.shared.injector.pop_batch(share, |task| {
            // SAFETY: we are this CPU's worker. The queue is empty and the
            // share is at most half its capacity, so this cannot overflow;
            // if it ever did, the task goes back to the injector.
            if let Err(task) = unsafe { slot.queue.push(task) } {
                self.shared.injector.push(task);
            }
        });
        if moved > 1 {
            self.shared.notify_parked();
        }
        moved > 0
    }

    /// Steals half the queue of a random other CPU.
    fn steal(&mut self) -> Option<TaskRef> {
        let count = self.shared.cpus.len();
        if count == 1 {
            return None;
        }
        let start = self.next_random() as usize % count;
        let own = &self.shared.cpus[self.cpu].queue;
        for offset in 0..count {
            let victim = (start + offset) % count;
            if victim == self.cpu {
                continue;
            }
            // SAFETY: we own `own` (our CPU's queue), the destination.
            if let Some(task) = unsafe { self.shared.cpus[victim].queue.steal_into(own) } {
                if !own.is_empty() {
                    self.shared.notify_parked();
                }
                return Some(task);
            }
        }
        None
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }

    /// Whether any queue has work for us (used after publishing `parked`).
    fn has_work(&self) -> bool {
        !self.local_is_empty()
            || !self.shared.injector.is_empty()
            || self.shared.cpus.iter().any(|cpu| !cpu.queue.is_empty())
            || self.shared.timer.is_due(self.shared.timer.now())
    }

    /// Parks until unparked or the next timer is due.
    fn park(&mut self, done: &dyn Fn() -> bool) {
        let bit = 1_u64 << self.cpu;
        self.shared.parked.fetch_or(bit, Ordering::SeqCst);
        // Pairs with the fence in `notify_parked`: either the notifier sees
        // our bit, or we see its work here.
        atomic::fence(Ordering::SeqCst);
        if self.has_work() || done() || self.shared.shutdown.load(Ordering::Acquire) {
            self.shared.parked.fetch_and(!bit, Ordering::SeqCst);
            return;
        }
        let timeout = self.shared.timer.until_next(self.shared.timer.now());
        self.shared.park.park(self.cpu, timeout);
        self.shared.parked.fetch_and(!bit, Ordering::SeqCst);
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.shared.park.exit(self.cpu);
        let slot = &self.shared.cpus[self.cpu];
        // Work left in the LIFO slot must stay reachable by other workers.
        if let Some(task) = take_next(slot) {
            self.shared.injector.push(task);
        }
        // Likewise the local queue: stealers can still take it, but no one
        // would notice it when parking if every other CPU is idle.
        if !slot.queue.is_empty() {
            self.shared.notify_parked();
        }
        slot.active.store(false, Ordering::Release);
    }
}

/// Takes the LIFO slot's task.
fn take_next(slot: &super::Cpu) -> Option<TaskRef> {
    let task = slot.next.swap(ptr::null_mut(), Ordering::Relaxed);
    // SAFETY: a non-null slot holds a queue reference, now ours.
    NonNull::new(task).map(|task| unsafe { TaskRef::from_raw(task) })
}

/// The waker of a `block_on` future: flags it and unparks its CPU.
struct RootWaker {
    woken: AtomicBool,
    executor: Executor,
    cpu: usize,
}

impl Wake for RootWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        atomic::fence(Ordering::SeqCst);
        if self.executor.shared.parked.load(Ordering::Relaxed) & (1 << self.cpu) != 0 {
            self.executor.shared.unpark_cpu(self.cpu);
        }
    }
}

/// Drives `worker` while polling `future` on the same CPU.
pub(super) fn block_on<F: Future>(mut worker: Worker<'_>, executor: Executor, future: F) -> Result<F::Output, ExecutorError> {
    let cpu = worker.cpu;
    let root = Arc::new(RootWaker { woken: AtomicBool::new(true), executor, cpu });
    let waker = Waker::from(Arc::clone(&root));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if worker.shared.shutdown.load(Ordering::Acquire) {
            return Err(ExecutorError::Shutdown);
        }
        if root.woken.swap(false, Ordering::AcqRel)
            && let Poll::Ready(output) = future.as_mut().poll(&mut cx)
        {
            return Ok(output);
        }
        if !worker.tick(&|| root.woken.load(Ordering::Acquire)) && !root.woken.load(Ordering::Acquire) {
            worker.park(&|| root.woken.load(Ordering::Acquire));
        }
    }
}
