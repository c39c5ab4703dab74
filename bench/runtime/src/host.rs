//! The per-store data both runtimes share: a WASI context from `hypha-wasi`
//! (the same WASI implementation under both, so only the runtimes differ)
//! and the `bench.start`/`bench.end` timer.

use std::path::Path;
use std::time::{Duration, Instant};

use hypha_wasi::WasiCtx;
use hypha_wasi::host::{HostClock, HostFs, HostRandom, MemoryInput, MemoryOutput};

/// Timestamps recorded by `bench.start` / `bench.end`.
#[derive(Debug, Default)]
pub struct Timer {
    /// When `bench.start` was last called.
    pub start: Option<Instant>,
    /// When `bench.end` was last called.
    pub end: Option<Instant>,
    /// How often `bench.start` was called.
    pub starts: u32,
    /// How often `bench.end` was called.
    pub ends: u32,
}

impl Timer {
    /// Record `bench.start`.
    pub fn start(&mut self) {
        self.starts += 1;
        self.start = Some(Instant::now());
    }

    /// Record `bench.end`.
    pub fn end(&mut self) {
        self.ends += 1;
        self.end = Some(Instant::now());
    }

    /// The measured execution time, if the program called each hook
    /// exactly once and in order.
    ///
    /// # Errors
    /// A description of the contract violation.
    pub fn elapsed(&self) -> Result<Duration, String> {
        match (self.starts, self.ends, self.start, self.end) {
            (1, 1, Some(s), Some(e)) if e >= s => Ok(e - s),
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
    pub execute: Duration,
}
