//! The kernel side of the `hypha` import module (docs/host-abi.md): every
//! pointer is checked against the caller's memory (`fault`), results are
//! WASI errnos, waits suspend only the caller.

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use hypha_wasi::{Errno, SharedFd};
use hypha_wasm::{AsContextMut, Caller, Extern, FuncType, Linker, Memory, Trap, Val, ValType};

use super::table::{ExitStatus, KillError, RunState, WaitError};
use super::{ProcData, Spawn};

/// The import module name.
pub const MODULE: &str = "hypha";
/// Bytes of one `ps` record.
const PS_RECORD: usize = 64;
/// Longest packed argument or environment list accepted.
const MAX_LIST: usize = 64 << 10;
/// Longest path accepted.
const MAX_PATH: usize = 4096;

fn ty(params: usize, i64_param: bool) -> FuncType {
    let params: Vec<ValType> = (0..params).map(|_| if i64_param { ValType::I64 } else { ValType::I32 }).collect();
    FuncType::new(params, [ValType::I32])
}

/// Registers the eleven imports.
pub fn add_to_linker(linker: &mut Linker<ProcData>) {
    linker.func_new(MODULE, "spawn", ty(8, false), |caller, params, results| sync(caller, results, |c| spawn(c, params)));
    linker.func_new_async(MODULE, "wait", ty(4, false), |caller, params, results| Box::pin(wait(caller, params, results)));
    linker.func_new(MODULE, "kill", ty(1, false), |caller, params, results| sync(caller, results, |c| kill(c, params)));
    // Typed: arguments and the result cross in registers, no allocation.
    linker.func_wrap(MODULE, "getpid", |caller: Caller<'_, ProcData>| -> Result<i32, Trap> {
        Ok(i32::from_le_bytes(caller.data().shared.pid.to_le_bytes()))
    });
    linker.func_new(MODULE, "pipe", ty(1, false), |caller, params, results| sync(caller, results, |c| pipe(c, params)));
    linker.func_new(MODULE, "ps", ty(3, false), |caller, params, results| sync(caller, results, |c| ps(c, params)));
    linker.func_new_async(MODULE, "yield", ty(0, false), |caller, _params, results| {
        Box::pin(async move {
            alive(&caller)?;
            hypha_executor::yield_now().await;
            results[0] = Val::I32(0);
            Ok(())
        })
    });
    linker.func_new_async(MODULE, "sleep", ty(1, true), |caller, params, results| Box::pin(sleep(caller, params, results)));
    linker.func_new(MODULE, "meminfo", ty(2, false), |caller, params, results| sync(caller, results, |c| meminfo(c, params)));
    linker.func_new(MODULE, "sysinfo", ty(2, false), |caller, params, results| sync(caller, results, |c| sysinfo(c, params)));
    linker.func_new(MODULE, "shutdown", ty(1, false), |caller, params, results| sync(caller, results, |_| shutdown(params)));
    // Test builds: the benchmarks' `hypha_bench.mark`.
    #[cfg(feature = "ktest")]
    crate::bench::marks::add_to_linker(linker);
}

// === helpers ===

/// A killed process runs no more host calls: it unwinds.
fn alive(caller: &Caller<'_, ProcData>) -> Result<(), Trap> {
    if caller.data().shared.killed() { Err(Trap::host("killed")) } else { Ok(()) }
}

/// Runs a synchronous import: errno into `results[0]`.
fn sync(
    mut caller: Caller<'_, ProcData>,
    results: &mut [Val],
    f: impl FnOnce(&mut Caller<'_, ProcData>) -> Result<(), Errno>,
) -> Result<(), Trap> {
    alive(&caller)?;
    let errno = match f(&mut caller) {
        Ok(()) => 0,
        Err(errno) => i32::from(errno.raw()),
    };
    note_memory(&mut caller);
    results[0] = Val::I32(errno);
    Ok(())
}

fn memory(caller: &mut Caller<'_, ProcData>) -> Option<Memory> {
    match caller.get_export(hypha_wasm_wasi::MEMORY_EXPORT) {
        Some(Extern::Memory(memory)) => Some(memory),
        _ => None,
    }
}

/// Records the caller's memory size and where it lives (for its committed
/// bytes) for `ps` and `meminfo`.
fn note_memory(caller: &mut Caller<'_, ProcData>) {
    if let Some(memory) = memory(caller) {
        let pages = memory.size(caller.as_context_mut()).unwrap_or(0);
        let base = memory.data(caller.as_context_mut()).map_or(0, |data| data.as_ptr().addr());
        caller.data().shared.memory_pages.store(pages, Ordering::Relaxed);
        caller.data().shared.memory_base.store(base, Ordering::Relaxed);
    }
}

fn u32_arg(params: &[Val], index: usize) -> u32 {
    match params.get(index) {
        Some(Val::I32(v)) => u32::from_le_bytes(v.to_le_bytes()),
        _ => 0,
    }
}

fn offset(ptr: u32) -> Result<usize, Errno> {
    usize::try_from(ptr).map_err(|_| Errno::Fault)
}

fn read(caller: &mut Caller<'_, ProcData>, ptr: u32, len: usize) -> Result<Vec<u8>, Errno> {
    let memory = memory(caller).ok_or(Errno::Fault)?;
    let mut buf = alloc::vec![0; len];
    memory.read(caller.as_context_mut(), offset(ptr)?, &mut buf).map_err(|_| Errno::Fault)?;
    Ok(buf)
}

fn write(caller: &mut Caller<'_, ProcData>, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
    let memory = memory(caller).ok_or(Errno::Fault)?;
    memory.write(caller.as_context_mut(), offset(ptr)?, bytes).map_err(|_| Errno::Fault)
}

/// Checks `[ptr, ptr + len)` lies in memory without copying.
fn check_range(caller: &mut Caller<'_, ProcData>, ptr: u32, len: usize) -> Result<(), Errno> {
    let memory = memory(caller).ok_or(Errno::Fault)?;
    let size = memory.data(caller.as_context_mut()).map_err(|_| Errno::Fault)?.len();
    let end = offset(ptr)?.checked_add(len).ok_or(Errno::Fault)?;
    if end <= size { Ok(()) } else { Err(Errno::Fault) }
}

/// A packed string list: strings each followed by NUL.
fn string_list(bytes: &[u8]) -> Result<Vec<String>, Errno> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let Some(body) = bytes.strip_suffix(&[0]) else { return Err(Errno::Inval) };
    body.split(|b| *b == 0)
        .map(|s| core::str::from_utf8(s).map(String::from).map_err(|_| Errno::Inval))
        .collect()
}

// === imports ===

fn spawn(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let [path, path_len, argv, argv_len, env, env_len, stdio, pid_out] = core::array::from_fn(|i| u32_arg(params, i));
    let path_len = offset(path_len)?;
    if path_len > MAX_PATH {
        check_range(caller, path, path_len)?;
        return Err(Errno::Nametoolong);
    }
    let (argv_len, env_len) = (offset(argv_len)?, offset(env_len)?);
    if argv_len > MAX_LIST || env_len > MAX_LIST {
        check_range(caller, argv, argv_len)?;
        check_range(caller, env, env_len)?;
        return Err(Errno::TooBig);
    }
    let path = read(caller, path, path_len)?;
    let args = string_list(&read(caller, argv, argv_len)?)?;
    let env = string_list(&read(caller, env, env_len)?)?;
    let stdio_raw = read(caller, stdio, 12)?;
    check_range(caller, pid_out, 4)?;
    let path = core::str::from_utf8(&path).map_err(|_| Errno::Inval)?;
    let mut slots: [super::wasi::StdioSlot; 3] = [None, None, None];
    for (slot, raw) in slots.iter_mut().zip(stdio_raw.chunks_exact(4)) {
        let fd = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if fd != u32::MAX {
            *slot = Some(caller.data().wasi.share_fd(fd).map_err(|_| Errno::Badf)?);
        }
    }
    let program = super::programs::find(path)?;
    let parent = caller.data().shared.pid;
    let limits = caller.data().limits;
    let request = Spawn {
        name: path,
        bytes: &program.bytes,
        sha256: program.sha256,
        args,
        env,
        stdio: slots,
        parent,
        limits,
        stopped: false,
        detached: false,
    };
    let pid = super::spawn(request).map_err(|e| {
        log::debug!("proc: spawn of {path} by {parent} failed: {e}");
        e.errno()
    })?;
    write(caller, pid_out, &pid.to_le_bytes())
}

async fn wait(mut caller: Caller<'_, ProcData>, params: &[Val], results: &mut [Val]) -> Result<(), Trap> {
    alive(&caller)?;
    let [pid, status_out, msg, msg_len] = core::array::from_fn(|i| u32_arg(params, i));
    let errno = match wait_checked(&mut caller, pid, status_out, msg, msg_len).await {
        Ok(()) => 0,
        Err(errno) => i32::from(errno.raw()),
    };
    results[0] = Val::I32(errno);
    Ok(())
}

async fn wait_checked(caller: &mut Caller<'_, ProcData>, pid: u32, status_out: u32, msg: u32, msg_len: u32) -> Result<(), Errno> {
    check_range(caller, status_out, 16)?;
    let msg_len = offset(msg_len)?;
    check_range(caller, msg, msg_len)?;
    let shared = caller.data().shared.clone();
    shared.set_state(RunState::Blocked);
    let status = super::wait(shared.pid, pid).await;
    shared.set_state(RunState::Running);
    let status = status.map_err(|e| match e {
        WaitError::NoSuchProcess => Errno::Srch,
        WaitError::NotChild => Errno::Child,
    })?;
    let (kind, value, message) = match &status {
        ExitStatus::Exited(code) => (0u32, *code, ""),
        ExitStatus::Trapped { code, message } => (1, *code, message.as_str()),
        ExitStatus::Killed => (2, 0, ""),
    };
    let mut record = [0u8; 16];
    record[0..4].copy_from_slice(&kind.to_le_bytes());
    record[4..8].copy_from_slice(&value.to_le_bytes());
    record[8..12].copy_from_slice(&u32::try_from(message.len()).unwrap_or(u32::MAX).to_le_bytes());
    write(caller, status_out, &record)?;
    let shown = message.len().min(msg_len);
    write(caller, msg, &message.as_bytes()[..shown])
}

fn kill(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let pid = u32_arg(params, 0);
    super::kill(caller.data().shared.pid, pid).map_err(|e| match e {
        KillError::NoSuchProcess => Errno::Srch,
        KillError::NotAllowed => Errno::Perm,
    })
}

fn pipe(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let out = u32_arg(params, 0);
    check_range(caller, out, 8)?;
    let (reader, writer) = super::stdio::pipe();
    let reader = SharedFd::input(Box::new(reader));
    let writer = SharedFd::output(Box::new(writer));
    let wasi = &mut caller.data_mut().wasi;
    let read_fd = wasi.insert_shared(reader)?;
    let write_fd = match wasi.insert_shared(writer) {
        Ok(fd) => fd,
        Err(errno) => {
            let _ = wasi.fd_close(read_fd);
            return Err(errno);
        }
    };
    let mut fds = [0u8; 8];
    fds[0..4].copy_from_slice(&read_fd.to_le_bytes());
    fds[4..8].copy_from_slice(&write_fd.to_le_bytes());
    write(caller, out, &fds)
}

fn ps(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let [buf, buf_len, count_out] = core::array::from_fn(|i| u32_arg(params, i));
    let buf_len = offset(buf_len)?;
    check_range(caller, buf, buf_len)?;
    check_range(caller, count_out, 4)?;
    let procs = super::list();
    let fit = procs.len().min(buf_len / PS_RECORD);
    let mut out = alloc::vec![0u8; fit * PS_RECORD];
    for (record, info) in out.chunks_exact_mut(PS_RECORD).zip(&procs) {
        record[0..4].copy_from_slice(&info.pid.to_le_bytes());
        record[4..8].copy_from_slice(&info.parent.to_le_bytes());
        record[8..12].copy_from_slice(&(info.state as u32).to_le_bytes());
        record[12..16].copy_from_slice(&u32::try_from(info.memory_pages).unwrap_or(u32::MAX).to_le_bytes());
        record[16..24].copy_from_slice(&info.cpu_ns.to_le_bytes());
        record[24..32].copy_from_slice(&info.started_ns.to_le_bytes());
        let name = info.name.as_bytes();
        let n = name.len().min(32);
        record[32..32 + n].copy_from_slice(&name[..n]);
    }
    write(caller, buf, &out)?;
    write(caller, count_out, &u32::try_from(procs.len()).unwrap_or(u32::MAX).to_le_bytes())
}

async fn sleep(caller: Caller<'_, ProcData>, params: &[Val], results: &mut [Val]) -> Result<(), Trap> {
    alive(&caller)?;
    let ns = match params.first() {
        Some(Val::I64(ns)) => *ns,
        _ => 0,
    };
    let errno = match u64::try_from(ns) {
        Err(_) => i32::from(Errno::Inval.raw()),
        Ok(0) => {
            hypha_executor::yield_now().await;
            0
        }
        Ok(ns) => {
            let shared = caller.data().shared.clone();
            shared.set_state(RunState::Blocked);
            crate::sched::sleep(core::time::Duration::from_nanos(ns)).await;
            shared.set_state(RunState::Running);
            0
        }
    };
    results[0] = Val::I32(errno);
    Ok(())
}

fn meminfo(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let [out, out_len] = core::array::from_fn(|i| u32_arg(params, i));
    check_range(caller, out, offset(out_len)?)?;
    if offset(out_len)? < 32 {
        return Err(Errno::Inval);
    }
    let stats = crate::mem::stats();
    let page = 4096u64;
    let frames = |n: usize| u64::try_from(n).unwrap_or(u64::MAX).saturating_mul(page);
    // Linear memory is paged on demand: what its frames hold is what
    // processes touched.
    let linear = super::table::committed_memory_bytes();
    let mut record = [0u8; 32];
    record[0..8].copy_from_slice(&frames(stats.frames_total).to_le_bytes());
    record[8..16].copy_from_slice(&frames(stats.frames_free).to_le_bytes());
    record[16..24].copy_from_slice(&frames(stats.frames_used).saturating_sub(linear).to_le_bytes());
    record[24..32].copy_from_slice(&linear.to_le_bytes());
    write(caller, out, &record)
}

fn text(field: &mut [u8], value: &str) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value.as_bytes()[..n]);
}

fn sysinfo(caller: &mut Caller<'_, ProcData>, params: &[Val]) -> Result<(), Errno> {
    let [out, out_len] = core::array::from_fn(|i| u32_arg(params, i));
    check_range(caller, out, offset(out_len)?)?;
    if offset(out_len)? < 176 {
        return Err(Errno::Inval);
    }
    let mut record = [0u8; 176];
    record[0..8].copy_from_slice(&crate::time::uptime_us().saturating_mul(1000).to_le_bytes());
    record[8..12].copy_from_slice(&u32::try_from(crate::percpu::online_count()).unwrap_or(0).to_le_bytes());
    record[12..16].copy_from_slice(&u32::try_from(super::count()).unwrap_or(0).to_le_bytes());
    text(&mut record[16..32], "Hypha");
    text(&mut record[32..64], "hypha");
    text(&mut record[64..96], env!("CARGO_PKG_VERSION"));
    text(&mut record[96..160], concat!("hypha-kernel ", env!("CARGO_PKG_VERSION")));
    text(&mut record[160..176], "riscv64");
    write(caller, out, &record)
}

fn shutdown(params: &[Val]) -> Result<(), Errno> {
    match u32_arg(params, 0) {
        0 => {
            crate::println!("shutdown requested by a process");
            crate::drivers::sifive_test::exit(0)
        }
        // Reboot needs a reset device the kernel does not drive yet.
        1 => Err(Errno::Nosys),
        _ => Err(Errno::Inval),
    }
}
