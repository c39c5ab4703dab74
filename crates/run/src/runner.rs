//! Setting up a WASI context on the host and running a command's `_start`.

use std::fmt;
use std::path::{Path, PathBuf};

use hypha_wasi::host::{HostClock, HostFs, HostRandom};
use hypha_wasi::{Errno, InputStream, OutputStream, WasiCtx};
use hypha_wasm::{Config, Engine, Error, Linker, Module, Store, Trap};

use crate::cli::DirMap;

/// Why a program could not be run (as opposed to: it ran and failed).
#[derive(Debug)]
pub enum RunError {
    /// The module file could not be read.
    Read(PathBuf, std::io::Error),
    /// A preopened directory could not be opened.
    Preopen(PathBuf, Errno),
    /// Compiling, linking or instantiating failed, or `_start` is missing.
    Wasm(Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Read(p, e) => write!(f, "cannot read {}: {e}", p.display()),
            RunError::Preopen(p, e) => write!(f, "cannot preopen {}: {e:?}", p.display()),
            RunError::Wasm(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Wasm(e)
    }
}

/// How a program that ran ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `_start` returned (status 0) or the program called `proc_exit`.
    Exit(i32),
    /// The program trapped (the trap carries its wasm backtrace).
    Trap(Trap),
}

/// The three standard streams of a run.
#[derive(Debug)]
pub struct Stdio {
    /// fd 0.
    pub stdin: Box<dyn InputStream>,
    /// fd 1.
    pub stdout: Box<dyn OutputStream>,
    /// fd 2.
    pub stderr: Box<dyn OutputStream>,
}

impl Stdio {
    /// The host process's own stdin, stdout and stderr.
    #[must_use]
    pub fn inherit() -> Self {
        Stdio {
            stdin: Box::new(hypha_wasi::host::StdinStream),
            stdout: Box::new(hypha_wasi::host::StdOutput::stdout()),
            stderr: Box::new(hypha_wasi::host::StdOutput::stderr()),
        }
    }
}

/// A WASI context over the host: `argv`, `env` in order, the streams, and
/// each of `dirs` preopened (fd 3, 4, ...) under its guest name.
///
/// # Errors
/// [`RunError::Preopen`] if a directory does not exist or is not a directory.
pub fn wasi_ctx(dirs: &[DirMap], env: &[(String, String)], argv: &[String], stdio: Stdio) -> Result<WasiCtx<HostFs>, RunError> {
    let mut ctx = WasiCtx::new(HostFs, Box::new(HostClock::new()), Box::new(HostRandom::default()));
    ctx.set_args(argv.iter().cloned());
    for (k, v) in env {
        ctx.push_env(k, v);
    }
    ctx.set_stdin(stdio.stdin);
    ctx.set_stdout(stdio.stdout);
    ctx.set_stderr(stdio.stderr);
    for d in dirs {
        let root = HostFs::root(&d.host).map_err(|e| RunError::Preopen(d.host.clone(), e))?;
        ctx.preopen_dir(root, &d.guest).map_err(|e| RunError::Preopen(d.host.clone(), e))?;
    }
    Ok(ctx)
}

/// An engine for running commands: the default configuration, with fuel
/// metering when `fuel` is set.
///
/// # Errors
/// As [`Engine::host`].
pub fn engine(fuel: bool) -> Result<Engine, Error> {
    let config = Config { consume_fuel: fuel, ..Config::default() };
    Engine::host(config)
}

/// Read and compile `path`.
///
/// # Errors
/// [`RunError::Read`] or a compile error.
pub fn load(engine: &Engine, path: &Path) -> Result<Module, RunError> {
    let bytes = std::fs::read(path).map_err(|e| RunError::Read(path.to_path_buf(), e))?;
    Ok(Module::new(engine, &bytes)?)
}

/// Instantiate `module` with WASI from `ctx` and run `_start` with at most
/// `fuel` units of fuel (the engine must meter fuel if `fuel` is set).
/// Output streams are flushed before returning.
///
/// # Errors
/// [`RunError::Wasm`] for link or instantiation errors (a trap in a start
/// function included) and a missing `_start`.
pub fn run(engine: &Engine, module: &Module, ctx: WasiCtx<HostFs>, fuel: Option<u64>) -> Result<Outcome, RunError> {
    let mut linker = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx<HostFs>| c);
    let mut store = Store::new(engine, ctx);
    if let Some(f) = fuel {
        store.set_fuel(f)?;
    }
    let instance = linker.instantiate(&mut store, module)?;
    let result = hypha_wasm_wasi::run_command(&mut store, instance);
    store.data_mut().flush_output();
    match result {
        Ok(code) => Ok(Outcome::Exit(code)),
        Err(Error::Trap(t)) => Ok(Outcome::Trap(t)),
        Err(e) => Err(RunError::Wasm(e)),
    }
}
