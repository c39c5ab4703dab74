//! Running sightglass programs on Wasmtime 48 (the peer), with the same
//! WASI implementation (`hypha-wasi`) registered through `Linker::func_new`.

use std::time::{Duration, Instant};

use wasmtime::{Caller, Config, Engine, Extern, FuncType, Linker, Module, Store, Val, ValType};

use crate::host::{Host, RunStats};

/// `proc_exit` as a Wasmtime error.
#[derive(Debug)]
pub struct WasiExit(pub i32);

impl core::fmt::Display for WasiExit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for WasiExit {}

/// Wasmtime with WASI and the bench hooks in one linker.
pub struct Peer {
    engine: Engine,
    linker: Linker<Host>,
    epochs: bool,
}

impl core::fmt::Debug for Peer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Peer").field("epochs", &self.epochs).finish_non_exhaustive()
    }
}

fn val_type(t: hypha_wasi::ValType) -> ValType {
    match t {
        hypha_wasi::ValType::I32 => ValType::I32,
        hypha_wasi::ValType::I64 => ValType::I64,
    }
}

fn raw(v: &Val) -> wasmtime::Result<u64> {
    match v {
        Val::I32(x) => Ok(u64::from(u32::from_le_bytes(x.to_le_bytes()))),
        Val::I64(x) => Ok(u64::from_le_bytes(x.to_le_bytes())),
        _ => Err(wasmtime::Error::msg("non-integer WASI argument")),
    }
}

fn wasi_call(mut caller: Caller<'_, Host>, name: &str, params: &[Val], results: &mut [Val]) -> wasmtime::Result<()> {
    let args = params.iter().map(raw).collect::<wasmtime::Result<Vec<u64>>>()?;
    let outcome = match caller.get_export("memory") {
        Some(Extern::Memory(m)) => {
            let (bytes, host) = m.data_and_store_mut(&mut caller);
            hypha_wasi::call(&mut host.wasi, bytes, name, &args)
        }
        _ => hypha_wasi::call(&mut caller.data_mut().wasi, &mut [], name, &args),
    };
    match outcome {
        Ok(errno) => {
            if let Some(r) = results.first_mut() {
                *r = Val::I32(errno);
            }
            Ok(())
        }
        Err(hypha_wasi::CallError::Exit(c)) => Err(wasmtime::Error::new(WasiExit(i32::from_le_bytes(c.to_le_bytes())))),
        Err(e) => Err(wasmtime::Error::msg(format!("{name}: {e}"))),
    }
}

/// A Wasmtime linker with WASI and `bench.start`/`bench.end`.
///
/// # Errors
/// Wasmtime linker errors.
pub fn linker(engine: &Engine) -> Result<Linker<Host>, String> {
    let mut linker = Linker::new(engine);
    for sig in hypha_wasi::IMPORTS {
        let name = sig.name;
        let ty = FuncType::new(engine, sig.params.iter().map(|t| val_type(*t)), sig.results.iter().map(|t| val_type(*t)));
        linker
            .func_new(hypha_wasi::MODULE, name, ty, move |c, p, r| wasi_call(c, name, p, r))
            .map_err(|e| e.to_string())?;
    }
    linker.func_wrap("bench", "start", |mut c: Caller<'_, Host>| c.data_mut().timer.start()).map_err(|e| e.to_string())?;
    linker.func_wrap("bench", "end", |mut c: Caller<'_, Host>| c.data_mut().timer.end()).map_err(|e| e.to_string())?;
    Ok(linker)
}

/// Wasmtime's configuration for the comparison: its defaults (Cranelift
/// `speed`, on-demand allocator, guard pages), plus epochs when asked.
#[must_use]
pub fn config(epochs: bool) -> Config {
    let mut c = Config::new();
    c.epoch_interruption(epochs);
    c
}

impl Peer {
    /// A Wasmtime engine with its defaults, plus epochs when `epochs`.
    ///
    /// # Errors
    /// Engine creation errors.
    pub fn new(epochs: bool) -> Result<Self, String> {
        let engine = Engine::new(&config(epochs)).map_err(|e| e.to_string())?;
        let linker = linker(&engine)?;
        Ok(Peer { engine, linker, epochs })
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

    /// Instantiate and run `_start`.
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
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start").map_err(|e| e.to_string())?;
        let status = match start.call(&mut store, ()) {
            Ok(()) => 0,
            Err(e) => match e.downcast_ref::<WasiExit>() {
                Some(WasiExit(c)) => *c,
                None => return Err(format!("trap: {e}")),
            },
        };
        store.data_mut().wasi.flush_output();
        if status != 0 {
            return Err(format!("exit status {status}"));
        }
        let execute = store.data().timer.elapsed()?;
        Ok(RunStats { instantiate, execute })
    }
}
