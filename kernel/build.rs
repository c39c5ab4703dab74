//! Links the kernel as a static PIE at its link base with `linker.ld`; the
//! loader relocates it to a randomised address.

use std::path::PathBuf;

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
}
