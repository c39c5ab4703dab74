//! The object-safe interface every mounted file system implements.
//!
//! [`hypha_wasi::FileSystem`] has associated types, so it cannot be a trait
//! object. [`MountFs`] is its object-safe twin: nodes are inode numbers
//! (`u64`, unique within one file system) and open files are boxed
//! [`OpenFile`]s. The [`crate::Vfs`] keeps one `Arc<dyn MountFs>` per mount
//! and dispatches to it.
//!
//! Like `FileSystem`, a `MountFs` is addressed one component at a time:
//! names are never empty, `.`, `..`, or contain `/` or NUL. Mutating
//! operations default to `Err(Rofs)`, so a read-only file system only
//! implements the lookups.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;

use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, OpenOptions};

/// A file system that can be mounted in a [`crate::Vfs`].
pub trait MountFs: Send + Sync + Debug {
    /// Inode number of the root directory.
    fn root(&self) -> u64;
    /// Finds `name` in directory `dir` (not following a final symlink).
    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, Filetype), Errno>;
    /// Metadata of `node` (`dev` is filled in by the VFS).
    fn stat(&self, node: u64) -> Result<Filestat, Errno>;
    /// Permission bits (`0o7777` part of a POSIX mode), if the file system
    /// records them.
    fn mode(&self, node: u64) -> Result<Option<u32>, Errno> {
        self.stat(node).map(|_| None)
    }
    /// The target of symlink `node`; `Inval` if it is not one.
    fn readlink(&self, node: u64) -> Result<String, Errno>;
    /// Entries of directory `dir`, without `.` and `..`.
    fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno>;
    /// Opens `node` (a regular file or a device).
    fn open(&self, node: u64, opts: OpenOptions) -> Result<Box<dyn OpenFile>, Errno>;

    /// Sets the times of `node`.
    fn set_times(&self, node: u64, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        let _ = (node, atim, mtim);
        Err(Errno::Rofs)
    }
    /// Creates (or, unless `exclusive`, opens) regular file `name` in `dir`.
    fn create(
        &self,
        dir: u64,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(u64, Box<dyn OpenFile>), Errno> {
        let _ = (dir, name, exclusive, opts);
        Err(Errno::Rofs)
    }
    /// Creates directory `name` in `dir`.
    fn create_dir(&self, dir: u64, name: &str) -> Result<(), Errno> {
        let _ = (dir, name);
        Err(Errno::Rofs)
    }
    /// Removes empty directory `name` from `dir`.
    fn remove_dir(&self, dir: u64, name: &str) -> Result<(), Errno> {
        let _ = (dir, name);
        Err(Errno::Rofs)
    }
    /// Removes non-directory `name` from `dir`.
    fn unlink(&self, dir: u64, name: &str) -> Result<(), Errno> {
        let _ = (dir, name);
        Err(Errno::Rofs)
    }
    /// Renames within this file system (POSIX `rename`).
    fn rename(&self, from_dir: u64, from: &str, to_dir: u64, to: &str) -> Result<(), Errno> {
        let _ = (from_dir, from, to_dir, to);
        Err(Errno::Rofs)
    }
    /// Creates symlink `name` in `dir` pointing at `target`.
    fn symlink(&self, dir: u64, name: &str, target: &str) -> Result<(), Errno> {
        let _ = (dir, name, target);
        Err(Errno::Rofs)
    }
    /// Creates hard link `to_dir/to` for `from_dir/from`.
    fn link(&self, from_dir: u64, from: &str, to_dir: u64, to: &str) -> Result<(), Errno> {
        let _ = (from_dir, from, to_dir, to);
        Err(Errno::Rofs)
    }
    /// The bytes of regular file `node` when they live, unchanged, for the
    /// rest of the program (a read-only archive left in memory): readers
    /// may keep them without copying. `None` (the default) for files that
    /// can change or whose bytes are not in memory.
    fn static_file(&self, node: u64) -> Option<StaticFile> {
        let _ = node;
        None
    }
}

/// A file's bytes that never change (see [`MountFs::static_file`]).
#[derive(Debug, Clone, Copy)]
pub struct StaticFile {
    /// The contents.
    pub bytes: &'static [u8],
    /// Their SHA-256, when the file system recorded it (a tar archive's
    /// [`crate::tar::SHA256_KEY`] record); not checked against the bytes.
    pub sha256: Option<[u8; 32]>,
}

/// An open file (regular file or device) of a [`MountFs`]. Dropping it
/// closes it.
pub trait OpenFile: Send + Debug {
    /// Reads at `offset` (devices ignore it); `Ok(0)` is end of file.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// Writes at `offset` (devices ignore it).
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let _ = (buf, offset);
        Err(Errno::Rofs)
    }
    /// Metadata of the open file (`dev` is filled in by the VFS).
    fn stat(&self) -> Result<Filestat, Errno>;
    /// Truncates or zero-extends to `len` bytes.
    fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        let _ = len;
        Err(Errno::Rofs)
    }
    /// Flushes (memory-backed files have nothing to flush).
    fn sync(&mut self, data_only: bool) -> Result<(), Errno> {
        let _ = data_only;
        Ok(())
    }
    /// Sets the times of the open file.
    fn set_times(&mut self, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        let _ = (atim, mtim);
        Err(Errno::Rofs)
    }
}
