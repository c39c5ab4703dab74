//! `hypha-run [--dir HOST[::GUEST]]... [--env K=V]... [--fuel N] module.wasm [args...]`
//!
//! Runs a WASI preview 1 command on Hypha's runtime and exits with its exit
//! status. A trap is printed with its wasm backtrace to stderr and exits
//! with status 134 (like an abort); a module that cannot be loaded, linked
//! or started exits with 1, a bad command line with 2.

use std::process::ExitCode;

use hypha_run::cli::{self, CliError};
use hypha_run::runner::{self, Outcome, Stdio};

/// Exit status after a trap (128 + SIGABRT, as shells report an abort).
const TRAP_STATUS: u8 = 134;

fn main() -> ExitCode {
    let opts = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(CliError::Help) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("hypha-run: {e}\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(Outcome::Exit(code)) => exit_code(code),
        Ok(Outcome::Trap(t)) => {
            eprintln!("hypha-run: {}: wasm trap: {t}", opts.module.display());
            ExitCode::from(TRAP_STATUS)
        }
        Err(e) => {
            eprintln!("hypha-run: {}: {e}", opts.module.display());
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &cli::Options) -> Result<Outcome, runner::RunError> {
    let engine = runner::engine(opts.fuel.is_some())?;
    let module = runner::load(&engine, &opts.module)?;
    let mut argv = vec![opts.module.display().to_string()];
    argv.extend(opts.args.iter().cloned());
    let ctx = runner::wasi_ctx(&opts.dirs, &opts.env, &argv, Stdio::inherit())?;
    runner::run(&engine, &module, ctx, opts.fuel)
}

/// A WASI exit status as a process exit status: the low 8 bits, as POSIX
/// `exit()` would keep them.
fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(code.to_le_bytes()[0])
}
