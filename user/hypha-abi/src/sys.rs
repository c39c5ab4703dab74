//! The raw `hypha` imports, exactly as `docs/host-abi.md` specifies them.
//!
//! On `wasm32` + WASI these are WebAssembly imports from module `hypha`.
//! Every other target gets host stubs with the same signatures that return
//! `ENOSYS` (52): they exist only so the programs and their unit tests build
//! on the host, and are never part of a Hypha program.
//!
//! All pointers are offsets into the caller's linear memory, passed as `i32`.

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
pub use wasm::*;

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
mod wasm {
    #[link(wasm_import_module = "hypha")]
    unsafe extern "C" {
        /// `spawn(path, path_len, argv, argv_len, env, env_len, stdio, pid_out) -> errno`
        pub unsafe fn spawn(
            path: i32,
            path_len: i32,
            argv: i32,
            argv_len: i32,
            env: i32,
            env_len: i32,
            stdio: i32,
            pid_out: i32,
        ) -> i32;
        /// `wait(pid, status_out, msg, msg_len) -> errno`
        pub unsafe fn wait(pid: i32, status_out: i32, msg: i32, msg_len: i32) -> i32;
        /// `kill(pid) -> errno`
        pub safe fn kill(pid: i32) -> i32;
        /// `getpid() -> pid`
        pub safe fn getpid() -> i32;
        /// `pipe(fds_out) -> errno`
        pub unsafe fn pipe(fds_out: i32) -> i32;
        /// `ps(buf, buf_len, count_out) -> errno`
        pub unsafe fn ps(buf: i32, buf_len: i32, count_out: i32) -> i32;
        /// `yield() -> errno`
        #[link_name = "yield"]
        pub safe fn yield_now() -> i32;
        /// `sleep(ns) -> errno`
        pub safe fn sleep(ns: i64) -> i32;
        /// `meminfo(out, out_len) -> errno`
        pub unsafe fn meminfo(out: i32, out_len: i32) -> i32;
        /// `sysinfo(out, out_len) -> errno`
        pub unsafe fn sysinfo(out: i32, out_len: i32) -> i32;
        /// `shutdown(mode) -> errno`
        pub safe fn shutdown(mode: i32) -> i32;
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
pub use host::*;

/// Host stubs: `ENOSYS` for everything (see the module docs).
#[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
#[expect(clippy::too_many_arguments, reason = "mirrors the import signature")]
mod host {
    const ENOSYS: i32 = 52;

    /// Host stub of `spawn`.
    ///
    /// # Safety
    /// None needed: the stub reads no memory. `unsafe` only mirrors the import.
    pub unsafe fn spawn(_: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32, _: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `wait`.
    ///
    /// # Safety
    /// None needed: the stub reads no memory. `unsafe` only mirrors the import.
    pub unsafe fn wait(_: i32, _: i32, _: i32, _: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `kill`.
    pub fn kill(_: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `getpid`: pid 0 means "no Hypha process".
    pub fn getpid() -> i32 {
        0
    }
    /// Host stub of `pipe`.
    ///
    /// # Safety
    /// None needed: the stub writes no memory. `unsafe` only mirrors the import.
    pub unsafe fn pipe(_: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `ps`.
    ///
    /// # Safety
    /// None needed: the stub writes no memory. `unsafe` only mirrors the import.
    pub unsafe fn ps(_: i32, _: i32, _: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `yield`.
    pub fn yield_now() -> i32 {
        ENOSYS
    }
    /// Host stub of `sleep`.
    pub fn sleep(_: i64) -> i32 {
        ENOSYS
    }
    /// Host stub of `meminfo`.
    ///
    /// # Safety
    /// None needed: the stub writes no memory. `unsafe` only mirrors the import.
    pub unsafe fn meminfo(_: i32, _: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `sysinfo`.
    ///
    /// # Safety
    /// None needed: the stub writes no memory. `unsafe` only mirrors the import.
    pub unsafe fn sysinfo(_: i32, _: i32) -> i32 {
        ENOSYS
    }
    /// Host stub of `shutdown`.
    pub fn shutdown(_: i32) -> i32 {
        ENOSYS
    }
}
