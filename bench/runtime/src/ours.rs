//! Running sightglass programs on hypha-wasm.

use std::time::{Duration, Instant};

use hypha_wasi::WasiCtx;
use hypha_wasi::host::HostFs;
use hypha_wasm::{Caller, Config, Engine, Error, Linker, Module, Store};

use crate::host::{Host, RunStats};

/// hypha-wasm with WASI and the bench hooks in one linker.
pub struct Ours {
    engine: Engine,
    linker: Linker<Host>,
    epochs: bool,
}

impl core::fmt::Debug for Ours {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ours").field("epochs", &self.epochs).finish_non_exhaustive()
    }
}

/// A linker with WASI and `bench.start`/`bench.end`.
#[must_use]
pub fn linker() -> Linker<Host> {
    let mut linker = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |h: &mut Host| -> &mut WasiCtx<HostFs> { &mut h.wasi });
    // Typed hooks, like the peer's `func_wrap`: both runtimes pay the
    // same kind of host call around the measured window.
    linker.func_wrap("bench", "start", |mut c: Caller<'_, Host>| c.data_mut().timer.start());
    linker.func_wrap("bench", "end", |mut c: Caller<'_, Host>| c.data_mut().timer.end());
    linker
}

impl Ours {
    /// The default configuration, with epoch interruption when `epochs`.
    ///
    /// # Errors
    /// Engine creation errors.
    pub fn new(epochs: bool) -> Result<Self, String> {
        let config = Config { epoch_interruption: epochs, ..Config::default() };
        let engine = Engine::host(config).map_err(|e| e.to_string())?;
        Ok(Ours { engine, linker: linker(), epochs })
    }

    /// Compile, timed.
    ///
    /// # Errors
    /// Compile errors.
    pub fn compile(&self, bytes: &[u8]) -> Result<(Module, Duration), String> {
        let t = Instant::now();
        let m = Module::new(&self.engine, bytes).map_err(|e| e.to_string())?;
        Ok((m, t.elapsed()))
    }

    /// Instantiate and run `_start` with `host` as store data.
    ///
    /// # Errors
    /// Link errors, traps, a non-zero exit, or a broken bench contract.
    pub fn run(&self, module: &Module, host: Host) -> Result<RunStats, String> {
        let t = Instant::now();
        let mut store = Store::new(&self.engine, host);
        let instance = self.linker.instantiate(&mut store, module).map_err(|e| e.to_string())?;
        let instantiate = t.elapsed();
        if self.epochs {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let status = hypha_wasm_wasi::run_command(&mut store, instance);
        store.data_mut().wasi.flush_output();
        match status {
            Ok(0) => {}
            Ok(code) => return Err(format!("exit status {code}")),
            Err(Error::Trap(t)) => return Err(format!("trap: {t}")),
            Err(e) => return Err(e.to_string()),
        }
        let execute = store.data().timer.elapsed()?;
        Ok(RunStats { instantiate, execute })
    }
}
