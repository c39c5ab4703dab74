//! Wasmtime's machine code for a module, to compare with ours:
//! `cargo run --release -p hypha-bench-runtime --example dump_peer -- FILE.wasm OUT_DIR [clif]`
//! writes `OUT_DIR/module.elf` (Wasmtime's serialized module, an ELF file
//! with one symbol per function: `objdump -d OUT_DIR/module.elf`) and, with
//! `clif`, Wasmtime's optimized CLIF per function (`Config::emit_clif`;
//! it fails on function names that are not valid file names).

use std::path::PathBuf;
use std::process::ExitCode;

fn dump(wasm: &str, out: &PathBuf, clif: bool) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut config = wasmtime::Config::new();
    if clif {
        config.emit_clif(out);
    }
    let engine = wasmtime::Engine::new(&config).map_err(|e| e.to_string())?;
    let module = wasmtime::Module::from_file(&engine, wasm).map_err(|e| format!("{wasm}: {e}"))?;
    let elf = module.serialize().map_err(|e| e.to_string())?;
    std::fs::write(out.join("module.elf"), elf).map_err(|e| format!("{}: {e}", out.display()))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(wasm), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: dump_peer FILE.wasm OUT_DIR [clif]");
        return ExitCode::from(2);
    };
    let clif = args.next().as_deref() == Some("clif");
    match dump(&wasm, &PathBuf::from(out), clif) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump_peer: {e}");
            ExitCode::FAILURE
        }
    }
}
