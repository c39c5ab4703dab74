//! Glue between the WebAssembly runtime (`hypha-wasm`) and WASI preview 1
//! (`hypha-wasi`): one call, [`add_to_linker`], defines every
//! `wasi_snapshot_preview1` import listed in [`hypha_wasi::IMPORTS`] as a
//! host function of a [`Linker`].
//!
//! `no_std` + `alloc`, so the kernel can use it with its own WASI backends;
//! the `std` feature only switches on the host backends of the two crates
//! below it.
//!
//! What it is not: a WASI implementation (that is `hypha-wasi`), nor a
//! command-line runner (that is `hypha-run`).
//!
//! # Exit
//!
//! `proc_exit(code)` unwinds the guest with [`Trap::exit`]; the call that
//! entered wasm returns `Err(Error::Trap(t))` with `t.exit_code() ==
//! Some(code)`. [`exit_status`] turns the result of calling `_start` into
//! the process's exit status (0 for a normal return), keeping real traps as
//! errors; [`run_command`] does both steps.
//!
//! # Example
//!
//! ```
//! use hypha_wasm::{Config, Engine, Linker, Module, Store};
//! use hypha_wasi::host::{MemoryOutput, host_ctx};
//!
//! let engine = Engine::host(Config::default()).unwrap();
//! let wasm = wat::parse_str(r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
//!     (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 16) "hi\n")
//!     (func (export "_start")
//!         (i32.store (i32.const 0) (i32.const 16))
//!         (i32.store (i32.const 4) (i32.const 3))
//!         (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
//!         (call $exit (i32.const 7))))"#).unwrap();
//! let module = Module::new(&engine, &wasm).unwrap();
//!
//! let dir = std::env::temp_dir();
//! let mut ctx = host_ctx(&dir).unwrap();
//! let out = MemoryOutput::new();
//! ctx.set_stdout(Box::new(out.clone()));
//!
//! let mut linker = Linker::new();
//! hypha_wasm_wasi::add_to_linker(&mut linker, |ctx| ctx);
//! let mut store = Store::new(&engine, ctx);
//! let instance = linker.instantiate(&mut store, &module).unwrap();
//! assert_eq!(hypha_wasm_wasi::run_command(&mut store, instance).unwrap(), 7);
//! assert_eq!(out.contents(), b"hi\n");
//! ```
#![no_std]

extern crate alloc;

use hypha_wasi::{CallError, FileSystem, IMPORTS, ImportSig, MODULE, WasiCtx};
use hypha_wasm::{AsContextMut, Caller, Error, Extern, FuncType, Instance, Linker, Trap, Val, ValType};

/// The export every WASI command and reactor shares its memory through.
pub const MEMORY_EXPORT: &str = "memory";

/// The entry point of a WASI command.
pub const START_EXPORT: &str = "_start";

/// Define every `wasi_snapshot_preview1` import in `linker`.
///
/// `get` finds the WASI context in the store's data (the identity `|c| c`
/// when the data *is* the context). Each host function reads and writes the
/// calling instance's `memory` export; a caller without one sees an empty
/// memory, so any pointer argument is `EFAULT`.
pub fn add_to_linker<T, F, G>(linker: &mut Linker<T>, get: G)
where
    T: 'static,
    F: FileSystem + 'static,
    G: Fn(&mut T) -> &mut WasiCtx<F> + Send + Sync + Copy + 'static,
{
    for sig in IMPORTS {
        let name = sig.name;
        linker.func_new(MODULE, name, func_type(sig), move |caller, params, results| {
            call_import(caller, get, name, params, results)
        });
    }
}

/// The wasm type of an import signature.
#[must_use]
pub fn func_type(sig: &ImportSig) -> FuncType {
    FuncType::new(sig.params.iter().map(|t| val_type(*t)), sig.results.iter().map(|t| val_type(*t)))
}

fn val_type(t: hypha_wasi::ValType) -> ValType {
    match t {
        hypha_wasi::ValType::I32 => ValType::I32,
        hypha_wasi::ValType::I64 => ValType::I64,
    }
}

/// A wasm argument as the raw `u64` that [`hypha_wasi::call`] takes.
fn raw_arg(v: &Val) -> Result<u64, Trap> {
    match *v {
        Val::I32(x) => Ok(u64::from(u32::from_le_bytes(x.to_le_bytes()))),
        Val::I64(x) => Ok(u64::from_le_bytes(x.to_le_bytes())),
        _ => Err(Trap::host("WASI import called with a non-integer argument")),
    }
}

/// More arguments than any `wasi_snapshot_preview1` import takes.
const MAX_ARGS: usize = 16;

fn call_import<T, F, G>(mut caller: Caller<'_, T>, get: G, name: &str, params: &[Val], results: &mut [Val]) -> Result<(), Trap>
where
    T: 'static,
    F: FileSystem + 'static,
    G: Fn(&mut T) -> &mut WasiCtx<F>,
{
    // Every WASI import takes at most 9 arguments: no allocation per call.
    let mut raw = [0u64; MAX_ARGS];
    let args = raw.get_mut(..params.len()).ok_or_else(|| Trap::host("WASI import called with too many arguments"))?;
    for (slot, v) in args.iter_mut().zip(params) {
        *slot = raw_arg(v)?;
    }
    let args = &*args;
    let memory = match caller.get_export(MEMORY_EXPORT) {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    };
    let cx = caller.as_context_mut();
    let outcome = match memory {
        Some(m) => {
            let (bytes, data) = m.data_and_store_mut(cx).map_err(|e| Trap::host(alloc::format!("{e}")))?;
            hypha_wasi::call(get(data), bytes, name, args)
        }
        None => hypha_wasi::call(get(cx.data_mut()), &mut [], name, args),
    };
    match outcome {
        Ok(errno) => {
            if let Some(r) = results.first_mut() {
                *r = Val::I32(errno);
            }
            Ok(())
        }
        Err(CallError::Exit(code)) => Err(Trap::exit(i32::from_le_bytes(code.to_le_bytes()))),
        Err(e) => Err(Trap::host(alloc::format!("{MODULE}::{name}: {e}"))),
    }
}

/// The exit status of a finished WASI command: 0 when `_start` returned,
/// the `proc_exit` code when it exited.
///
/// # Errors
/// Any other error (a trap, a usage error) is passed through.
pub fn exit_status(result: Result<(), Error>) -> Result<i32, Error> {
    match result {
        Ok(()) => Ok(0),
        Err(Error::Trap(t)) => match t.exit_code() {
            Some(code) => Ok(code),
            None => Err(Error::Trap(t)),
        },
        Err(e) => Err(e),
    }
}

/// Call `instance`'s `_start` and return its exit status (see [`exit_status`]).
///
/// # Errors
/// [`Error::Link`] if there is no `_start`, [`Error::Usage`] if it is not
/// `[] -> []`; a trap as [`Error::Trap`].
pub fn run_command<T: 'static>(store: &mut impl AsContextMut<Data = T>, instance: Instance) -> Result<i32, Error> {
    let cx = store.as_context_mut();
    let start = instance.get_typed_func::<(), (), T>(cx, START_EXPORT)?;
    exit_status(start.call(cx, ()))
}
