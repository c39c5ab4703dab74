//! The sightglass programs: which ones are core modules we can run, and
//! checking their output against the `*.expected` files.

use std::fs;
use std::path::{Path, PathBuf};

use wasmparser::{Parser, Payload, Validator, WasmFeatures};

/// One runnable program.
#[derive(Debug, Clone)]
pub struct Program {
    /// `folder` or `folder/stem` when a folder has several.
    pub name: String,
    /// The module file.
    pub wasm: PathBuf,
    /// The module bytes.
    pub bytes: Vec<u8>,
}

/// A program that is not benchmarked, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// As [`Program::name`].
    pub name: String,
    /// Why.
    pub reason: String,
}

/// Why a module is not a plain core module we run, if it is not.
fn skip_reason(bytes: &[u8]) -> Option<String> {
    if Parser::is_component(bytes) {
        return Some("component (Component Model)".into());
    }
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for imports in reader {
                    let Ok(imports) = imports else { return Some("malformed import section".into()) };
                    for import in imports {
                        let Ok((_, import)) = import else { return Some("malformed import section".into()) };
                        if import.module == "wasi_ephemeral_nn" {
                            return Some("imports wasi-nn (and its model is not included)".into());
                        }
                    }
                }
            }
            Ok(_) => {}
            Err(e) => return Some(format!("malformed: {e}")),
        }
    }
    let mut features = WasmFeatures::WASM2;
    features.remove(WasmFeatures::GC);
    features.remove(WasmFeatures::FUNCTION_REFERENCES);
    if let Err(e) = Validator::new_with_features(features).validate_all(bytes) {
        return Some(format!("needs a proposal beyond Wasm 2.0 (GC, function references...): {}", e.message()));
    }
    None
}

/// Every `.wasm` under `root/<folder>/`, split into runnable programs and
/// skipped ones, sorted by name, filtered by substring `filter`.
///
/// # Errors
/// I/O errors reading the tree.
pub fn discover(root: &Path, filter: &str) -> std::io::Result<(Vec<Program>, Vec<Skipped>)> {
    let mut programs = Vec::new();
    let mut skipped = Vec::new();
    let mut folders: Vec<PathBuf> = fs::read_dir(root)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    folders.sort();
    for folder in folders {
        let mut wasms: Vec<PathBuf> = fs::read_dir(&folder)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        wasms.sort();
        let folder_name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        for wasm in &wasms {
            let stem = wasm.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let name = if wasms.len() == 1 { folder_name.clone() } else { stem.strip_prefix(&format!("{folder_name}-")).map_or(stem.clone(), |s| format!("{folder_name}-{s}")) };
            if !name.contains(filter) {
                continue;
            }
            let bytes = fs::read(wasm)?;
            match skip_reason(&bytes) {
                Some(reason) => skipped.push(Skipped { name, reason }),
                None => programs.push(Program { name, wasm: wasm.clone(), bytes }),
            }
        }
    }
    Ok((programs, skipped))
}

/// The expected output file for `stream` (`stdout`/`stderr`) of `wasm`:
/// `<stem>.<stream>.expected`, else `default.<stream>.expected`.
fn expected_file(wasm: &Path, stream: &str) -> Option<PathBuf> {
    let dir = wasm.parent()?;
    let stem = wasm.file_stem()?.to_string_lossy();
    [dir.join(format!("{stem}.{stream}.expected")), dir.join(format!("default.{stream}.expected"))].into_iter().find(|p| p.exists())
}

/// Compare `stdout`/`stderr` with the expected files line by line.
/// `Ok(n)` is how many streams were checked (0 when there are no files).
///
/// # Errors
/// Which stream differs, at which line.
pub fn check_output(wasm: &Path, stdout: &[u8], stderr: &[u8]) -> Result<usize, String> {
    let mut checked = 0;
    for (stream, got) in [("stdout", stdout), ("stderr", stderr)] {
        let Some(file) = expected_file(wasm, stream) else { continue };
        let want = fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let want = String::from_utf8_lossy(&want);
        let got = String::from_utf8_lossy(got);
        let (mut w, mut g) = (want.lines(), got.lines());
        let mut line = 1;
        loop {
            match (w.next(), g.next()) {
                (None, None) => break,
                (a, b) if a == b => line += 1,
                (a, b) => return Err(format!("{stream} line {line}: expected {a:?}, got {b:?}")),
            }
        }
        checked += 1;
    }
    Ok(checked)
}
