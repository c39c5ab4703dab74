//! Our machine code for a module, to compare with Wasmtime's (`dump_peer`):
//! `cargo run --release -p hypha-bench-runtime --example dump_ours -- FILE.wasm OUT_DIR`
//! writes `OUT_DIR/code.bin` (the code image, relocations applied) and
//! `OUT_DIR/funcs.txt` (one `index start len` line per defined function,
//! offsets in the image). Disassemble with
//! `objdump -D -b binary -m i386:x86-64 OUT_DIR/code.bin`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Reads a little-endian u32 at `*at`, advancing it.
fn u32_at(b: &[u8], at: &mut usize) -> Result<u32, String> {
    let s = b.get(*at..*at + 4).ok_or("artifact truncated")?;
    *at += 4;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn usize_of(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// (start, len) of each defined function, and the code bytes.
type Split<'a> = (Vec<(u32, u32)>, &'a [u8]);

/// Splits an artifact (layout in hypha-wasm's `artifact.rs`) into the
/// function table and the code bytes.
fn split(artifact: &[u8]) -> Result<Split<'_>, String> {
    // magic 8, format 4, reserved 4, fingerprint 32, wasm sha256 32.
    let mut at = 80;
    let nfuncs = u32_at(artifact, &mut at)?;
    let mut funcs = Vec::new();
    for _ in 0..nfuncs {
        let start = u32_at(artifact, &mut at)?;
        let len = u32_at(artifact, &mut at)?;
        funcs.push((start, len));
    }
    let ntramp = usize_of(u32_at(artifact, &mut at)?);
    at += 4 * ntramp;
    let ntraps = usize_of(u32_at(artifact, &mut at)?);
    at += 5 * ntraps;
    let len = usize_of(u32_at(artifact, &mut at)?);
    let code = artifact.get(at..at + len).ok_or("artifact truncated")?;
    Ok((funcs, code))
}

fn dump(wasm: &str, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let bytes = std::fs::read(wasm).map_err(|e| format!("{wasm}: {e}"))?;
    let engine = hypha_wasm::Engine::host(hypha_wasm::Config::default()).map_err(|e| e.to_string())?;
    let module = hypha_wasm::Module::new(&engine, &bytes).map_err(|e| e.to_string())?;
    let artifact = engine.precompile_artifact(&bytes).map_err(|e| e.to_string())?;
    let (funcs, code) = split(&artifact)?;
    std::fs::write(out.join("code.bin"), code).map_err(|e| format!("{}: {e}", out.display()))?;
    let first = module.imports().filter(|(_, _, t)| matches!(t, hypha_wasm::ExternType::Func(_))).count();
    let mut text = String::new();
    for (i, (start, len)) in funcs.iter().enumerate() {
        let index = first + i;
        let name = u32::try_from(index).ok().and_then(|n| module.func_name(n)).unwrap_or("");
        text.push_str(&format!("{index} {start:#x} {len:#x} {name}\n"));
    }
    std::fs::write(out.join("funcs.txt"), text).map_err(|e| format!("{}: {e}", out.display()))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(wasm), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: dump_ours FILE.wasm OUT_DIR");
        return ExitCode::from(2);
    };
    match dump(&wasm, &PathBuf::from(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump_ours: {e}");
            ExitCode::FAILURE
        }
    }
}
