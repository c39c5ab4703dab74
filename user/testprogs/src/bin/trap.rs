//! `trap`: executes WebAssembly `unreachable` (the kernel must end only this
//! process and report the trap; the shell prints `trap: trapped: ...`).
fn main() {
    println!("trap: executing unreachable");
    #[cfg(target_arch = "wasm32")]
    core::arch::wasm32::unreachable();
    #[cfg(not(target_arch = "wasm32"))]
    std::process::abort();
}
