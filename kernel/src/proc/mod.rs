//! WebAssembly processes: the kernel's only kind of program.
//!
//! - A process is a module instance in its own `Store` with a WASI preview
//!   1 context (`wasi.rs`) and the `hypha` imports (`host.rs`), run as one
//!   executor task that drives `_start` with `call_async` on a fiber
//!   ([`spawn`], `task` below). The table (`table.rs`) holds pid, parent,
//!   name, state, exit status, CPU time and memory of each.
//! - Preemption: every [`EPOCH_MS`] the timer tick advances the process
//!   engine's epoch ([`on_timer_tick`]); each store yields at the first
//!   epoch check past its deadline (one epoch) and its task goes to the
//!   back of its run queue.
//! - Quotas ([`Limits`]): linear memory pages (store limit: `memory.grow`
//!   returns -1), table elements (declared table maxima; a module whose
//!   tables could grow past the quota is refused), one instance per
//!   process, [`table::MAX_CHILDREN`] per parent and
//!   [`table::MAX_PROCESSES`] in total (`spawn` fails with `again`).
//! - Modules are cached by SHA-256 and compiled on every hart (`cache.rs`).
//! - Pipes, the console and null streams (`stdio.rs`); reads and waits
//!   suspend only the calling process (`current.rs`).
//!
//! Not here: the file system (`crate::fs`, seen through [`RootFs`]),
//! signals other than kill, process groups, CPU affinity or priorities.

extern crate alloc;

pub mod cache;
pub mod current;
mod event;
pub mod host;
pub mod programs;
pub mod stdio;
pub mod table;
pub mod wasi;

#[cfg(feature = "ktest")]
mod tests;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll};

use hypha_wasi::{Errno, WasiCtx};
use hypha_wasm::{Config, Engine, Func, Linker, Module, Store, TrapCode};

use crate::sync::Once;
pub use table::{ExitStatus, KillError, Pid, ProcInfo, RunState, WaitError};

/// The file system processes see: the kernel's file tree (`crate::fs`).
pub type RootFs = hypha_vfs::Vfs;

/// The epoch advances at most this often (by the first hart whose timer
/// tick finds it due; the tick is 10 ms, so in practice every 10 ms).
pub const EPOCH_MS: u64 = 10;
/// Epochs a process runs before it yields (its time slice: up to
/// `SLICE_EPOCHS * EPOCH_MS`).
pub const SLICE_EPOCHS: u64 = 1;
/// Bytes of each process's fiber stack (wasm may use all but the
/// runtime's 128 KiB host reserve).
pub const PROCESS_STACK: usize = 256 << 10;
/// Idle process fiber stacks the engine keeps committed for the next
/// processes (2 MiB), so a spawn does not commit and zero a fresh
/// [`PROCESS_STACK`] and an exit does not unmap one.
pub const STACK_POOL: usize = 8;

/// Per-process resource quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, 64 KiB pages per memory.
    pub memory_pages: u64,
    /// Elements per table (the declared maximum must be within it).
    pub table_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_pages: 512, table_elements: 10_000 }
    }
}

/// What a process's store holds besides the runtime's part.
#[derive(Debug)]
pub struct ProcData {
    pub shared: Arc<table::ProcShared>,
    pub wasi: WasiCtx<RootFs>,
    pub limits: Limits,
}

static ENGINE: Once<Engine> = Once::new();
static LINKER: Once<Linker<ProcData>> = Once::new();
/// `time` tick at which the epoch is next due (0: not started).
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(0);

/// The engine every process is compiled for (epoch interruption on,
/// compilation on every hart). Made on first use.
///
/// # Errors
/// What [`crate::wasm::new_engine`] reports.
pub fn engine() -> Result<&'static Engine, hypha_wasm::Error> {
    if let Some(engine) = ENGINE.get() {
        return Ok(engine);
    }
    // The code-shaping settings come from `hypha-proc-engine`, which the
    // initrd's precompiler uses too: precompiled code matches this engine.
    let machine = hypha_proc_engine::Machine { vector: crate::arch::csr::enable_vector(), strategy: crate::wasm::default_strategy() };
    let config = Config {
        parallel_compilation: true,
        compile_executor: Some(Arc::new(cache::HartCompiler)),
        max_wasm_stack: PROCESS_STACK - hypha_wasm::ASYNC_HOST_RESERVE,
        async_stack_size: PROCESS_STACK,
        async_stack_pool: STACK_POOL,
        ..hypha_proc_engine::process_config(machine)
    };
    let engine = Engine::new(config, Arc::new(crate::wasm::KernelPlatform::new()))?;
    ENGINE.set(engine);
    ENGINE.get().ok_or_else(|| hypha_wasm::Error::Usage(String::from("engine lost")))
}

/// Creates the process engine ahead of the first spawn (boot runs it on
/// another hart while the boot hart finishes); a failure is only logged,
/// the first spawn reports it.
pub async fn prepare_engine() {
    if let Err(error) = engine() {
        log::error!("proc: cannot create the process engine: {error}");
    }
}

/// Creates the process linker (every WASI and `hypha` import) ahead of the
/// first instantiation: init runs it as a task while `/bin/sh` loads.
pub async fn prepare_linker() {
    linker();
}

fn linker() -> &'static Linker<ProcData> {
    if let Some(linker) = LINKER.get() {
        return linker;
    }
    let mut linker = Linker::new();
    // A second reader of a description held by a suspended blocking read
    // yields instead of spinning its hart.
    hypha_wasi::set_description_wait(current::wait_for_description);
    hypha_wasm_wasi::add_to_linker(&mut linker, |data: &mut ProcData| &mut data.wasi);
    host::add_to_linker(&mut linker);
    LINKER.set(linker);
    LINKER.get().unwrap_or_else(|| unreachable!("just set"))
}

/// Advances the epoch when due; called by every hart's timer tick.
pub fn on_timer_tick() {
    let Some(engine) = ENGINE.get() else { return };
    let now = crate::time::now_ticks();
    let due = NEXT_EPOCH.load(Ordering::Relaxed);
    if now < due {
        return;
    }
    let next = now + crate::time::ms_to_ticks(EPOCH_MS).saturating_sub(crate::time::ms_to_ticks(1));
    if NEXT_EPOCH.compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        engine.increment_epoch();
        EPOCHS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Epochs advanced since boot.
pub static EPOCHS: AtomicU64 = AtomicU64::new(0);

// === spawn ===

/// Why a process could not be started (each maps to a host-ABI errno).
#[derive(Debug)]
pub enum SpawnError {
    /// A process quota is reached.
    Again,
    /// Out of memory (including a module whose initial memory or tables
    /// exceed the quotas).
    NoMem(String),
    /// Not a valid module, fails validation, has imports the kernel does
    /// not provide, or has no `_start`.
    NoExec(String),
    /// A descriptor could not be set up.
    Wasi(Errno),
}

impl SpawnError {
    /// The host ABI's errno.
    #[must_use]
    pub fn errno(&self) -> Errno {
        match self {
            SpawnError::Again => Errno::Again,
            SpawnError::NoMem(_) => Errno::Nomem,
            SpawnError::NoExec(_) => Errno::Noexec,
            SpawnError::Wasi(errno) => *errno,
        }
    }
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SpawnError::Again => f.write_str("process quota reached"),
            SpawnError::NoMem(why) => write!(f, "out of memory: {why}"),
            SpawnError::NoExec(why) => write!(f, "not executable: {why}"),
            SpawnError::Wasi(errno) => write!(f, "descriptor setup failed: {}", errno.raw()),
        }
    }
}

/// What to start.
#[derive(Debug)]
pub struct Spawn<'a> {
    /// Path or name (the table keeps its last component without `.wasm`).
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// The SHA-256 of `bytes` when known without hashing them (the
    /// initrd's record, a built-in program's): the module cache's key.
    /// Trusted as given, so only boot-image sources may supply it.
    pub sha256: Option<[u8; 32]>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub stdio: [wasi::StdioSlot; 3],
    /// Parent pid; 0 for the kernel.
    pub parent: Pid,
    pub limits: Limits,
    /// Hold it before its first instruction until [`resume`].
    pub stopped: bool,
    /// Reap it when it ends (nobody will `wait`).
    pub detached: bool,
}

fn compile_error(error: hypha_wasm::Error) -> SpawnError {
    match error {
        hypha_wasm::Error::Resource(why) => SpawnError::NoMem(why),
        other => SpawnError::NoExec(alloc::format!("{other}")),
    }
}

/// Refuses modules whose tables could hold more than the quota (a table
/// without a maximum can grow to 2^32 elements of kernel heap). Checked on
/// the (cached) module before it is instantiated, so a spawn parses
/// nothing: a refused module costs its compilation at most once.
fn check_tables(module: &Module, limits: Limits) -> Result<(), SpawnError> {
    for table in module.tables() {
        let max = table.maximum.unwrap_or(u64::MAX);
        if max > limits.table_elements {
            return Err(SpawnError::NoMem(alloc::format!(
                "a table may grow to {} elements (quota {}; declare a maximum)",
                table.maximum.map_or_else(|| String::from("2^32"), |m| alloc::format!("{m}")),
                limits.table_elements
            )));
        }
    }
    Ok(())
}

type Built = (Store<ProcData>, Func, u64);

/// Starts a process; it runs as soon as a hart is free (or on [`resume`]
/// if `stopped`).
///
/// # Errors
/// [`SpawnError`]; nothing is left behind.
pub fn spawn(request: Spawn<'_>) -> Result<Pid, SpawnError> {
    spawn_in(request, wasi::Preopen::Root)
}

/// Like [`spawn`], with `preopen` at fd 3 instead of the kernel's `/`.
///
/// # Errors
/// As [`spawn`].
pub fn spawn_in(request: Spawn<'_>, preopen: wasi::Preopen) -> Result<Pid, SpawnError> {
    let engine = engine().map_err(compile_error)?;
    let (module, fresh) = cache::get_or_compile(engine, request.bytes, request.sha256).map_err(compile_error)?;
    check_tables(&module, request.limits)?;
    let shared = table::insert(request.parent, request.name, request.stopped).map_err(|_| SpawnError::Again)?;
    let pid = shared.pid;
    let limits = request.limits;
    let ctx = match wasi::new_ctx(&request.args, &request.env, request.stdio, preopen) {
        Ok(ctx) => ctx,
        Err(errno) => {
            table::remove(pid);
            return Err(SpawnError::Wasi(errno));
        }
    };
    let data = ProcData { shared: shared.clone(), wasi: ctx, limits };
    let build = move || instantiate(engine, &module, data);
    // A module seen for the first time may need host trampolines compiled:
    // give Cranelift a big stack. Cached modules instantiate right here.
    let built = if fresh {
        crate::wasm::on_big_stack(crate::wasm::BIG_STACK, build).unwrap_or_else(|e| Err(SpawnError::NoMem(alloc::format!("{e}"))))
    } else {
        build()
    };
    let (store, start, pages) = match built {
        Ok(built) => built,
        Err(error) => {
            table::remove(pid);
            return Err(error);
        }
    };
    shared.memory_pages.store(pages, Ordering::Relaxed);
    let task = ProcessTask::new(store, start, shared.clone(), request.detached);
    if crate::sched::spawn("process", task).is_err() {
        table::remove(pid);
        return Err(SpawnError::NoMem(String::from("no memory for the task")));
    }
    Ok(pid)
}

fn instantiate(engine: &Engine, module: &Module, data: ProcData) -> Result<Built, SpawnError> {
    let limits = data.limits;
    let mut store = Store::new(engine, data);
    store.set_memory_limit_pages(limits.memory_pages);
    store.epoch_deadline_async_yield_and_update(SLICE_EPOCHS);
    store.set_epoch_deadline(SLICE_EPOCHS);
    let instance = linker().instantiate(&mut store, module).map_err(|e| match e {
        hypha_wasm::Error::Resource(why) => SpawnError::NoMem(why),
        other => SpawnError::NoExec(alloc::format!("{other}")),
    })?;
    let start = instance
        .get_func(&mut store, hypha_wasm_wasi::START_EXPORT)
        .ok_or_else(|| SpawnError::NoExec(String::from("no `_start` export")))?;
    let memory = instance.get_memory(&mut store, hypha_wasm_wasi::MEMORY_EXPORT);
    let pages = memory.and_then(|m| m.size(&store).ok()).unwrap_or(0);
    // Where the memory lives, so `ps` can ask how much of it is committed.
    let base = memory.and_then(|m| m.data(&store).ok()).map_or(0, |data| data.as_ptr().addr());
    store.data().shared.memory_base.store(base, Ordering::Relaxed);
    Ok((store, start, pages))
}

/// Waits until child `pid` of `parent` ends, then reaps it.
///
/// # Errors
/// [`WaitError`] if it does not exist or is not `parent`'s child.
pub async fn wait(parent: Pid, pid: Pid) -> Result<ExitStatus, WaitError> {
    // Checked first so a bad pid fails at once.
    if let Some(status) = table::try_reap(parent, pid)? {
        return Ok(status);
    }
    table::ENDED
        .wait_until(|| match table::try_reap(parent, pid) {
            Ok(Some(status)) => Some(Ok(status)),
            Ok(None) => None,
            Err(error) => Some(Err(error)),
        })
        .await
}

/// Ends `pid` at its next safe point: an epoch check or host call; a
/// process suspended in a host call ends at once.
///
/// # Errors
/// [`KillError`].
pub fn kill(caller: Pid, pid: Pid) -> Result<(), KillError> {
    table::kill(caller, pid)
}

/// Lets a process spawned `stopped` run.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "used by the process tests; the console and host ABI have no caller yet"))]
pub fn resume(pid: Pid) {
    table::resume(pid);
}

/// Releases the idle fiber stacks kept for later processes ([`STACK_POOL`]).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "the memory tests release them before measuring"))]
pub fn release_idle_stacks() {
    if let Some(engine) = ENGINE.get() {
        engine.release_idle_stacks();
    }
}

/// Every process, by pid.
pub fn list() -> Vec<ProcInfo> {
    table::list()
}

/// Processes in the table, zombies included.
pub fn count() -> usize {
    table::count()
}

// === the process task ===

/// Host ABI trap codes (docs/host-abi.md).
fn trap_code(code: TrapCode) -> u32 {
    match code {
        TrapCode::Unreachable => 1,
        TrapCode::MemoryOutOfBounds => 2,
        TrapCode::StackOverflow => 3,
        TrapCode::IntegerDivisionByZero => 4,
        TrapCode::IntegerOverflow => 5,
        TrapCode::BadConversionToInteger => 6,
        TrapCode::IndirectCallTypeMismatch => 7,
        TrapCode::UndefinedElement | TrapCode::UninitializedElement | TrapCode::TableOutOfBounds => 8,
        TrapCode::Interrupt | TrapCode::OutOfFuel => 9,
        _ => 0,
    }
}

fn status_of(result: Result<(), hypha_wasm::Error>) -> ExitStatus {
    match hypha_wasm_wasi::exit_status(result) {
        Ok(code) => ExitStatus::Exited(u32::from_le_bytes(code.to_le_bytes())),
        Err(hypha_wasm::Error::Trap(trap)) => ExitStatus::Trapped { code: trap_code(trap.code()), message: alloc::format!("{trap}") },
        Err(other) => ExitStatus::Trapped { code: 0, message: alloc::format!("{other}") },
    }
}

/// A process's task: waits while stopped, runs `_start`, records how it
/// ended. Boxed state so the executor's task stays small.
struct ProcessTask {
    inner: Pin<Box<dyn Future<Output = ()>>>,
}

// SAFETY: the store, its call future and fiber are only touched by this
// task, one poll at a time; a task moving between harts moves them between
// harts, which is sound because everything per-hart the runtime uses (the
// activation slot, the current-process slot, V and fence.i state) is set
// up again on the polling hart at every poll and around every fiber switch,
// and nothing hart-specific is kept on the fiber across a suspension.
unsafe impl Send for ProcessTask {}

impl ProcessTask {
    fn new(mut store: Store<ProcData>, start: Func, shared: Arc<table::ProcShared>, detached: bool) -> Self {
        let suspender = store.suspender();
        let inner = Box::pin(async move {
            let pid = shared.pid;
            let gate = Gate { shared: &shared };
            let status = if gate.await {
                ExitStatus::Killed
            } else {
                let mut results = [];
                let call = Box::pin(start.call_async(&mut store, &[], &mut results));
                let run = Run { call, current: current::Current { suspender, shared: shared.clone() } };
                match run.await {
                    Some(result) => status_of(result),
                    None => ExitStatus::Killed,
                }
            };
            // Closing its descriptors now lets pipe readers see the end.
            drop(store);
            table::exit(pid, status, detached);
        });
        Self { inner }
    }
}

impl Future for ProcessTask {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Reservations (code, memory, stacks) are unmapped by whichever
        // hart frees them, which flushes only its own TLB, and their
        // address ranges are reused: before touching this process's, drop
        // this hart's cached translations (a synchronous remote flush
        // through SBI costs ~17 ms under QEMU).
        crate::arch::csr::flush_tlb();
        self.inner.as_mut().poll(cx)
    }
}

/// Ready (`true` = killed) once the process may start.
struct Gate<'a> {
    shared: &'a table::ProcShared,
}

impl Future for Gate<'_> {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        self.shared.register(cx.waker());
        if self.shared.killed() {
            Poll::Ready(true)
        } else if self.shared.stopped() {
            Poll::Pending
        } else {
            Poll::Ready(false)
        }
    }
}

/// Polls the `_start` call with the process installed as this hart's
/// current one, accounting CPU time; `None` once killed (the call future is
/// then dropped, which unwinds the guest).
struct Run<F> {
    call: F,
    current: current::Current,
}

impl<F: Future<Output = Result<(), hypha_wasm::Error>> + Unpin> Future for Run<F> {
    type Output = Option<Result<(), hypha_wasm::Error>>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let shared = this.current.shared.clone();
        shared.register(cx.waker());
        if shared.killed() {
            return Poll::Ready(None);
        }
        // This hart may never have run wasm (or not since the code was
        // published): vector state on, instruction fetch synchronised.
        crate::arch::csr::enable_vector();
        crate::arch::csr::fence_i();
        shared.set_state(RunState::Running);
        let previous = current::enter(Some(this.current.clone()));
        let start = crate::time::now_ticks();
        let poll = Pin::new(&mut this.call).poll(cx);
        shared.cpu_ticks.fetch_add(crate::time::now_ticks().saturating_sub(start), Ordering::Relaxed);
        current::enter(previous);
        match poll {
            Poll::Ready(result) => Poll::Ready(Some(result)),
            Poll::Pending => {
                if shared.state() == RunState::Running {
                    shared.set_state(RunState::Ready);
                }
                Poll::Pending
            }
        }
    }
}
