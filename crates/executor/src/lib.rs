//! Tasks, run queues, work stealing and timers for the Hypha kernel.
//!
//! `no_std` + `alloc`; every test here runs on the host. The `std` feature
//! adds host parking and clock (the `host` module) and turns panics inside a task's
//! poll into [`JoinError::Panicked`].
//!
//! What is here:
//!
//! - [`task`]: one allocation per task with a single atomic state word
//!   (the transitions of the design doc `EXECUTOR.md`, each one CAS loop
//!   returning a decision), [`JoinHandle`],
//!   [`yield_now`], and the [`Schedule`](task::Schedule) trait that lets
//!   any scheduler drive tasks.
//! - [`Executor`]: per-CPU workers with a LIFO slot, a bounded stealable
//!   queue, a shared injector, random-victim stealing and parking through
//!   [`Park`]; fallible spawning ([`Executor::try_spawn`]).
//! - [`time`]: a hierarchical timer wheel (6 × 64 slots, 1 ms ticks) driven
//!   by a [`Clock`], with [`Executor::sleep`], [`Executor::sleep_until`] and
//!   [`Executor::timeout`].
//! - [`sync`]: wait primitives (`maitake-sync`'s wait queue, wait cell and
//!   mutex, and our oneshot channel).
//!
//! Not here: parking a CPU, IPIs and reading the `time` CSR (the kernel
//! implements [`Park`] and [`Clock`]), per-hart startup (the kernel calls
//! [`Executor::run_worker`] on each hart), priorities or deadlines, and
//! `!Send` tasks.
//!
//! # Running it on a kernel
//!
//! ```text
//! // Once, on the boot hart:
//! static EXECUTOR: OnceCell<Executor> = OnceCell::new();
//! let executor = Executor::new(hart_count, KernelPark::new(), TimeCsr)?;
//! EXECUTOR.set(executor.clone());
//! executor.spawn(kernel_main());
//! // On every hart `cpu` (including the boot hart), never returns until
//! // `shutdown`:
//! EXECUTOR.get().unwrap().run_worker(cpu)?;
//! // Anywhere (interrupt handlers included, if the allocator allows):
//! EXECUTOR.get().unwrap().try_spawn(driver_task())?;
//! ```
//!
//! `KernelPark` records the hart's worker index in hart-local storage on
//! [`Park::enter`], returns it from [`Park::current_cpu`], parks with WFI
//! (arming the SBI timer for the timeout) and unparks with an IPI plus a
//! per-hart pending flag so an unpark before the WFI is not lost.
//!
//! The injector and the timer wheel are spinlocks: code that can interrupt
//! a hart holding one (an interrupt handler waking a task) must run with
//! that hart's interrupts masked around executor calls, or defer the wake
//! to a worker, or it can deadlock on its own hart.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod loom;
mod platform;
mod scheduler;

#[cfg(feature = "std")]
pub mod host;
pub mod sync;
pub mod task;
pub mod time;

pub use platform::{Clock, Park};
pub use scheduler::{Executor, ExecutorError, MAX_CPUS};
pub use task::{Builder, JoinError, JoinHandle, SpawnError, TaskId, yield_now};
