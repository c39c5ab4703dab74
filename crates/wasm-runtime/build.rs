//! Computes `HYPHA_WASM_BUILD_ID`: a hash of this crate's own source files
//! and of the compiler crates' versions in the workspace lock file. It is
//! part of every engine's fingerprint (`src/artifact.rs`), so a precompiled
//! artifact is only ever loaded by a runtime built from the same code
//! generator as the one that wrote it.

use std::path::{Path, PathBuf};

/// FNV-1a, 64-bit: stable across builds and hosts, no dependencies.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let src = root.join("src");
    println!("cargo:rerun-if-changed=src");
    let lock = root.join("../../Cargo.lock");
    println!("cargo:rerun-if-changed=../../Cargo.lock");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    paths.sort();
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    fnv(&mut h, std::env::var("CARGO_PKG_VERSION").unwrap_or_default().as_bytes());
    for path in &paths {
        let rel = path.strip_prefix(&root).unwrap_or(path);
        fnv(&mut h, rel.to_string_lossy().as_bytes());
        fnv(&mut h, &std::fs::read(path).unwrap_or_default());
    }
    // The versions of the code generator and parser crates.
    if let Ok(lock) = std::fs::read_to_string(&lock) {
        let mut lines = lock.lines();
        while let Some(line) = lines.next() {
            let name = line.trim_start_matches("name = \"").trim_end_matches('"');
            if line.starts_with("name = \"") && (name.starts_with("cranelift") || name == "wasmparser" || name == "regalloc2") {
                fnv(&mut h, line.as_bytes());
                if let Some(version) = lines.next() {
                    fnv(&mut h, version.as_bytes());
                }
            }
        }
    }
    println!("cargo:rustc-env=HYPHA_WASM_BUILD_ID={h:016x}");
}
