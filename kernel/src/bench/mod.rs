//! The kernel benchmarks, the guest side of `cargo xtask bench kernel`
//! (docs/benchmarks.md has the figures and how to read them).
//!
//! A test build (feature `ktest`) booted with `bench=cycles` or
//! `bench=compile` runs them on the boot hart instead of init, prints one
//! line per figure and ends QEMU (status 0, or 1 if a measurement failed):
//!
//! ```text
//! kbench NAME VALUE UNIT
//! ```
//!
//! VALUE has two decimals. A failed measurement prints `kbench: error ...`.
//!
//! - `bench=cycles`: host call against `call_indirect` in the same wasm
//!   loop, spawn of a cached module to its first instruction, process
//!   switch on `hypha.yield` against a plain executor task yield, and
//!   preemption latency (the periodic tick that ends a spinning process's
//!   slice to the next process's next instruction). xtask boots it on one
//!   hart under `-icount shift=0`, where `cycle` and `time` both count guest
//!   instructions: 1 instruction = 1 "cycle" = 1 ns.
//! - `bench=compile`: compiling `/bin/sh` from the initrd (not cached:
//!   `Module::new` directly, with the process engine's settings and its
//!   compile executor on every hart, timed to split the parallel part from
//!   the serial rest), best of 3, in guest time; xtask boots it once per
//!   hart count under normal multi-threaded TCG.
//!
//! The programs are in `programs/*.wat` (built into test images, not in
//! `/bin`); they report through `hypha_bench.mark` ([`marks`]).
//!
//! Not here: peers, targets and the table (xtask's part).

extern crate alloc;

pub mod marks;

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use hypha_boot_info::bootargs;

use crate::proc::{ExitStatus, Limits, Pid, Spawn};
use marks::Mark;

include!(concat!(env!("OUT_DIR"), "/bench_programs.rs"));

/// Longest any one process of a measurement may take to end.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

type Outcome = Result<(), String>;
/// A named measurement, run on the boot hart.
type Step = (&'static str, fn() -> Outcome);

/// Runs the benchmarks `bootargs` selects and ends the QEMU run.
pub fn run(bootargs_text: &str) -> ! {
    let which = bootargs::value(bootargs_text, "bench").unwrap_or("cycles");
    crate::println!("kbench: {which} on {} harts, timebase {} Hz", crate::percpu::online_count(), crate::time::timebase_hz());
    let steps: &[Step] = match which {
        "cycles" => &[
            ("host call", || crate::sched::block_on(host_call())),
            ("spawn", || crate::sched::block_on(spawn_to_first_instruction())),
            ("yield switch", || crate::sched::block_on(yield_switch())),
            ("preemption", || crate::sched::block_on(preemption())),
        ],
        "compile" => &[("compile", || crate::sched::block_on(compile()))],
        other => {
            crate::println!("kbench: error: unknown `bench={other}` (cycles or compile)");
            crate::drivers::sifive_test::exit(1)
        }
    };
    let mut failed = false;
    for (name, step) in steps {
        if let Err(error) = step() {
            crate::println!("kbench: error: {name}: {error}");
            failed = true;
        }
    }
    crate::println!("kbench: done");
    crate::drivers::sifive_test::exit(u16::from(failed))
}

// === helpers ===

/// Prints one figure (`hundredths` = value × 100).
fn report(name: &str, hundredths: u64, unit: &str) {
    crate::println!("kbench {name} {}.{:02} {unit}", hundredths / 100, hundredths % 100);
}

/// A program's bytes and, when known, their SHA-256.
type Program = (&'static [u8], Option<[u8; 32]>);

fn program(name: &str) -> Result<Program, String> {
    BENCH_PROGRAMS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, bytes, sha256)| (*bytes, Some(*sha256)))
        .ok_or_else(|| alloc::format!("no bench program {name}"))
}

fn start(name: &'static str, (bytes, sha256): Program, stopped: bool) -> Result<Pid, String> {
    let request = Spawn {
        name,
        bytes,
        sha256,
        args: alloc::vec![String::from(name)],
        env: Vec::new(),
        stdio: [None, None, None],
        parent: 0,
        limits: Limits::default(),
        stopped,
        detached: false,
    };
    crate::proc::spawn(request).map_err(|e| alloc::format!("spawn {name}: {e}"))
}

async fn finish(pid: Pid) -> Result<ExitStatus, String> {
    match crate::sched::timeout(PROCESS_TIMEOUT, crate::proc::wait(0, pid)).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(error)) => Err(alloc::format!("wait {pid}: {error:?}")),
        Err(_) => Err(alloc::format!("process {pid} did not end within {} s", PROCESS_TIMEOUT.as_secs())),
    }
}

async fn finish_ok(pid: Pid) -> Outcome {
    match finish(pid).await? {
        ExitStatus::Exited(0) => Ok(()),
        other => Err(alloc::format!("process {pid} ended {other:?}")),
    }
}

/// `time` ticks to hundredths of a microsecond (= ns / 10).
fn ticks_to_centi_us(ticks: u64) -> u64 {
    let ns = u128::from(ticks) * 1_000_000_000 / u128::from(crate::time::timebase_hz());
    u64::try_from(ns / 10).unwrap_or(u64::MAX)
}

fn median(values: &mut [u64]) -> u64 {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

fn find(marks: &[Mark], pid: Pid, tag: u32) -> Option<Mark> {
    marks.iter().find(|m| m.pid == pid && m.tag == tag).copied()
}

// === host call ===

/// `calls.wat`: per round, cycles of `n` getpid calls, `n` call_indirects
/// and `n` iterations of the same loop without a call; the best round's
/// per-call figures with the bare loop subtracted.
async fn host_call() -> Outcome {
    marks::take();
    let pid = start("calls", program("calls")?, false)?;
    finish_ok(pid).await?;
    let (marks, dropped) = marks::take();
    let ours: Vec<Mark> = marks.into_iter().filter(|m| m.pid == pid && m.tag < 4).collect();
    if dropped > 0 || ours.is_empty() || !ours.len().is_multiple_of(4) {
        return Err(alloc::format!("{} marks ({dropped} dropped), expected rounds of 4", ours.len()));
    }
    let (mut host, mut indirect, mut bare, mut extra) = (u64::MAX, u64::MAX, u64::MAX, u64::MAX);
    for round in ours.chunks_exact(4) {
        if round.iter().enumerate().any(|(i, m)| m.tag as usize != i) {
            return Err(String::from("marks out of order"));
        }
        let n = u64::from(round[0].arg.max(1));
        let [h, i, b] = [round[1].cycle - round[0].cycle, round[2].cycle - round[1].cycle, round[3].cycle - round[2].cycle];
        host = host.min(h.saturating_sub(b) * 100 / n);
        indirect = indirect.min(i.saturating_sub(b) * 100 / n);
        bare = bare.min(b * 100 / n);
        extra = extra.min(h.saturating_sub(i) * 100 / n);
    }
    report("hostcall.getpid", host, "cycles/call");
    report("hostcall.call_indirect", indirect, "cycles/call");
    report("hostcall.overhead", extra, "cycles/call");
    report("hostcall.loop", bare, "cycles/iteration");
    Ok(())
}

// === spawn ===

/// `first.wat` (cached after a warm-up spawn): from before `proc::spawn`
/// to the mark `_start` makes first, the driver yielding the hart right
/// after `spawn` returns; also the synchronous part (until `spawn`
/// returns). Medians of 21.
async fn spawn_to_first_instruction() -> Outcome {
    let bytes = program("first")?;
    let warm = start("first", bytes, false)?;
    finish_ok(warm).await?;
    let (mut first, mut call, mut first_cycles) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..21 {
        marks::take();
        let (c0, t0) = (crate::arch::csr::read_cycle(), crate::time::now_ticks());
        let pid = start("first", bytes, false)?;
        let t1 = crate::time::now_ticks();
        // Hand the hart over at once (the process is queued first): the
        // wait's own bookkeeping below is not part of the spawn.
        hypha_executor::yield_now().await;
        finish_ok(pid).await?;
        let (marks, _) = marks::take();
        let mark = find(&marks, pid, 0).ok_or("no mark from the spawned process")?;
        first.push(ticks_to_centi_us(mark.time - t0));
        first_cycles.push((mark.cycle - c0) * 100);
        call.push(ticks_to_centi_us(t1 - t0));
    }
    report("spawn.first_instruction", median(&mut first), "us");
    stack_cost()?;
    report("spawn.first_instruction_cycles", median(&mut first_cycles), "cycles");
    report("spawn.call", median(&mut call), "us");
    // The module cache's key, computed on every spawn.
    let t0 = crate::time::now_ticks();
    let key = crate::proc::cache::hash(bytes.0);
    let t1 = crate::time::now_ticks();
    core::hint::black_box(key);
    crate::println!("kbench: first.wat is {} bytes", bytes.0.len());
    report("spawn.hash", ticks_to_centi_us(t1 - t0), "us");
    Ok(())
}

/// What a process's fiber stack costs on its own: reserving and
/// committing [`crate::proc::PROCESS_STACK`] (plus its guard page)
/// through the process engine's platform, as the runtime does for a
/// store's first `call_async`, and releasing it. Medians of 21.
fn stack_cost() -> Outcome {
    use hypha_wasm::platform::Protection;
    let platform = crate::proc::engine().map_err(|e| alloc::format!("engine: {e}"))?.platform().clone();
    let page = platform.page_size();
    let total = crate::proc::PROCESS_STACK + page;
    let (mut commit, mut release) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        let t0 = crate::time::now_ticks();
        let base = platform.reserve(total).map_err(|e| alloc::format!("reserve: {e:?}"))?;
        let usable = core::ptr::NonNull::new(base.as_ptr().wrapping_add(page)).ok_or("null stack")?;
        // SAFETY: `[base + page, base + total)` lies inside the reservation
        // just made, which nothing else knows about.
        let committed = unsafe { platform.protect(usable, crate::proc::PROCESS_STACK, Protection::ReadWrite) };
        let t1 = crate::time::now_ticks();
        // SAFETY: the whole reservation made above, released once; nothing
        // points into it.
        unsafe { platform.release(base, total) };
        let t2 = crate::time::now_ticks();
        committed.map_err(|e| alloc::format!("commit: {e:?}"))?;
        commit.push(ticks_to_centi_us(t1 - t0));
        release.push(ticks_to_centi_us(t2 - t1));
    }
    report("spawn.stack_commit", median(&mut commit), "us");
    report("spawn.stack_release", median(&mut release), "us");
    Ok(())
}

// === yield switch ===

/// Two `yield.wat` processes alternating on `hypha.yield`, against two
/// kernel tasks alternating on `yield_now`: cycles per switch between the
/// first one's marks 10 and 11 (n yields each, so 2n switches).
async fn yield_switch() -> Outcome {
    let bytes = program("yield")?;
    let warm = start("yield", bytes, false)?;
    finish_ok(warm).await?;
    marks::take();
    let a = start("yield", bytes, true)?;
    let b = start("yield", bytes, true)?;
    crate::proc::resume(a);
    crate::proc::resume(b);
    finish_ok(a).await?;
    finish_ok(b).await?;
    let (marks, _) = marks::take();
    let (Some(begin), Some(end)) = (find(&marks, a, 10), find(&marks, a, 11)) else {
        return Err(String::from("the yield processes made no marks"));
    };
    let switches = 2 * u64::from(begin.arg.max(1));
    report("switch.process_yield", (end.cycle - begin.cycle) * 100 / switches, "cycles/switch");

    const N: u64 = 2000;
    let task = || async {
        for _ in 0..16 {
            hypha_executor::yield_now().await;
        }
        let begin = crate::arch::csr::read_cycle();
        for _ in 0..N {
            hypha_executor::yield_now().await;
        }
        let end = crate::arch::csr::read_cycle();
        for _ in 0..16 {
            hypha_executor::yield_now().await;
        }
        end - begin
    };
    let first = crate::sched::spawn("bench-yield", task()).map_err(|e| alloc::format!("spawn task: {e:?}"))?;
    let second = crate::sched::spawn("bench-yield", task()).map_err(|e| alloc::format!("spawn task: {e:?}"))?;
    let first = first.await.map_err(|e| alloc::format!("task: {e:?}"))?;
    second.await.map_err(|e| alloc::format!("task: {e:?}"))?;
    report("switch.task_yield", first * 100 / (2 * N), "cycles/switch");
    Ok(())
}

// === preemption ===

/// `loop` (spins, never calls the host) and `preempt.wat` (yields once,
/// then marks) on one hart: the spinner runs, the tick ends its slice, the
/// other process runs and yields, the spinner runs again until the next
/// tick, then the other process marks. Latency = mark time − when that
/// tick was due. Median of 7 rounds.
async fn preemption() -> Outcome {
    let spinner = crate::proc::programs::load("loop").map_err(|e| alloc::format!("built-in loop: {e:?}"))?;
    let marker = program("preempt")?;
    let warm = start("preempt", marker, false)?;
    finish_ok(warm).await?;
    let mut latencies = Vec::new();
    for _ in 0..7 {
        marks::take();
        let spin = start("loop", (spinner, None), false)?;
        let pid = start("preempt", marker, false)?;
        let result = finish_ok(pid).await;
        let spun = crate::proc::list().into_iter().find(|p| p.pid == spin).map_or(0, |p| p.cpu_ns);
        crate::proc::kill(0, spin).map_err(|e| alloc::format!("kill the spinner: {e:?}"))?;
        let killed = finish(spin).await?;
        result?;
        if killed != ExitStatus::Killed || spun == 0 {
            return Err(alloc::format!("the spinner ended {killed:?} after {spun} ns of CPU"));
        }
        let (marks, _) = marks::take();
        let mark = find(&marks, pid, 20).ok_or("no mark from the preempted-for process")?;
        if mark.tick_due == 0 || mark.time < mark.tick_due {
            return Err(String::from("no tick before the mark"));
        }
        latencies.push(ticks_to_centi_us(mark.time - mark.tick_due));
    }
    let worst = latencies.iter().copied().max().unwrap_or(0);
    report("preempt.latency", median(&mut latencies), "us");
    report("preempt.latency_max", worst, "us");
    report("preempt.tick_period", crate::timer::TICK_MS * 100_000, "us");
    Ok(())
}

// === compile ===

/// The process engine's compile executor, timing each batch: how much of
/// a compile runs in the parallel part (function bodies, spread over the
/// harts) and how much around it (validation, trampolines, linking).
#[derive(Debug)]
struct TimedCompiler {
    ticks: core::sync::atomic::AtomicU64,
}

impl hypha_wasm::CompileExecutor for TimedCompiler {
    fn parallelism(&self) -> usize {
        crate::proc::cache::HartCompiler.parallelism()
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        let begin = crate::time::now_ticks();
        crate::proc::cache::HartCompiler.run(jobs, job);
        self.ticks.fetch_add(crate::time::now_ticks() - begin, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Compiles `/bin/sh` three times without the cache, with the process
/// engine's settings and compile executor (timed); the best time, and
/// that round's time in the parallel part.
async fn compile() -> Outcome {
    use alloc::sync::Arc;
    use core::sync::atomic::Ordering;
    let bytes = crate::fs::read_file("/bin/sh").map_err(|e| alloc::format!("/bin/sh: {e:?} (boot with the initrd)"))?;
    let processes = crate::proc::engine().map_err(|e| alloc::format!("engine: {e}"))?;
    let timed = Arc::new(TimedCompiler { ticks: core::sync::atomic::AtomicU64::new(0) });
    let mut config = processes.config().clone();
    config.compile_executor = Some(timed.clone());
    let engine = hypha_wasm::Engine::new(config, processes.platform().clone()).map_err(|e| alloc::format!("engine: {e}"))?;
    let (mut best, mut parallel) = (u64::MAX, 0);
    for _ in 0..3 {
        timed.ticks.store(0, Ordering::Relaxed);
        let begin = crate::time::now_ticks();
        let module = crate::wasm::on_big_stack(crate::wasm::BIG_STACK, || hypha_wasm::Module::new(&engine, &bytes))
            .map_err(|e| alloc::format!("no stack: {e}"))?
            .map_err(|e| alloc::format!("compile /bin/sh: {e}"))?;
        let took = crate::time::now_ticks() - begin;
        if took < best {
            best = took;
            parallel = timed.ticks.load(Ordering::Relaxed);
        }
        drop(module);
        // Let the helper tasks of the batch finish and be freed.
        hypha_executor::yield_now().await;
    }
    let harts = crate::percpu::online_count();
    crate::println!("kbench: /bin/sh is {} KiB", bytes.len() / 1024);
    report(&alloc::format!("compile.sh.harts{harts}"), ticks_to_centi_us(best) / 1000, "ms");
    report(&alloc::format!("compile.sh.harts{harts}.parallel"), ticks_to_centi_us(parallel) / 1000, "ms");
    report("compile.sh.bytes", u64::try_from(bytes.len()).unwrap_or(u64::MAX) * 100, "bytes");
    Ok(())
}
