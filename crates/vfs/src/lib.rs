//! Hypha's virtual file system.
//!
//! What it is: one tree of mounted file systems, `no_std` + `alloc`,
//! implementing [`hypha_wasi::FileSystem`] so a kernel `WasiCtx<Vfs>` uses
//! it directly. It provides:
//!
//! - [`Vfs`]: the mount table. A node is a [`VfsNode`] (mount id, inode).
//!   Looking up a mount point's name yields the mounted root; `..` is
//!   handled by the caller's resolver (hypha-wasi keeps the directories it
//!   walked through, so `..` at a mount root returns to the directory that
//!   holds the mount point). Rename and hard links across mounts are
//!   `Xdev`; removing or renaming a mount point is `Busy`. [`Vfs::resolve`]
//!   is the kernel's own absolute-path lookup (for `spawn`).
//! - [`TarFs`]: the read-only initrd from a ustar archive in memory
//!   (directories, files, symlinks, hard links, mode bits; writes are
//!   `Rofs`; malformed archives are a [`TarError`]).
//! - [`TmpFs`]: the writable `/tmp`, hypha-wasi's `MemFs` behind a lock,
//!   with a byte and an inode [`Quota`] (`Nospc`, nothing lost).
//! - [`DevFs`]: `/dev` with `null`, `zero`, `random` and `console`
//!   (character devices; the console is a [`CharDevice`] the kernel gives).
//! - [`ProcFs`]: `/proc` generated from a [`ProcSource`] the kernel
//!   implements; the text formats are documented in [`procfs`].
//!
//! Every file system implements the object-safe [`MountFs`] (inode numbers
//! and boxed [`OpenFile`]s), so the kernel can mount its own too.
//!
//! What it is not: a path sandbox (hypha-wasi's resolver does that for
//! guests) or a block-device file system; everything lives in memory.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use hypha_vfs::{Quota, TarBuilder, TarFs, TmpFs, Vfs};
//! use hypha_wasi::FileSystem;
//!
//! let tar = TarBuilder::new().file("bin/hello", 0o755, b"\0asm").finish();
//! let vfs = Vfs::new(Arc::new(TarFs::new(tar).unwrap()));
//! let tmp = TmpFs::new(Box::new(|| 0), Quota { bytes: 1 << 20, inodes: 256 });
//! vfs.mount("/tmp", Arc::new(tmp)).unwrap();
//! assert_eq!(vfs.read_file("/bin/hello").unwrap(), b"\0asm");
//! let tmp_dir = vfs.resolve("/tmp").unwrap();
//! vfs.create_dir(&tmp_dir, "work").unwrap();
//! assert_eq!(vfs.readdir(&tmp_dir).unwrap()[0].name, "work");
//! ```
#![no_std]

extern crate alloc;

pub mod devfs;
mod lock;
pub mod mount;
pub mod procfs;
pub mod tar;
pub mod tmpfs;
mod vfs;

pub use devfs::{CharDevice, DevFs};
pub use mount::{MountFs, OpenFile, StaticFile};
pub use procfs::{MemInfo, ProcFs, ProcInfo, ProcSource, ProcState};
pub use tar::{ArchiveBytes, TarBuilder, TarError, TarFs};
pub use tmpfs::{Quota, TmpFs};
pub use vfs::{LoadedFile, MAX_MOUNTS, MountId, MountInfo, ROOT_MOUNT, Vfs, VfsFile, VfsNode};
