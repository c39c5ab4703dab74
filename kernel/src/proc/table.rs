//! The process table: pids, parents, names, states, exit statuses, quotas
//! and accounting. One lock over a `BTreeMap` by pid; a process's live
//! counters (state, CPU time, memory) are atomics in its [`ProcShared`],
//! which its task, its host calls and the table share.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use core::task::Waker;

use super::event::Event;
use crate::sync::SpinLock;

/// A process id (≥ 1); 0 names the kernel as a parent.
pub type Pid = u32;

/// At most this many processes (zombies included) exist at once.
pub const MAX_PROCESSES: usize = 1024;
/// At most this many children (zombies included) per process. Processes
/// the kernel starts (parent 0) count only against [`MAX_PROCESSES`].
pub const MAX_CHILDREN: usize = 64;

/// What a process is doing (the `ps` record's state field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RunState {
    /// On a hart right now.
    Running = 0,
    /// Waiting for a hart (preempted, yielded, or not started).
    Ready = 1,
    /// Suspended in a host call (wait, sleep, a read).
    Blocked = 2,
    /// Ended; only its exit status is left.
    Zombie = 3,
}

impl RunState {
    /// The short name `ps` prints.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Ready => "ready",
            RunState::Blocked => "blocked",
            RunState::Zombie => "zombie",
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// `proc_exit(code)` or a return from `_start` (code 0).
    Exited(u32),
    /// A trap: the host ABI's trap code and the message.
    Trapped { code: u32, message: String },
    /// `kill`.
    Killed,
}

/// The live part of a process, shared by its task, its host calls and the
/// table.
#[derive(Debug)]
pub struct ProcShared {
    pub pid: Pid,
    state: AtomicU8,
    killed: AtomicBool,
    /// Held at spawn (`SpawnOptions::stopped`) until [`super::resume`].
    stopped: AtomicBool,
    /// CPU time in `time` ticks (summed over the task's polls).
    pub cpu_ticks: AtomicU64,
    /// Linear memory size in 64 KiB pages, as last seen.
    pub memory_pages: AtomicU64,
    /// Start of the linear memory's reservation, as last seen (0: not yet),
    /// to ask the memory manager how much of it is committed.
    pub memory_base: AtomicUsize,
    /// The process task's waker (for kill and resume).
    waker: SpinLock<Option<Waker>>,
}

impl ProcShared {
    fn new(pid: Pid, stopped: bool) -> Self {
        Self {
            pid,
            state: AtomicU8::new(RunState::Ready as u8),
            killed: AtomicBool::new(false),
            stopped: AtomicBool::new(stopped),
            cpu_ticks: AtomicU64::new(0),
            memory_pages: AtomicU64::new(0),
            memory_base: AtomicUsize::new(0),
            waker: SpinLock::new(None),
        }
    }

    /// The current state.
    pub fn state(&self) -> RunState {
        match self.state.load(Ordering::Relaxed) {
            0 => RunState::Running,
            1 => RunState::Ready,
            2 => RunState::Blocked,
            _ => RunState::Zombie,
        }
    }

    pub fn set_state(&self, state: RunState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Remembers the task's waker (each poll).
    pub fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake(&self) {
        let waker = self.waker.lock().clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// One row of the table.
#[derive(Debug)]
struct Entry {
    parent: Pid,
    name: String,
    started_ns: u64,
    shared: Arc<ProcShared>,
    /// `Some` once it ended (a zombie).
    exit: Option<ExitStatus>,
}

#[derive(Debug)]
struct Table {
    procs: BTreeMap<Pid, Entry>,
    last_pid: Pid,
}

static TABLE: SpinLock<Table> = SpinLock::new(Table { procs: BTreeMap::new(), last_pid: 0 });
/// Notified whenever a process ends (waiters re-check their child).
pub static ENDED: Event = Event::new();

/// Why a process cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaError {
    /// [`MAX_PROCESSES`] or the parent's [`MAX_CHILDREN`] reached.
    Again,
}

/// Adds a process (state ready) under the next free pid.
///
/// # Errors
/// [`QuotaError::Again`] when a process quota is reached.
pub fn insert(parent: Pid, name: &str, stopped: bool) -> Result<Arc<ProcShared>, QuotaError> {
    let mut table = TABLE.lock();
    if table.procs.len() >= MAX_PROCESSES {
        return Err(QuotaError::Again);
    }
    if parent != 0 && table.procs.values().filter(|e| e.parent == parent).count() >= MAX_CHILDREN {
        return Err(QuotaError::Again);
    }
    let mut pid = table.last_pid;
    loop {
        pid = if pid >= i32::MAX.unsigned_abs() { 1 } else { pid + 1 };
        if !table.procs.contains_key(&pid) {
            break;
        }
    }
    table.last_pid = pid;
    let shared = Arc::new(ProcShared::new(pid, stopped));
    let entry = Entry {
        parent,
        name: short_name(name),
        started_ns: crate::time::uptime_us().saturating_mul(1000),
        shared: shared.clone(),
        exit: None,
    };
    table.procs.insert(pid, entry);
    Ok(shared)
}

/// The last path component without `.wasm`, at most 32 bytes.
fn short_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let base = base.strip_suffix(".wasm").unwrap_or(base);
    let mut end = base.len().min(32);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    String::from(&base[..end])
}

/// Removes a process that never ran (its spawn failed after `insert`).
pub fn remove(pid: Pid) {
    let entry = TABLE.lock().procs.remove(&pid);
    drop(entry);
}

/// Records that `pid` ended: it becomes a zombie, or is reaped at once if
/// its parent is the kernel-detached kind or gone. Its own zombie children
/// are reaped, its live children are re-parented to the kernel (and reaped
/// when they end).
pub fn exit(pid: Pid, status: ExitStatus, reap_now: bool) {
    let mut dead = Vec::new();
    {
        let mut table = TABLE.lock();
        let parent = table.procs.get(&pid).map_or(0, |e| e.parent);
        let parent_alive = parent != 0 && table.procs.get(&parent).is_some_and(|e| e.exit.is_none());
        let orphan = (parent != 0 && !parent_alive) || take_detached(pid);
        if let Some(entry) = table.procs.get_mut(&pid) {
            entry.shared.set_state(RunState::Zombie);
            entry.exit = Some(status);
        }
        if reap_now || orphan {
            dead.extend(table.procs.remove(&pid));
        }
        let children: Vec<Pid> = table.procs.iter().filter(|(_, e)| e.parent == pid).map(|(p, _)| *p).collect();
        for child in children {
            let zombie = table.procs.get(&child).is_some_and(|e| e.exit.is_some());
            if zombie {
                dead.extend(table.procs.remove(&child));
            } else if let Some(entry) = table.procs.get_mut(&child) {
                entry.parent = 0;
                detach(child);
            }
        }
    }
    drop(dead);
    ENDED.notify_all();
}

/// Pids whose processes are reaped by the kernel when they end.
static DETACHED: SpinLock<BTreeMap<Pid, ()>> = SpinLock::new(BTreeMap::new());

fn detach(pid: Pid) {
    DETACHED.lock().insert(pid, ());
}

/// Whether `pid` was re-parented to the kernel (reap it when it ends);
/// forgets it.
fn take_detached(pid: Pid) -> bool {
    DETACHED.lock().remove(&pid).is_some()
}

/// Why `wait` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    /// No such process.
    NoSuchProcess,
    /// Not a child of the caller.
    NotChild,
}

/// `Some(status)` and reaps `pid` if it is a zombie child of `parent`;
/// `None` if it is still alive.
///
/// # Errors
/// [`WaitError`] if `pid` does not exist or is not `parent`'s child.
pub fn try_reap(parent: Pid, pid: Pid) -> Result<Option<ExitStatus>, WaitError> {
    let mut table = TABLE.lock();
    let entry = table.procs.get(&pid).ok_or(WaitError::NoSuchProcess)?;
    if entry.parent != parent {
        return Err(WaitError::NotChild);
    }
    if entry.exit.is_none() {
        return Ok(None);
    }
    let entry = table.procs.remove(&pid);
    drop(table);
    Ok(entry.and_then(|e| e.exit))
}

/// Why `kill` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillError {
    NoSuchProcess,
    /// Pid 1 by another process.
    NotAllowed,
}

/// Marks `pid` killed and wakes its task (see [`super::kill`]).
///
/// # Errors
/// [`KillError`].
pub fn kill(caller: Pid, pid: Pid) -> Result<(), KillError> {
    if pid == 1 && caller != 1 && caller != 0 {
        return Err(KillError::NotAllowed);
    }
    let shared = {
        let table = TABLE.lock();
        let entry = table.procs.get(&pid).ok_or(KillError::NoSuchProcess)?;
        if entry.exit.is_some() {
            return Ok(());
        }
        entry.shared.clone()
    };
    shared.killed.store(true, Ordering::Release);
    shared.wake();
    Ok(())
}

/// Lets a process spawned stopped start running.
pub fn resume(pid: Pid) {
    let shared = TABLE.lock().procs.get(&pid).map(|e| e.shared.clone());
    if let Some(shared) = shared {
        shared.stopped.store(false, Ordering::Release);
        shared.wake();
    }
}

/// One process as `ps` shows it.
#[derive(Debug, Clone)]
pub struct ProcInfo {
    pub pid: Pid,
    pub parent: Pid,
    pub state: RunState,
    pub memory_pages: u64,
    /// Bytes of linear memory backed by frames (touched at least once).
    pub committed_bytes: u64,
    pub cpu_ns: u64,
    pub started_ns: u64,
    pub name: String,
}

/// Every process, by pid.
pub fn list() -> Vec<ProcInfo> {
    let table = TABLE.lock();
    table
        .procs
        .iter()
        .map(|(pid, e)| ProcInfo {
            pid: *pid,
            parent: e.parent,
            state: if e.exit.is_some() { RunState::Zombie } else { e.shared.state() },
            memory_pages: e.shared.memory_pages.load(Ordering::Relaxed),
            committed_bytes: if e.exit.is_some() { 0 } else { committed_bytes(&e.shared) },
            cpu_ns: crate::time::ticks_to_us(e.shared.cpu_ticks.load(Ordering::Relaxed)).saturating_mul(1000),
            started_ns: e.started_ns,
            name: e.name.clone(),
        })
        .collect()
}

/// Prints every process (pid, name, state, CPU time) for a test that timed
/// out; called from the timer interrupt, so it skips a locked table and
/// allocates nothing.
#[cfg(feature = "ktest")]
pub fn dump_for_timeout() {
    let Some(table) = TABLE.try_lock() else {
        crate::println!("proc: (process table locked)");
        return;
    };
    for (pid, e) in &table.procs {
        let state = if e.exit.is_some() { RunState::Zombie } else { e.shared.state() };
        let cpu_us = crate::time::ticks_to_us(e.shared.cpu_ticks.load(Ordering::Relaxed));
        crate::println!("proc: pid {pid} {} {state:?}, cpu {cpu_us} us, parent {}", e.name, e.parent);
    }
}

/// Processes in the table (zombies included).
pub fn count() -> usize {
    TABLE.lock().procs.len()
}

/// Bytes of `shared`'s linear memory backed by frames (0 before its base
/// is known, or when the memory is not paged on demand).
fn committed_bytes(shared: &ProcShared) -> u64 {
    let base = shared.memory_base.load(Ordering::Relaxed);
    if base == 0 {
        return 0;
    }
    crate::mem::demand_usage(base).map_or(0, |(_, committed)| u64::try_from(committed).unwrap_or(u64::MAX))
}

/// Bytes of linear memory backed by frames, over every live process.
pub fn committed_memory_bytes() -> u64 {
    TABLE.lock().procs.values().filter(|e| e.exit.is_none()).map(|e| committed_bytes(&e.shared)).sum()
}
