//! `cargo xtask`: the single entry point for building, running, testing and
//! benchmarking Hypha.
//!
//! Not here: anything that runs inside Hypha. xtask only drives cargo and
//! QEMU on the host and reads what they print.
//!
//! ```text
//! cargo xtask run [--debug] [--cpus N] [--memory M] [--gdb] [--add PROG.wasm]… [-- bootargs…]
//! cargo xtask initrd [--add PROG.wasm]…
//! cargo xtask test [--only SUITE]… [FILTER]
//! cargo xtask wasi [FILTER]
//! cargo xtask bench SUITE
//! ```

mod bench;
mod initrd;
mod kernel;
mod qemu;
mod suite;
mod test;
mod toolchain;

use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;

fn main() {
    if let Err(error) = real_main() {
        eprintln!("xtask: error: {error:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_else(|| "help".to_owned());
    let rest: Vec<String> = args.collect();
    match command.as_str() {
        "run" => {
            let options = parse_run_options(&rest)?;
            toolchain::ensure_targets()?;
            kernel::run(&options)
        }
        "initrd" => {
            let options = parse_run_options(&rest)?;
            let only_programs = kernel::RunOptions { extra_programs: options.extra_programs.clone(), ..kernel::RunOptions::default() };
            if options != only_programs {
                bail!("`initrd` takes only --add PROG.wasm\n{USAGE}");
            }
            toolchain::ensure_targets()?;
            let path = initrd::build("initrd", &options.extra_programs)?;
            println!("{}", path.display());
            Ok(())
        }
        "test" => {
            let (only, filter) = test::parse_args(&rest).map_err(|why| anyhow::anyhow!("{why}\n{USAGE}"))?;
            toolchain::ensure_targets()?;
            let ok = test::run_all(&only, filter.as_deref())?;
            if ok { Ok(()) } else { std::process::exit(1) }
        }
        "session" => {
            // Only the scripted console session (also part of `test`).
            toolchain::ensure_targets()?;
            let result = kernel::session_test(None)?;
            println!("{}", result.summary_line());
            if let Some(error) = &result.error {
                println!("session: suite error: {error}");
            }
            if result.ok() { Ok(()) } else { std::process::exit(1) }
        }
        "wasi" => {
            // Only the wasi-testsuite in the kernel (also part of `test`).
            toolchain::ensure_targets()?;
            let results = kernel::wasi_test(rest.first().map(String::as_str))?;
            let mut ok = true;
            for result in &results {
                println!("{}", result.summary_line());
                if let Some(error) = &result.error {
                    println!("{}: suite error: {error}", result.name);
                }
                ok &= result.ok();
            }
            if ok { Ok(()) } else { std::process::exit(1) }
        }
        "bench" => {
            let Some(suite) = rest.first() else {
                bail!("usage: cargo xtask bench SUITE (one of: {})", bench::SUITES.join(", "));
            };
            toolchain::ensure_targets()?;
            bench::run(suite, &rest[1..])
        }
        "help" | "--help" | "-h" => {
            println!("{}", USAGE);
            Ok(())
        }
        other => bail!("unknown command `{other}`\n{USAGE}"),
    }
}

const USAGE: &str = "\
usage:
  cargo xtask run [--debug] [--cpus N] [--memory M] [--gdb] [--add PROG.wasm]... [-- bootargs...]
      build the loader, kernel and initrd (user/ programs in /bin) and boot
      Hypha in QEMU (console on stdio); --add puts PROG.wasm in /bin as PROG
  cargo xtask initrd [--add PROG.wasm]...
      build only the initrd (what `run` passes to QEMU) and print its path
  cargo xtask session
      boot Hypha and run only the scripted console session of `test`
  cargo xtask wasi [FILTER]
      run only the wasi-testsuite inside the kernel (tests whose name
      contains FILTER), as `test` does
  cargo xtask test [--only SUITE]... [FILTER]
      run every test suite (host crates, in-kernel tests, ...) and print
      one summary line per suite and `N passed, N failed` at the end;
      FILTER keeps the tests whose names contain it, --only the suites
      whose names start with SUITE (host, user, spec, loom, wasi, kernel,
      session; e.g. `--only kernel proc::` builds and boots only the
      in-kernel tests)
  cargo xtask bench SUITE
      run a benchmark suite side by side with its peer";

fn parse_run_options(args: &[String]) -> Result<kernel::RunOptions> {
    let mut options = kernel::RunOptions::default();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--release" => options.release = true,
            "--debug" => options.release = false,
            "--gdb" => options.gdb = true,
            "--cpus" => {
                let value = iter.next().context("--cpus needs a number")?;
                options.cpus = value.parse().with_context(|| format!("--cpus {value}"))?;
            }
            "--memory" => {
                options.memory = iter.next().context("--memory needs a size (e.g. 512M)")?.clone();
            }
            "--add" => {
                let path = iter.next().context("--add needs a path to a .wasm file")?;
                options.extra_programs.push(PathBuf::from(path));
            }
            "--" => {
                options.bootargs.extend(iter.by_ref().cloned());
            }
            other => bail!("unknown option `{other}` for `run`\n{USAGE}"),
        }
    }
    Ok(options)
}

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().map_or(manifest_dir.clone(), PathBuf::from)
}
