//! Which process this hart is running, and waiting from synchronous code.
//!
//! While a process task polls its `_start` call, its [`Current`] sits in
//! this hart's slot. Synchronous code reached from a WASI import (a pipe or
//! console read behind `fd_read`, a sleep behind `poll_oneoff`) runs on the
//! process's fiber during that poll, finds the process here, and waits
//! with [`block`]: only that process is suspended (its task returns
//! `Pending`), the hart moves on. The slot is read once, before
//! suspending: after a resume the fiber may be on another hart.

extern crate alloc;

use alloc::sync::Arc;
use core::future::Future;

use hypha_boot_info::MAX_HARTS;
use hypha_wasi::Errno;
use hypha_wasm::Suspender;

use super::table::{ProcShared, RunState};
use crate::sync::SpinLock;

/// The process a hart is running.
#[derive(Debug, Clone)]
pub struct Current {
    pub suspender: Suspender,
    pub shared: Arc<ProcShared>,
}

static SLOTS: [SpinLock<Option<Current>>; MAX_HARTS] = [const { SpinLock::new(None) }; MAX_HARTS];

fn slot() -> &'static SpinLock<Option<Current>> {
    // The per-CPU index is below MAX_HARTS by construction (BootInfo).
    &SLOTS[crate::percpu::current().index % MAX_HARTS]
}

/// Puts `current` in this hart's slot, returning what was there.
pub fn enter(current: Option<Current>) -> Option<Current> {
    core::mem::replace(&mut *slot().lock(), current)
}

/// The process this hart is running, if any.
pub fn get() -> Option<Current> {
    slot().lock().clone()
}

/// Waits for `future` from synchronous code running inside a process's
/// host call, suspending only that process.
///
/// # Errors
/// `Intr` when no process is running here (kernel code, or a process
/// whose call is being torn down after `kill`).
pub fn block<F: Future>(future: F) -> Result<F::Output, Errno> {
    let Some(current) = get() else { return Err(Errno::Intr) };
    current.shared.set_state(RunState::Blocked);
    // SAFETY: the slot holds a process only while its task polls its
    // `_start` call on this hart, so its store is alive and running wasm
    // here, and we are inside one of its host calls (WASI streams and
    // clocks are only reached from those); no reference into the store's
    // call state is held by this code.
    let result = unsafe { current.suspender.block_on(future) };
    current.shared.set_state(RunState::Running);
    result.map_err(|_| Errno::Intr)
}

/// How a process waits for an open file description another call holds
/// (`hypha_wasi::set_description_wait`): it sleeps 1 ms, so its hart runs
/// others meanwhile (the holder may be a blocking read, suspended until
/// some other process writes) and the wait costs next to no CPU. Outside a
/// process it spins.
pub fn wait_for_description() {
    if block(crate::sched::sleep(core::time::Duration::from_millis(1))).is_err() {
        core::hint::spin_loop();
    }
}
