//! Links the loader at the address OpenSBI jumps to and embeds the kernel
//! ELF named by `HYPHA_KERNEL_ELF` (xtask sets it). Without it the loader
//! still builds (for `cargo check`/clippy) and reports at boot that it has
//! no kernel.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let script = manifest_dir.join("linker.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rustc-link-arg-bins=-T{}", script.display());

    println!("cargo:rerun-if-env-changed=HYPHA_KERNEL_ELF");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let embedded = out_dir.join("kernel.elf");
    match std::env::var_os("HYPHA_KERNEL_ELF") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            std::fs::copy(&path, &embedded)
                .unwrap_or_else(|error| panic!("copying the kernel ELF {}: {error}", path.display()));
        }
        None => std::fs::write(&embedded, []).expect("writing an empty kernel placeholder"),
    }
}
