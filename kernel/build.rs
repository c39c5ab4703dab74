//! Links the kernel as a static PIE at its link base with `linker.ld`; the
//! loader relocates it to a randomised address. Also encodes the
//! WebAssembly programs built into the image (`programs/*.wat`, run by the
//! console's `run` and the process tests) into `$OUT_DIR/programs.rs`,
//! each with its SHA-256 (the module cache's key, so spawning a built-in
//! program hashes nothing).

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = manifest_dir.join("linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    // A position-independent executable: code is PC-relative (medany), and
    // absolute addresses in data become R_RISCV_RELATIVE relocations that
    // the loader applies, including in read-only data (hence `notext`).
    println!("cargo:rustc-link-arg-bins=--pie");
    println!("cargo:rustc-link-arg-bins=-znotext");
    println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    programs(&manifest_dir);
    bench_programs(&manifest_dir);
}

/// `src/bench/programs/NAME.wat` (the kernel benchmarks' programs, which
/// import `hypha_bench` and are not in `/bin`) -> `$OUT_DIR/bench_programs.rs`
/// as `BENCH_PROGRAMS: &[(&str, &[u8], [u8; 32])]` (name, bytes, SHA-256),
/// sorted by name.
fn bench_programs(manifest_dir: &std::path::Path) {
    let out_dir = out_dir();
    let mut list = String::from(
        "/// The kernel benchmarks' programs: (name, module bytes, SHA-256).\npub const BENCH_PROGRAMS: &[(&str, &[u8], [u8; 32])] = &[\n",
    );
    encode_wat_dir(&manifest_dir.join("src/bench/programs"), &out_dir, "bench_", &mut list);
    list.push_str("];\n");
    std::fs::write(out_dir.join("bench_programs.rs"), list).expect("writing OUT_DIR");
}

/// `programs/NAME.wat` -> `$OUT_DIR/NAME.wasm`, listed in `programs.rs` as
/// `PROGRAMS: &[(&str, &[u8], [u8; 32])]` (name, bytes, SHA-256), sorted by name. Text that encodes but
/// does not validate (`invalid.wat`) is kept: the tests need it.
fn programs(manifest_dir: &std::path::Path) {
    let out_dir = out_dir();
    let mut list = String::from(
        "/// Programs built into the kernel image: (name, module bytes, SHA-256).\npub const PROGRAMS: &[(&str, &[u8], [u8; 32])] = &[\n",
    );
    encode_wat_dir(&manifest_dir.join("programs"), &out_dir, "", &mut list);
    // Generated: `many_funcs`, 48 small functions chained by calls (for
    // parallel compilation); exits 0 when the chain sums correctly.
    let generated = wat::parse_str(many_funcs(48)).expect("generated many_funcs encodes");
    let wasm = out_dir.join("many_funcs.wasm");
    std::fs::write(&wasm, &generated).expect("writing OUT_DIR");
    list_entry(&mut list, "many_funcs", &wasm, &generated);
    list.push_str("];\n");
    std::fs::write(out_dir.join("programs.rs"), list).expect("writing OUT_DIR");
}

fn out_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
}

/// Encodes every `dir/NAME.wat` (sorted by name) to `out_dir/PREFIXNAME.wasm`
/// and appends a `(NAME, include_bytes!(…)),` line for each to `list`.
fn encode_wat_dir(dir: &std::path::Path, out_dir: &std::path::Path, prefix: &str, list: &mut String) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "wat").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    for name in &names {
        let source = dir.join(format!("{name}.wat"));
        println!("cargo:rerun-if-changed={}", source.display());
        let bytes = wat::parse_file(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let wasm = out_dir.join(format!("{prefix}{name}.wasm"));
        std::fs::write(&wasm, &bytes).expect("writing OUT_DIR");
        list_entry(list, name, &wasm, &bytes);
    }
}

/// Appends `(NAME, include_bytes!(WASM), SHA-256 of BYTES),` to `list`.
fn list_entry(list: &mut String, name: &str, wasm: &std::path::Path, bytes: &[u8]) {
    let digest = Sha256::digest(bytes);
    writeln!(list, "    ({name:?}, include_bytes!({:?}), {:?}),", wasm.display().to_string(), <[u8; 32]>::from(digest))
        .expect("formatting into a String");
}

/// `count` functions, each adding `i * 3 + 1` to the next one's result;
/// `_start` exits 0 if the total is right.
fn many_funcs(count: u32) -> String {
    let mut text = String::from("(module (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n");
    for i in 0..count {
        let next = if i + 1 == count { String::from("(i32.const 0)") } else { format!("(call $f{})", i + 1) };
        writeln!(
            text,
            "(func $f{i} (result i32) (local $x i32) (local.set $x (i32.add (i32.mul (i32.const {i}) (i32.const 3)) (i32.const 1))) (i32.add (local.get $x) {next}))"
        )
        .expect("formatting into a String");
    }
    let total: u32 = (0..count).map(|i| i * 3 + 1).sum();
    writeln!(text, "(func (export \"_start\") (call $exit (i32.ne (call $f0) (i32.const {total})))))").expect("formatting into a String");
    text
}
