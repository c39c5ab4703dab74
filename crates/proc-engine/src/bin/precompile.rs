//! `hypha-precompile [--machines NAME,...] OUT_DIR FILE.wasm...`: compiles
//! each module for the named process-engine variants (`Machine::name`;
//! default: all the kernel can meet, `ALL_MACHINES`) and writes
//! the artifacts to `OUT_DIR/lib/hypha/cache/<engine>/<sha256>`, the path
//! the kernel looks them up at in the initrd. Artifacts already present
//! are kept (the directory is a host-side cache: the path names the engine
//! fingerprint and the wasm digest, and the kernel checks both again).
//! Prints each artifact's initrd path (relative, no leading `/`) on its
//! own line, for xtask to pack. A module that does not compile for a
//! variant (e.g. SIMD without the V extension) is skipped with a note on
//! stderr: the kernel would refuse it there too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use hypha_proc_engine::{ALL_MACHINES, Machine, artifact_path, process_config};
use hypha_wasm::Engine;
use hypha_wasm::artifact::wasm_digest;

fn main() -> ExitCode {
    let usage = "usage: hypha-precompile [--machines vector-guard,vector-bounds,scalar-guard,scalar-bounds] OUT_DIR FILE.wasm...";
    let mut args = std::env::args_os().skip(1).peekable();
    let mut machines = ALL_MACHINES.to_vec();
    if args.peek().is_some_and(|a| a == "--machines") {
        args.next();
        let list = args.next().and_then(|l| l.into_string().ok()).unwrap_or_default();
        let parsed: Option<Vec<Machine>> = list.split(',').map(Machine::from_name).collect();
        let Some(parsed) = parsed else {
            eprintln!("hypha-precompile: bad machine list `{list}`\n{usage}");
            return ExitCode::from(2);
        };
        machines = parsed;
    }
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    match run(&machines, &out, &files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hypha-precompile: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(machines: &[Machine], out: &Path, files: &[PathBuf]) -> Result<(), String> {
    let platform: Arc<dyn hypha_wasm::Platform> = Arc::new(hypha_wasm::platform::HostPlatform);
    let engines = machines
        .iter()
        .map(|m| Engine::new(process_config(*m), platform.clone()).map(|e| (*m, e)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("engine: {e}"))?;
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        let digest = wasm_digest(&bytes);
        for (machine, engine) in &engines {
            let path = artifact_path(&engine.fingerprint(), &digest);
            let relative = path.trim_start_matches('/');
            let host = out.join(relative);
            if !host.exists() {
                let artifact = match engine.precompile_artifact(&bytes) {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("hypha-precompile: {} not precompiled for {machine:?}: {e}", file.display());
                        continue;
                    }
                };
                let dir = host.parent().ok_or("artifact path has no parent")?;
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let tmp = host.with_extension("tmp");
                std::fs::write(&tmp, &artifact).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
                std::fs::rename(&tmp, &host).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
            }
            println!("{relative}");
        }
    }
    Ok(())
}
