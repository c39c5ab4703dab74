//! The kernel side of the executor: every hart runs a `hypha-executor`
//! worker, parks in `wfi` when idle, and is woken by an IPI.
//!
//! - [`init`] (boot hart, after `mem::init`) makes the one [`Executor`],
//!   with one worker slot per hart in `BootInfo` order (worker `i` runs on
//!   the hart whose per-CPU `index` is `i`).
//! - [`run_worker`] runs this hart's worker loop for good: secondary harts
//!   call it right after their boot line, the boot hart after spawning the
//!   debug console. In `ktest` mode the boot hart runs the test runner
//!   instead and enters its worker only inside [`block_on`].
//! - [`park`]: the kernel `Park` (publish "in wfi", re-check the wake token,
//!   `wfi`, IPI only to a hart that is in `wfi`) and the per-hart idle/busy
//!   counters.
//! - [`clock`]: the kernel `Clock` from the `time` CSR. The timer wheel's
//!   next deadline becomes the hart's timer-interrupt deadline when it
//!   parks (on top of the periodic tick of `crate::timer`).
//! - [`irq`]: how interrupt handlers wake tasks without taking executor
//!   locks on a hart that may hold them.
//! - [`registry`]: every task spawned through [`spawn`], with its state
//!   and poll count, for the console's `ps`.
//!
//! Not here: priorities, preemption of a running task (a task runs until it
//! returns `Pending`), CPU affinity.

mod clock;
pub mod irq;
pub mod park;
pub mod registry;

#[cfg(feature = "ktest")]
mod tests;

use crate::sync::Once;
use core::future::Future;
use core::time::Duration;
use hypha_executor::time::{Sleep, Timeout};
use hypha_executor::{Builder, Executor, ExecutorError, JoinHandle, SpawnError};

static EXECUTOR: Once<Executor> = Once::new();

/// Makes the kernel's executor with a worker slot for each of `harts` harts.
///
/// # Errors
///
/// [`ExecutorError::BadCpuCount`] for 0 or more than
/// [`hypha_executor::MAX_CPUS`] harts.
pub fn init(harts: usize) -> Result<(), ExecutorError> {
    let executor = Executor::new(harts, park::KernelPark, clock::TimeCsr)?;
    EXECUTOR.set(executor);
    Ok(())
}

/// Spawns a named task, listed by `ps` until its future is dropped.
///
/// # Errors
///
/// [`SpawnError::OutOfMemory`] when the task cannot be allocated,
/// [`SpawnError::Shutdown`] before [`init`] or after shutdown.
pub fn spawn<F>(name: &'static str, future: F) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let executor = EXECUTOR.get().ok_or(SpawnError::Shutdown)?;
    executor.try_spawn_with(Builder::new().name(name), registry::Tracked::new(name, future))
}

/// Runs this hart's worker loop; returns only if the executor is missing
/// or refuses this hart (then the hart idles in `wfi`, answering IPIs).
pub fn run_worker() -> ! {
    let per_cpu = crate::percpu::current();
    match EXECUTOR.get() {
        Some(executor) => {
            if let Err(error) = executor.run_worker(per_cpu.index) {
                log::error!("hart {}: worker {} stopped: {error}", per_cpu.hart_id, per_cpu.index);
            }
        }
        None => log::error!("hart {}: no executor, idling", per_cpu.hart_id),
    }
    loop {
        crate::arch::wait_for_interrupt();
    }
}

/// Runs this hart's worker while polling `future` here, until it completes
/// (the in-kernel tests' way to run async code from a plain `fn`).
///
/// # Panics
///
/// If the executor is missing or this hart already runs its worker (called
/// from inside a task): both are kernel bugs.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests block on futures so far"))]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let Some(executor) = EXECUTOR.get() else { panic!("sched::block_on before sched::init") };
    match executor.block_on(crate::percpu::current().index, future) {
        Ok(output) => output,
        Err(error) => panic!("sched::block_on: {error}"),
    }
}

/// A future that completes `duration` from now.
///
/// # Panics
///
/// Before [`init`] (a kernel bug: nothing runs tasks before it).
pub fn sleep(duration: Duration) -> Sleep {
    let Some(executor) = EXECUTOR.get() else { panic!("sched::sleep before sched::init") };
    executor.sleep(duration)
}

/// Runs `future` for at most `duration`.
///
/// # Panics
///
/// Before [`init`] (a kernel bug: nothing runs tasks before it).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests use timeouts so far"))]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    let Some(executor) = EXECUTOR.get() else { panic!("sched::timeout before sched::init") };
    executor.timeout(duration, future)
}

/// The tail of every interrupt (called by `trap::handle`).
pub fn after_interrupt() {
    irq::after_interrupt();
}
