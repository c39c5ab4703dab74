//! The per-store data both runtimes share: a WASI context from `hypha-wasi`
//! (the same WASI implementation under both, so only the runtimes differ)
//! and the `bench.start`/`bench.end` timer.

use std::path::Path;
use std::time::{Duration, Instant};

use hypha_wasi::WasiCtx;
use hypha_wasi::host::{HostClock, HostFs, HostRandom, MemoryInput, MemoryOutput};

/// The CPU time this thread has used (user + system), from
/// `CLOCK_THREAD_CPUTIME_ID`: unlike wall-clock time it does not grow while
/// other processes have the CPU, which on a shared machine is most of the
/// noise of a multi-millisecond window.
#[must_use]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a live, writable timespec for the duration of the
    // call, which is all clock_gettime writes to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), u32::try_from(ts.tv_nsec).unwrap_or(0))
}

/// One reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    /// Wall clock.
    pub wall: Instant,
    /// This thread's CPU time.
    pub cpu: Duration,
}

impl Stamp {
    /// At `bench.start`: CPU clock, then wall clock.
    fn opening() -> Stamp {
        let cpu = thread_cpu_time();
        Stamp { wall: Instant::now(), cpu }
    }

    /// At `bench.end`: wall clock, then CPU clock. With [`Stamp::opening`]
    /// the reads nest, so the wall-clock window holds neither CPU-clock
    /// read (a system call).
    fn closing() -> Stamp {
        let wall = Instant::now();
        Stamp { wall, cpu: thread_cpu_time() }
    }
}

/// Timestamps recorded by `bench.start` / `bench.end`.
#[derive(Debug, Default)]
pub struct Timer {
    /// When `bench.start` was last called.
    pub start: Option<Stamp>,
    /// When `bench.end` was last called.
    pub end: Option<Stamp>,
    /// How often `bench.start` was called.
    pub starts: u32,
    /// How often `bench.end` was called.
    pub ends: u32,
}

/// The measured window on both clocks.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Thread CPU time between the two hooks.
    pub cpu: Duration,
    /// Wall-clock time between the two hooks.
    pub wall: Duration,
}

impl Timer {
    /// Record `bench.start` (the clocks are read last).
    pub fn start(&mut self) {
        self.starts += 1;
        self.start = Some(Stamp::opening());
    }

    /// Record `bench.end` (the clocks are read first).
    pub fn end(&mut self) {
        let now = Stamp::closing();
        self.ends += 1;
        self.end = Some(now);
    }

    /// The measured window, if the program called each hook exactly once
    /// and in order.
    ///
    /// # Errors
    /// A description of the contract violation.
    pub fn elapsed(&self) -> Result<Window, String> {
        match (self.starts, self.ends, self.start, self.end) {
            (1, 1, Some(s), Some(e)) if e.wall >= s.wall && e.cpu >= s.cpu => {
                Ok(Window { cpu: e.cpu - s.cpu, wall: e.wall - s.wall })
            }
            _ => Err(format!("bench.start called {} times, bench.end {} times", self.starts, self.ends)),
        }
    }
}

/// Store data of a benchmark run.
#[derive(Debug)]
pub struct Host {
    /// WASI state.
    pub wasi: WasiCtx<HostFs>,
    /// The execution timer.
    pub timer: Timer,
}

/// Captured output of a run.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// fd 1.
    pub stdout: MemoryOutput,
    /// fd 2.
    pub stderr: MemoryOutput,
}

impl Host {
    /// Sightglass's environment: `dir` preopened as `.`, argv = `[argv0]`,
    /// empty env and stdin, captured stdout/stderr.
    ///
    /// # Errors
    /// If `dir` cannot be preopened.
    pub fn sightglass(dir: &Path, argv0: &str) -> Result<(Host, Captured), String> {
        let mut wasi = WasiCtx::new(HostFs, Box::new(HostClock::new()), Box::new(HostRandom::default()));
        let root = HostFs::root(dir).map_err(|e| format!("preopen {}: {e:?}", dir.display()))?;
        wasi.preopen_dir(root, ".").map_err(|e| format!("preopen {}: {e:?}", dir.display()))?;
        wasi.set_args([argv0]);
        let cap = Captured::default();
        wasi.set_stdin(Box::new(MemoryInput::new(Vec::new())));
        wasi.set_stdout(Box::new(cap.stdout.clone()));
        wasi.set_stderr(Box::new(cap.stderr.clone()));
        Ok((Host { wasi, timer: Timer::default() }, cap))
    }

    /// A context with no preopens, for micro-benchmarks.
    #[must_use]
    pub fn empty() -> Host {
        let wasi = WasiCtx::new(HostFs, Box::new(HostClock::new()), Box::new(HostRandom::default()));
        Host { wasi, timer: Timer::default() }
    }
}

/// What one program run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Store creation + instantiation.
    pub instantiate: Duration,
    /// Between `bench.start` and `bench.end`.
    pub execute: Window,
}
