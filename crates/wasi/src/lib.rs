//! WASI preview 1 (`wasi_snapshot_preview1`) for Hypha.
//!
//! What it is: a `no_std` + `alloc` implementation of every preview 1
//! syscall over small traits the platform supplies ([`Clock`], [`Random`],
//! [`InputStream`]/[`OutputStream`], [`FileSystem`]). Guest memory is a plain
//! `&mut [u8]`; every pointer is bounds-checked and a bad one is
//! `Errno::Fault`. Path resolution, symlink following and the preopen
//! sandbox (no `..`, absolute path or symlink escapes) live here, generic
//! over the file system, so every backend gets the same guarantees.
//! Rights are tracked per fd and enforced as the spec says.
//!
//! What it is not: a WebAssembly runtime. The runtime (or kernel) glue
//! calls [`call`] (or the `WasiCtx` methods) for each import with the
//! guest's memory and raw arguments. It has no sockets (`sock_*` are
//! `Notsup`), no signals, and blocking (`poll_oneoff`) is a synchronous
//! sleep through [`Clock::sleep`].
//!
//! With the `std` feature, [`host`] provides a real-directory file system,
//! std clocks, `/dev/urandom` and std / in-memory stdio.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod backend;
mod ctx;
pub mod dispatch;
mod fd;
#[cfg(feature = "std")]
pub mod host;
pub mod mem;
pub mod memfs;
mod misc;
mod path;
mod path_ops;
pub mod types;

pub use backend::{
    Clock, DirEntry, FileSystem, InputStream, OpenOptions, OutputStream, Random, Readiness,
};
pub use ctx::{MAX_FDS, WasiCtx};
pub use dispatch::{CallError, IMPORTS, ImportSig, MODULE, ValType, call};
pub use misc::{POLL_SLICE_NS, PollStep};
pub use path::MAX_SYMLINKS;
pub use types::Errno;
