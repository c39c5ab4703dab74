//! One entry point for the runtime glue: [`call`] runs the named
//! `wasi_snapshot_preview1` import, and [`IMPORTS`] lists every import with
//! its wasm signature so the glue can register them in a loop.

use core::fmt;

use crate::backend::FileSystem;
use crate::ctx::WasiCtx;
use crate::mem::GuestMem;
use crate::types::Errno;

/// The import module name.
pub const MODULE: &str = "wasi_snapshot_preview1";

/// A wasm value type in an import signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

/// One import: name and wasm signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSig {
    /// Field name in [`MODULE`].
    pub name: &'static str,
    /// Parameter types.
    pub params: &'static [ValType],
    /// Result types (`[I32]` = errno, `[]` for `proc_exit`).
    pub results: &'static [ValType],
}

/// Why [`call`] did not return an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// `proc_exit(code)`: unwind the guest and end the process.
    Exit(u32),
    /// No such import in [`IMPORTS`].
    UnknownFunction,
    /// The glue passed the wrong number of arguments.
    ArgCount {
        /// From the signature.
        expected: usize,
        /// Passed.
        got: usize,
    },
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Exit(c) => write!(f, "proc_exit({c})"),
            CallError::UnknownFunction => f.write_str("unknown WASI function"),
            CallError::ArgCount { expected, got } => {
                write!(f, "expected {expected} arguments, got {got}")
            }
        }
    }
}

impl core::error::Error for CallError {}

use ValType::{I32, I64};

const R: &[ValType] = &[I32];

macro_rules! sig {
    ($name:literal, [$($p:ident),*]) => {
        ImportSig { name: $name, params: &[$($p),*], results: R }
    };
}

/// Every `wasi_snapshot_preview1` import, with its signature.
pub const IMPORTS: &[ImportSig] = &[
    sig!("args_get", [I32, I32]),
    sig!("args_sizes_get", [I32, I32]),
    sig!("environ_get", [I32, I32]),
    sig!("environ_sizes_get", [I32, I32]),
    sig!("clock_res_get", [I32, I32]),
    sig!("clock_time_get", [I32, I64, I32]),
    sig!("fd_advise", [I32, I64, I64, I32]),
    sig!("fd_allocate", [I32, I64, I64]),
    sig!("fd_close", [I32]),
    sig!("fd_datasync", [I32]),
    sig!("fd_fdstat_get", [I32, I32]),
    sig!("fd_fdstat_set_flags", [I32, I32]),
    sig!("fd_fdstat_set_rights", [I32, I64, I64]),
    sig!("fd_filestat_get", [I32, I32]),
    sig!("fd_filestat_set_size", [I32, I64]),
    sig!("fd_filestat_set_times", [I32, I64, I64, I32]),
    sig!("fd_pread", [I32, I32, I32, I64, I32]),
    sig!("fd_prestat_get", [I32, I32]),
    sig!("fd_prestat_dir_name", [I32, I32, I32]),
    sig!("fd_pwrite", [I32, I32, I32, I64, I32]),
    sig!("fd_read", [I32, I32, I32, I32]),
    sig!("fd_readdir", [I32, I32, I32, I64, I32]),
    sig!("fd_renumber", [I32, I32]),
    sig!("fd_seek", [I32, I64, I32, I32]),
    sig!("fd_sync", [I32]),
    sig!("fd_tell", [I32, I32]),
    sig!("fd_write", [I32, I32, I32, I32]),
    sig!("path_create_directory", [I32, I32, I32]),
    sig!("path_filestat_get", [I32, I32, I32, I32, I32]),
    sig!(
        "path_filestat_set_times",
        [I32, I32, I32, I32, I64, I64, I32]
    ),
    sig!("path_link", [I32, I32, I32, I32, I32, I32, I32]),
    sig!("path_open", [I32, I32, I32, I32, I32, I64, I64, I32, I32]),
    sig!("path_readlink", [I32, I32, I32, I32, I32, I32]),
    sig!("path_remove_directory", [I32, I32, I32]),
    sig!("path_rename", [I32, I32, I32, I32, I32, I32]),
    sig!("path_symlink", [I32, I32, I32, I32, I32]),
    sig!("path_unlink_file", [I32, I32, I32]),
    sig!("poll_oneoff", [I32, I32, I32, I32]),
    ImportSig {
        name: "proc_exit",
        params: &[I32],
        results: &[],
    },
    sig!("proc_raise", [I32]),
    sig!("sched_yield", []),
    sig!("random_get", [I32, I32]),
    sig!("sock_accept", [I32, I32, I32]),
    sig!("sock_recv", [I32, I32, I32, I32, I32, I32]),
    sig!("sock_send", [I32, I32, I32, I32, I32]),
    sig!("sock_shutdown", [I32, I32]),
];

/// The signature of import `name`.
#[must_use]
pub fn signature(name: &str) -> Option<&'static ImportSig> {
    IMPORTS.iter().find(|s| s.name == name)
}

/// Low 32 bits of a raw argument (an `i32` passed in a `u64`, either
/// zero- or sign-extended).
fn lo32(v: u64) -> u32 {
    let b = v.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn lo16(v: u64) -> u16 {
    let b = v.to_le_bytes();
    u16::from_le_bytes([b[0], b[1]])
}

fn lo8(v: u64) -> u8 {
    v.to_le_bytes()[0]
}

/// Errno as the `i32` result of an import.
#[must_use]
pub fn errno_result(r: Result<(), Errno>) -> i32 {
    i32::from(match r {
        Ok(()) => 0,
        Err(e) => e.raw(),
    })
}

/// Runs import `name` with raw `args` (each `i32` in the low 32 bits, each
/// `i64` as its two's-complement bits) against `memory`, returning the
/// errno as `i32`, or [`CallError::Exit`] for `proc_exit`.
pub fn call<F: FileSystem>(
    ctx: &mut WasiCtx<F>,
    memory: &mut [u8],
    name: &str,
    args: &[u64],
) -> Result<i32, CallError> {
    let sig = signature(name).ok_or(CallError::UnknownFunction)?;
    if sig.params.len() != args.len() {
        return Err(CallError::ArgCount {
            expected: sig.params.len(),
            got: args.len(),
        });
    }
    let mem = &mut GuestMem::new(memory);
    let a = |i: usize| lo32(args[i]);
    let l = |i: usize| args[i];
    let s = |i: usize| i64::from_le_bytes(args[i].to_le_bytes());
    let r = match name {
        "args_get" => ctx.args_get(mem, a(0), a(1)),
        "args_sizes_get" => ctx.args_sizes_get(mem, a(0), a(1)),
        "environ_get" => ctx.environ_get(mem, a(0), a(1)),
        "environ_sizes_get" => ctx.environ_sizes_get(mem, a(0), a(1)),
        "clock_res_get" => ctx.clock_res_get(mem, a(0), a(1)),
        "clock_time_get" => ctx.clock_time_get(mem, a(0), l(1), a(2)),
        "fd_advise" => ctx.fd_advise(a(0), l(1), l(2), lo8(args[3])),
        "fd_allocate" => ctx.fd_allocate(a(0), l(1), l(2)),
        "fd_close" => ctx.fd_close(a(0)),
        "fd_datasync" => ctx.fd_sync(a(0), true),
        "fd_fdstat_get" => ctx.fd_fdstat_get(mem, a(0), a(1)),
        "fd_fdstat_set_flags" => ctx.fd_fdstat_set_flags(a(0), lo16(args[1])),
        "fd_fdstat_set_rights" => ctx.fd_fdstat_set_rights(a(0), l(1), l(2)),
        "fd_filestat_get" => ctx.fd_filestat_get(mem, a(0), a(1)),
        "fd_filestat_set_size" => ctx.fd_filestat_set_size(a(0), l(1)),
        "fd_filestat_set_times" => ctx.fd_filestat_set_times(a(0), l(1), l(2), lo16(args[3])),
        "fd_pread" => ctx.fd_pread(mem, a(0), a(1), a(2), l(3), a(4)),
        "fd_prestat_get" => ctx.fd_prestat_get(mem, a(0), a(1)),
        "fd_prestat_dir_name" => ctx.fd_prestat_dir_name(mem, a(0), a(1), a(2)),
        "fd_pwrite" => ctx.fd_pwrite(mem, a(0), a(1), a(2), l(3), a(4)),
        "fd_read" => ctx.fd_read(mem, a(0), a(1), a(2), a(3)),
        "fd_readdir" => ctx.fd_readdir(mem, a(0), a(1), a(2), l(3), a(4)),
        "fd_renumber" => ctx.fd_renumber(a(0), a(1)),
        "fd_seek" => ctx.fd_seek(mem, a(0), s(1), lo8(args[2]), a(3)),
        "fd_sync" => ctx.fd_sync(a(0), false),
        "fd_tell" => ctx.fd_tell(mem, a(0), a(1)),
        "fd_write" => ctx.fd_write(mem, a(0), a(1), a(2), a(3)),
        "path_create_directory" => ctx.path_create_directory(mem, a(0), (a(1), a(2))),
        "path_filestat_get" => ctx.path_filestat_get(mem, a(0), a(1), (a(2), a(3)), a(4)),
        "path_filestat_set_times" => {
            ctx.path_filestat_set_times(mem, a(0), a(1), (a(2), a(3)), l(4), l(5), lo16(args[6]))
        }
        "path_link" => ctx.path_link(mem, a(0), a(1), (a(2), a(3)), a(4), (a(5), a(6))),
        "path_open" => ctx.path_open(
            mem,
            a(0),
            a(1),
            (a(2), a(3)),
            lo16(args[4]),
            l(5),
            l(6),
            lo16(args[7]),
            a(8),
        ),
        "path_readlink" => ctx.path_readlink(mem, a(0), (a(1), a(2)), a(3), a(4), a(5)),
        "path_remove_directory" => ctx.path_remove_directory(mem, a(0), (a(1), a(2))),
        "path_rename" => ctx.path_rename(mem, a(0), (a(1), a(2)), a(3), (a(4), a(5))),
        "path_symlink" => ctx.path_symlink(mem, (a(0), a(1)), a(2), (a(3), a(4))),
        "path_unlink_file" => ctx.path_unlink_file(mem, a(0), (a(1), a(2))),
        "poll_oneoff" => ctx.poll_oneoff(mem, a(0), a(1), a(2), a(3)),
        "proc_exit" => {
            ctx.flush_output();
            return Err(CallError::Exit(a(0)));
        }
        "proc_raise" => ctx.proc_raise(lo8(args[0])),
        "sched_yield" => ctx.sched_yield(),
        "random_get" => ctx.random_get(mem, a(0), a(1)),
        "sock_accept" | "sock_recv" | "sock_send" | "sock_shutdown" => ctx.sock_call(a(0)),
        _ => return Err(CallError::UnknownFunction),
    };
    Ok(errno_result(r))
}

impl<F: FileSystem> WasiCtx<F> {
    /// `sock_*`: this WASI has no sockets; a valid fd is `Notsup`.
    pub fn sock_call(&mut self, fd: u32) -> Result<(), Errno> {
        self.entry(fd)?;
        Err(Errno::Notsup)
    }
}
