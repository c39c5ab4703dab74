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
//! With the `std` feature, the `host` module provides a real-directory file system,
//! std clocks, `/dev/urandom` and std / in-memory stdio. [`memfs::MemFs`]
//! is an in-memory file system that needs no `std`.
//!
//! # Open file descriptions
//!
//! An fd refers to an open file description (the open file or stream and,
//! for a file, its offset). [`WasiCtx::share_fd`] takes a [`SharedFd`]
//! reference to one, and [`WasiCtx::install_shared`] /
//! [`WasiCtx::insert_shared`] make a new fd for it, in the same context or
//! in another context over the same file system (a clone of a shared
//! backend such as a kernel VFS). That is how a kernel gives a spawned
//! child the parent's descriptors as stdio: offsets and stream ends are
//! shared, and the file is closed when the last fd goes. `fd_renumber`
//! moves the description to the new number (the old number is closed).
//! Kernel streams such as pipe ends go in with [`WasiCtx::insert_input`] /
//! [`WasiCtx::insert_output`]. A description's lock is held during one
//! backend call (a blocking stream read keeps it while it waits); another
//! call that needs the same description meanwhile waits with the function
//! given to [`set_description_wait`] (default: spin).
//!
//! ```
//! use hypha_wasi::WasiCtx;
//! use hypha_wasi::host::{HostClock, HostRandom, MemoryOutput};
//! use hypha_wasi::memfs::MemFs;
//!
//! let ctx = |fs| WasiCtx::new(fs, Box::new(HostClock::new()), Box::new(HostRandom::default()));
//! let mut parent = ctx(MemFs::new(Box::new(|| 0)));
//! let out = MemoryOutput::new();
//! parent.set_stdout(Box::new(out.clone()));
//! let mut child = ctx(MemFs::new(Box::new(|| 0)));
//! // The child's fd 1 is the parent's fd 1.
//! child.install_shared(1, parent.share_fd(1).unwrap()).unwrap();
//! let mut mem = vec![0u8; 64];
//! mem[0..4].copy_from_slice(&16u32.to_le_bytes());
//! mem[4..8].copy_from_slice(&2u32.to_le_bytes());
//! mem[16..18].copy_from_slice(b"hi");
//! assert_eq!(hypha_wasi::call(&mut child, &mut mem, "fd_write", &[1, 0, 1, 32]), Ok(0));
//! drop(child); // the parent's fd 1 stays open
//! assert_eq!(hypha_wasi::call(&mut parent, &mut mem, "fd_write", &[1, 0, 1, 32]), Ok(0));
//! assert_eq!(out.contents(), b"hihi");
//! ```
//!
//! # Glue
//!
//! The runtime registers every entry of [`IMPORTS`] under [`MODULE`] with
//! the listed signature, and each host function forwards to [`call`] with
//! the guest's memory and its raw arguments (`i32` in the low 32 bits,
//! `i64` as bits):
//!
//! ```
//! use hypha_wasi::{CallError, IMPORTS, MODULE, ValType, call};
//! use hypha_wasi::host::{MemoryOutput, host_ctx};
//!
//! let dir = std::env::temp_dir().join(format!("hypha-wasi-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let mut ctx = host_ctx(&dir).unwrap(); // `dir` preopened as "/" (fd 3)
//! let stdout = MemoryOutput::new();
//! ctx.set_stdout(Box::new(stdout.clone()));
//! ctx.set_args(["prog.wasm"]);
//!
//! // Registration: one host function per import.
//! assert_eq!(MODULE, "wasi_snapshot_preview1");
//! let fd_write = IMPORTS.iter().find(|s| s.name == "fd_write").unwrap();
//! assert_eq!(fd_write.params, &[ValType::I32; 4]);
//!
//! // A call: the guest wrote "hi" at 16 and an iovec {16, 2} at 0.
//! let mut memory = vec![0u8; 65536];
//! memory[0..4].copy_from_slice(&16u32.to_le_bytes());
//! memory[4..8].copy_from_slice(&2u32.to_le_bytes());
//! memory[16..18].copy_from_slice(b"hi");
//! let errno = call(&mut ctx, &mut memory, "fd_write", &[1, 0, 1, 32]).unwrap();
//! assert_eq!(errno, 0);
//! assert_eq!(stdout.contents(), b"hi");
//!
//! // proc_exit is not an errno: the glue unwinds the guest.
//! assert_eq!(call(&mut ctx, &mut memory, "proc_exit", &[3]), Err(CallError::Exit(3)));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```
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
pub use ctx::{MAX_FDS, SharedFd, WasiCtx, set_description_wait};
pub use dispatch::{CallError, IMPORTS, ImportSig, MODULE, ValType, call};
pub use misc::{POLL_SLICE_NS, PollStep};
pub use path::MAX_SYMLINKS;
pub use types::Errno;
