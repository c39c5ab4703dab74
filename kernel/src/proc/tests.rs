//! In-kernel tests of processes: spawn, wait, exit codes, pipes between
//! processes, the `hypha` imports, preemption, kill, hostile programs next
//! to a well-behaved one, quotas, leaks, and 1,000 processes at once.

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use core::time::Duration;

use hypha_wasi::{InputStream, OutputStream, SharedFd};

use super::stdio::{self, PipeReader};
use super::{ExitStatus, Limits, Pid, RootFs, RunState, Spawn, SpawnError};
use crate::ktest;

fn request(name: &str, stdio: [Option<SharedFd<RootFs>>; 3], limits: Limits, stopped: bool) -> Spawn<'static> {
    let bytes = super::programs::load(name).unwrap_or_else(|_| panic!("built-in program {name}"));
    let name: &'static str = super::programs::names().find(|n| *n == name).unwrap_or("?");
    Spawn {
        name,
        bytes,
        sha256: None,
        args: alloc::vec![String::from(name)],
        env: Vec::new(),
        stdio,
        parent: 0,
        limits,
        stopped,
        detached: false,
    }
}

fn start(name: &str) -> Pid {
    super::spawn(request(name, [None, None, None], Limits::default(), false)).unwrap_or_else(|e| panic!("spawn {name}: {e}"))
}

async fn finish(pid: Pid) -> ExitStatus {
    super::wait(0, pid).await.unwrap_or_else(|e| panic!("wait {pid}: {e:?}"))
}

/// Everything a pipe holds (its writers are gone).
fn drain(mut reader: PipeReader) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(errno) => panic!("pipe read: {errno:?}"),
        }
    }
}

fn info(pid: Pid) -> Option<super::ProcInfo> {
    super::list().into_iter().find(|p| p.pid == pid)
}

ktest! {
    #[timeout_ms = 60_000]
    async fn hello_writes_to_a_pipe_and_exits_0() {
        let (reader, writer) = stdio::pipe();
        let out = SharedFd::output(Box::new(writer));
        let pid = super::spawn(request("hello", [None, Some(out), None], Limits::default(), false)).unwrap();
        assert_eq!(finish(pid).await, ExitStatus::Exited(0));
        assert_eq!(drain(reader), b"hello from wasm\n");
        assert!(info(pid).is_none(), "reaped by wait");
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn a_pipe_connects_two_processes_and_the_reader_waits_for_the_writer() {
        let (a_read, a_write) = stdio::pipe();
        let (b_read, b_write) = stdio::pipe();
        let a_read = SharedFd::input(Box::new(a_read));
        let a_write = SharedFd::output(Box::new(a_write));
        let b_write = SharedFd::output(Box::new(b_write));
        // The reader first, held until the writer exists: it blocks in fd_read.
        let cat = super::spawn(request("cat", [Some(a_read), Some(b_write), None], Limits::default(), false)).unwrap();
        crate::sched::sleep(Duration::from_millis(20)).await;
        assert_eq!(info(cat).map(|p| p.state), Some(RunState::Blocked), "cat waits in fd_read");
        let hello = super::spawn(request("hello", [None, Some(a_write), None], Limits::default(), false)).unwrap();
        assert_eq!(finish(hello).await, ExitStatus::Exited(0));
        // cat sees the end once hello's descriptors closed; exit code = bytes.
        assert_eq!(finish(cat).await, ExitStatus::Exited(16));
        assert_eq!(drain(b_read), b"hello from wasm\n");
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn a_process_spawns_and_waits_for_a_child_through_the_hypha_imports() {
        let pid = start("spawner");
        // 10 + the child's exit code 0; 100 + errno if an import failed.
        assert_eq!(finish(pid).await, ExitStatus::Exited(10));
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn yield_and_sleep_imports_suspend_and_return_success() {
        let yielder = start("yielder");
        let begin = crate::time::now_ticks();
        let sleeper = start("sleeper");
        assert_eq!(finish(sleeper).await, ExitStatus::Exited(0));
        assert!(crate::time::ticks_to_us(crate::time::now_ticks() - begin) >= 20_000, "slept at least 20 ms");
        assert_eq!(finish(yielder).await, ExitStatus::Exited(0));
    }
}

/// Runs `hostile` next to the well-behaved `worker` and returns how the
/// hostile one ended; the worker must finish with its correct result.
async fn beside_worker(hostile: &str, limits: Limits) -> ExitStatus {
    let worker = start("worker");
    let pid = super::spawn(request(hostile, [None, None, None], limits, false)).unwrap_or_else(|e| panic!("spawn {hostile}: {e}"));
    let status = finish(pid).await;
    assert_eq!(finish(worker).await, ExitStatus::Exited(42), "the worker next to {hostile} computed its sum");
    status
}

fn trapped(status: &ExitStatus) -> u32 {
    match status {
        ExitStatus::Trapped { code, .. } => *code,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// One round of every hostile program; returns the infinite loops' CPU ms.
async fn hostile_round() {
    // Infinite loops on every hart at once: the worker still finishes, so
    // they were preempted; then they are killed.
    let loops: Vec<Pid> = (0..crate::percpu::online_count()).map(|_| start("loop")).collect();
    crate::println!("proc: hostile: {} loops started", loops.len());
    // Start the worker only once every loop has run: then every hart has
    // had a spinner, and the worker can only finish if they are preempted.
    // (Started at once, the worker could run before the last loop was
    // first scheduled and finish beside three.)
    while !loops.iter().all(|&pid| info(pid).is_some_and(|info| info.cpu_ns > 0)) {
        crate::sched::sleep(Duration::from_millis(1)).await;
    }
    let worker = start("worker");
    assert_eq!(finish(worker).await, ExitStatus::Exited(42), "the worker finished beside spinning loops");
    for &pid in &loops {
        let info = info(pid).expect("the loop is still alive");
        assert_ne!(info.state, RunState::Zombie);
        assert!(info.cpu_ns > 0, "the loop ran");
        super::kill(0, pid).unwrap();
    }
    for &pid in &loops {
        assert_eq!(finish(pid).await, ExitStatus::Killed);
    }
    crate::println!("proc: hostile: loops preempted and killed");
    assert_eq!(trapped(&beside_worker("oob_load", Limits::default()).await), 2);
    assert_eq!(trapped(&beside_worker("oob_store", Limits::default()).await), 2);
    assert_eq!(trapped(&beside_worker("recurse", Limits::default()).await), 3);
    assert_eq!(trapped(&beside_worker("unreachable", Limits::default()).await), 1);
    assert_eq!(trapped(&beside_worker("badcall", Limits::default()).await), 7);
    // memory.grow stops at the quota (-1) and the program carries on.
    let small = Limits { memory_pages: 8, ..Limits::default() };
    assert_eq!(beside_worker("grow", small).await, ExitStatus::Exited(8));
    // Validation failures and quota refusals are spawn errors.
    let invalid = super::spawn(request("invalid", [None, None, None], Limits::default(), false));
    assert!(matches!(invalid, Err(SpawnError::NoExec(_))), "{invalid:?}");
    let table = super::spawn(request("table_unbounded", [None, None, None], Limits::default(), false));
    assert!(matches!(table, Err(SpawnError::NoMem(_))), "{table:?}");
}

/// Frames and heap bytes in use, once the tasks of processes that just
/// ended are freed (a task records its exit, which wakes the waiter, a
/// moment before the executor frees it on its own hart).
async fn kernel_memory() -> (usize, usize) {
    settle().await;
    let stats = crate::mem::stats();
    (stats.frames_used, stats.heap_used_bytes)
}

async fn settle() {
    crate::sched::sleep(Duration::from_millis(20)).await;
    // Idle fiber stacks kept for the next processes are not a leak.
    super::release_idle_stacks();
}

ktest! {
    #[timeout_ms = 120_000]
    async fn hostile_programs_end_alone_and_leave_no_memory_behind() {
        // The first round warms what stays for good (the engine, the
        // linker, shared trampolines, the executor's timer wheel) and
        // fills the module cache, so the second compiles nothing (fast in
        // debug builds) and starts and ends with the same cache.
        hostile_round().await;
        let before = kernel_memory().await;
        hostile_round().await;
        let after = kernel_memory().await;
        crate::println!(
            "proc: kernel memory before/after a hostile round: {} / {} frames, {} / {} heap bytes",
            before.0, after.0, before.1, after.1
        );
        assert_eq!(after, before, "frames and heap back to where they were");
        assert_eq!(super::count(), 0);
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn two_readers_of_one_pipe_wait_without_spinning() {
        // Both share one open description: the first blocks in its read
        // holding it, the second waits for it, suspended, not spinning.
        let (reader, mut writer) = stdio::pipe();
        let input = SharedFd::input(Box::new(reader));
        let first = super::spawn(request("cat", [Some(input.clone()), None, None], Limits::default(), false)).unwrap();
        let second = super::spawn(request("cat", [Some(input), None, None], Limits::default(), false)).unwrap();
        crate::sched::sleep(Duration::from_millis(20)).await;
        // A spinning waiter stays `Running` (its poll never ends); a
        // suspended one is `Blocked` but for a moment every millisecond.
        let mut blocked = [0u32; 2];
        for _ in 0..20 {
            for (count, pid) in blocked.iter_mut().zip([first, second]) {
                if info(pid).map(|p| p.state) == Some(RunState::Blocked) {
                    *count += 1;
                }
            }
            crate::sched::sleep(Duration::from_millis(5)).await;
        }
        assert!(blocked.iter().all(|&n| n >= 15), "samples of 20 that found each reader blocked: {blocked:?}");
        assert_eq!(writer.write(b"hi\n"), Ok(3));
        drop(writer);
        // cat's exit code is the bytes it copied: one got them, one the end.
        let codes = [finish(first).await, finish(second).await];
        let total: u32 = codes.iter().map(|s| match s { ExitStatus::Exited(n) => *n, other => panic!("{other:?}") }).sum();
        assert_eq!(total, 3, "{codes:?}");
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn kill_ends_a_process_blocked_in_a_read_at_once() {
        let (reader, writer) = stdio::pipe();
        let input = SharedFd::input(Box::new(reader));
        let pid = super::spawn(request("cat", [Some(input), None, None], Limits::default(), false)).unwrap();
        crate::sched::sleep(Duration::from_millis(20)).await;
        assert_eq!(info(pid).map(|p| p.state), Some(RunState::Blocked));
        super::kill(0, pid).unwrap();
        let begin = crate::time::now_ticks();
        assert_eq!(finish(pid).await, ExitStatus::Killed);
        assert!(crate::time::ticks_to_us(crate::time::now_ticks() - begin) < 50_000, "ended without waiting for input");
        drop(writer);
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn spawn_refuses_unbounded_tables_and_invalid_modules() {
        // Also in the (ignored) hostile-programs test; here on its own.
        for _ in 0..2 {
            let table = super::spawn(request("table_unbounded", [None, None, None], Limits::default(), false));
            assert!(matches!(table, Err(SpawnError::NoMem(_))), "{table:?}");
            let invalid = super::spawn(request("invalid", [None, None, None], Limits::default(), false));
            assert!(matches!(invalid, Err(SpawnError::NoExec(_))), "{invalid:?}");
        }
        assert_eq!(super::count(), 0, "nothing left in the table");
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn a_second_spawn_of_the_same_bytes_uses_the_cache() {
        let misses = super::cache::MISSES.load(Ordering::Relaxed);
        let hits = super::cache::HITS.load(Ordering::Relaxed);
        let first = start("empty");
        let second = start("empty");
        assert_eq!(finish(first).await, ExitStatus::Exited(0));
        assert_eq!(finish(second).await, ExitStatus::Exited(0));
        let new_misses = super::cache::MISSES.load(Ordering::Relaxed) - misses;
        let new_hits = super::cache::HITS.load(Ordering::Relaxed) - hits;
        assert!(new_misses <= 1 && new_hits >= 1, "misses {new_misses}, hits {new_hits}");
    }
}

/// 1,000 processes held before their first instruction, then spawns up
/// to the total quota (`again`), then all run and are reaped; with
/// `report`, prints the kernel memory a held process costs.
async fn thousand_round(report: bool) {
    let before = crate::mem::stats();
    let begin = crate::time::now_ticks();
    let mut pids = Vec::new();
    for _ in 0..1000 {
        pids.push(super::spawn(request("empty", [None, None, None], Limits::default(), true)).unwrap());
    }
    assert_eq!(super::count(), 1000);
    if report {
        let held = crate::mem::stats();
        let heap = held.heap_used_bytes - before.heap_used_bytes;
        let heap_mapped_frames = (held.heap_capacity_bytes - before.heap_capacity_bytes) / 4096;
        let other_frames = (held.frames_used - before.frames_used).saturating_sub(heap_mapped_frames);
        crate::println!(
            "proc: 1000 processes alive at once (held before their first instruction): {} KiB heap + {} KiB other frames = {} bytes of kernel memory per process; a running process adds its {} KiB fiber stack",
            heap / 1024,
            other_frames * 4,
            (heap + other_frames * 4096) / 1000,
            super::PROCESS_STACK / 1024
        );
    }
    // The total quota: `again` at MAX_PROCESSES.
    loop {
        match super::spawn(request("empty", [None, None, None], Limits::default(), true)) {
            Ok(pid) => pids.push(pid),
            Err(SpawnError::Again) => break,
            Err(other) => panic!("expected the quota, got {other}"),
        }
    }
    assert_eq!(super::count(), super::table::MAX_PROCESSES);
    let spawned = crate::time::now_ticks();
    for &pid in &pids {
        super::resume(pid);
    }
    for &pid in &pids {
        assert_eq!(finish(pid).await, ExitStatus::Exited(0));
    }
    assert_eq!(super::count(), 0);
    if report {
        crate::println!(
            "proc: {} processes spawned in {} ms, run and reaped in {} ms",
            pids.len(),
            crate::time::ticks_to_us(spawned - begin) / 1000,
            crate::time::ticks_to_us(crate::time::now_ticks() - spawned) / 1000
        );
    }
}

ktest! {
    #[timeout_ms = 300_000]
    async fn a_thousand_processes_at_once_then_the_total_quota() {
        // Warm what stays for good (engine, linker, cached module).
        assert_eq!(finish(start("empty")).await, ExitStatus::Exited(0));
        settle().await;
        let before = crate::mem::stats();
        thousand_round(true).await;
        settle().await;
        let after = crate::mem::stats();
        // Frames outside the heap: the heap keeps what it mapped at the
        // peak (it does not shrink), which is not a leak.
        let other = |s: &crate::mem::MemStats| s.frames_used - s.heap_capacity_bytes / 4096;
        crate::println!(
            "proc: kernel memory before/after 1,024 processes: heap {} / {} bytes used, other frames {} / {}",
            before.heap_used_bytes, after.heap_used_bytes, other(&before), other(&after)
        );
        // The heap may end a little below (a waiter list emptied), never above.
        assert!(after.heap_used_bytes <= before.heap_used_bytes, "no heap left behind");
        // Page-table pages for address ranges first used here stay mapped
        // (the kernel never frees intermediate tables): a handful at most.
        assert!(other(&after) <= other(&before) + 16, "frames came back (up to new page tables)");
    }
}

ktest! {
    #[timeout_ms = 120_000]
    async fn a_big_module_compiles_on_several_harts_and_runs() {
        super::cache::clear();
        let helped = super::cache::HELPER_JOBS.load(Ordering::Relaxed);
        let begin = crate::time::now_ticks();
        let pid = start("many_funcs");
        let compile_us = crate::time::ticks_to_us(crate::time::now_ticks() - begin);
        let harts = super::cache::LAST_BATCH_HARTS.load(Ordering::Relaxed);
        let helper_jobs = super::cache::HELPER_JOBS.load(Ordering::Relaxed) - helped;
        crate::println!(
            "proc: 48-function module: spawn with compilation {compile_us} us on {} harts, {helper_jobs} jobs run by helper tasks (harts {harts:#b})",
            crate::percpu::online_count()
        );
        assert_eq!(finish(pid).await, ExitStatus::Exited(0));
        if crate::percpu::online_count() > 1 {
            assert!(helper_jobs > 0, "helper tasks on other harts took compile jobs");
        }
        super::cache::clear();
    }
}

ktest! {
    #[timeout_ms = 60_000]
    async fn an_orphan_is_reaped_by_the_kernel_when_it_ends() {
        let parent = start("orphaner");
        assert_eq!(finish(parent).await, ExitStatus::Exited(0));
        // The sleeper child outlived its parent: re-parented to the kernel,
        // it leaves the table by itself once its 20 ms sleep ends.
        let orphans: Vec<_> = super::list().into_iter().filter(|p| p.name == "sleeper").collect();
        // (Normally still sleeping here; under heavy host load it may be gone.)
        assert!(orphans.len() <= 1 && orphans.iter().all(|p| p.parent == 0), "re-parented to the kernel: {orphans:?}");
        let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(2000);
        while super::count() > 0 && crate::time::now_ticks() < deadline {
            crate::sched::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(super::count(), 0, "the orphan was reaped without a wait");
    }
}

/// Guest time from spawn to reap of `name` (already cached), best of 3.
async fn run_time_us(name: &str) -> u64 {
    let mut best = u64::MAX;
    for _ in 0..3 {
        let begin = crate::time::now_ticks();
        assert_eq!(finish(start(name)).await, ExitStatus::Exited(0));
        best = best.min(crate::time::ticks_to_us(crate::time::now_ticks() - begin));
    }
    best
}

ktest! {
    #[timeout_ms = 120_000]
    async fn host_call_cost_against_an_indirect_call() {
        // Warm the cache (and compile) first; then time whole processes.
        assert_eq!(finish(start("hostcalls")).await, ExitStatus::Exited(0));
        assert_eq!(finish(start("indirect")).await, ExitStatus::Exited(0));
        let empty = run_time_us("empty").await;
        let host = run_time_us("hostcalls").await;
        let indirect = run_time_us("indirect").await;
        // 200,001 calls each; the difference is the host call's extra cost.
        crate::println!(
            "proc: 200k calls: hypha.getpid {host} us, call_indirect {indirect} us (empty process {empty} us): host call ~{} ns, indirect ~{} ns, extra ~{} ns per call",
            host.saturating_sub(empty) * 1000 / 200_001,
            indirect.saturating_sub(empty) * 1000 / 200_001,
            host.saturating_sub(indirect) * 1000 / 200_001
        );
    }
}

ktest! {
    fn built_in_programs_carry_their_true_sha256() {
        use sha2::Digest as _;
        for (name, bytes, sha256) in super::programs::all() {
            let digest: [u8; 32] = sha2::Sha256::digest(bytes).into();
            assert_eq!(&digest, sha256, "{name}");
        }
        let found = super::programs::find("/bin/many_funcs").expect("a built-in program");
        assert_eq!(found.sha256, Some(super::cache::hash(&found.bytes)));
    }
}
