//! Tasks, run queues, work stealing and timers for the Hypha kernel.
//!
//! `no_std` + `alloc`; every test here runs on the host. The `std` feature
//! adds host parking and clock ([`host`]) and turns panics inside a task's
//! poll into [`JoinError::Panicked`].
//!
//! What is here:
//!
//! - [`task`]: one allocation per task with a single atomic state word
//!   (see `docs`/`EXECUTOR.md` for the transitions), [`JoinHandle`],
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
//! [`Executor::run_worker`] on each hart), and priorities or deadlines.
#![no_std]

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
