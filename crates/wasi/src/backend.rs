//! The traits a platform implements to give WASI a clock, randomness,
//! stdio streams and a file system.
//!
//! The file-system trait works one path component at a time: path parsing,
//! `.`/`..`, symlink following and the preopen sandbox all live in this crate
//! (the private `path` module), so a backend never sees a path with a `/` in it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Debug;

use crate::types::{ClockId, Errno, Filestat, Filetype};

// === clocks, randomness ===

/// Time sources.
pub trait Clock: Send + Debug {
    /// Current time of `id` in nanoseconds. `Err(Inval)` or `Err(Notsup)`
    /// for clocks the platform does not have.
    fn now(&self, id: ClockId) -> Result<u64, Errno>;
    /// Resolution of `id` in nanoseconds.
    fn resolution(&self, id: ClockId) -> Result<u64, Errno>;
    /// Blocks the caller for about `nanos` nanoseconds (used by
    /// `poll_oneoff` when nothing is ready yet).
    fn sleep(&self, nanos: u64);
}

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Debug {
    /// Fills `buf` completely.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Errno>;
}

// === stdio streams ===

/// Readiness of a stream, as `poll_oneoff` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Ready; the number of bytes that can be transferred without blocking
    /// (a hint; 0 if unknown).
    Ready(u64),
    /// Would block.
    NotReady,
    /// The other end is gone (end of input, or a closed output).
    Hangup,
}

/// A readable byte stream (stdin).
pub trait InputStream: Send + Debug {
    /// Reads up to `buf.len()` bytes; `Ok(0)` is end of input.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Whether a read would return without blocking.
    fn readiness(&self) -> Readiness;
    /// Whether the stream is a terminal (reported as a character device).
    fn is_terminal(&self) -> bool {
        false
    }
}

/// A writable byte stream (stdout, stderr).
pub trait OutputStream: Send + Debug {
    /// Writes some bytes of `buf`, returning how many.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno>;
    /// Flushes buffered output.
    fn flush(&mut self) -> Result<(), Errno>;
    /// Whether a write would return without blocking.
    fn readiness(&self) -> Readiness {
        Readiness::Ready(0)
    }
    /// Whether the stream is a terminal (reported as a character device).
    fn is_terminal(&self) -> bool {
        false
    }
}

// === file system ===

/// One directory entry as the backend lists it (never `.` or `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Entry name (no `/`).
    pub name: String,
    /// File serial number.
    pub ino: u64,
    /// Type of the entry itself (a symlink is `SymbolicLink`).
    pub filetype: Filetype,
}

/// How a regular file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct OpenOptions {
    /// Reads will be issued.
    pub read: bool,
    /// Writes (or size changes) will be issued.
    pub write: bool,
    /// Truncate to zero length on open.
    pub truncate: bool,
}

/// A file system, addressed one component at a time.
///
/// `Node` names a file-system object found by [`FileSystem::lookup`] (for a
/// path-based host backend, a host path; for an in-memory one, an inode
/// reference). `File` is an open regular file; it stays usable after the
/// file is renamed or unlinked if the backend supports that.
///
/// Names passed in are single components: never empty, never `.` or `..`,
/// never containing `/` or NUL. Operations a backend cannot do return
/// `Errno::Notsup` (or `Perm` where POSIX would).
pub trait FileSystem: Send + Debug {
    /// A reference to a file-system object.
    type Node: Clone + Debug + Send;
    /// An open regular file.
    type File: Debug + Send;

    /// Finds `name` in directory `dir` without following a final symlink,
    /// returning the object and its type. Missing is `Err(Noent)`.
    fn lookup(&self, dir: &Self::Node, name: &str) -> Result<(Self::Node, Filetype), Errno>;
    /// Metadata of `node` itself (not following symlinks).
    fn stat(&self, node: &Self::Node) -> Result<Filestat, Errno>;
    /// Sets the access/modification times of `node` itself (not following
    /// symlinks); `None` leaves a time unchanged.
    fn set_times(
        &self,
        node: &Self::Node,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno>;
    /// The target of symlink `node`; `Err(Inval)` if it is not a symlink.
    fn readlink(&self, node: &Self::Node) -> Result<String, Errno>;
    /// Entries of directory `dir` (without `.` and `..`), in an order that
    /// stays the same while the directory is unchanged.
    fn readdir(&self, dir: &Self::Node) -> Result<Vec<DirEntry>, Errno>;
    /// Flushes directory metadata.
    fn sync_dir(&self, dir: &Self::Node) -> Result<(), Errno>;

    /// Opens regular file `node`.
    fn open(&self, node: &Self::Node, opts: OpenOptions) -> Result<Self::File, Errno>;
    /// Creates regular file `name` in `dir` (failing with `Exist` if
    /// `exclusive` and it exists) and opens it.
    fn create(
        &self,
        dir: &Self::Node,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(Self::Node, Self::File), Errno>;
    /// Creates directory `name` in `dir`.
    fn create_dir(&self, dir: &Self::Node, name: &str) -> Result<(), Errno>;
    /// Removes the empty directory `name` from `dir`.
    fn remove_dir(&self, dir: &Self::Node, name: &str) -> Result<(), Errno>;
    /// Removes the non-directory `name` from `dir`.
    fn unlink(&self, dir: &Self::Node, name: &str) -> Result<(), Errno>;
    /// Renames `from_dir/from` to `to_dir/to` with POSIX `rename` semantics.
    fn rename(
        &self,
        from_dir: &Self::Node,
        from: &str,
        to_dir: &Self::Node,
        to: &str,
    ) -> Result<(), Errno>;
    /// Creates symlink `name` in `dir` pointing at `target`.
    fn symlink(&self, dir: &Self::Node, name: &str, target: &str) -> Result<(), Errno>;
    /// Creates hard link `to_dir/to` for `from_dir/from` (not following a
    /// symlink). Backends without hard links return `Err(Notsup)`.
    fn link(
        &self,
        from_dir: &Self::Node,
        from: &str,
        to_dir: &Self::Node,
        to: &str,
    ) -> Result<(), Errno>;

    /// Reads at `offset`; `Ok(0)` at end of file.
    fn read_at(&self, file: &mut Self::File, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// Writes at `offset`, extending the file as needed.
    fn write_at(&self, file: &mut Self::File, buf: &[u8], offset: u64) -> Result<usize, Errno>;
    /// Metadata of an open file.
    fn file_stat(&self, file: &Self::File) -> Result<Filestat, Errno>;
    /// Truncates or extends (with zeros) to `len` bytes.
    fn set_len(&self, file: &mut Self::File, len: u64) -> Result<(), Errno>;
    /// Flushes data (and metadata unless `data_only`).
    fn sync(&self, file: &mut Self::File, data_only: bool) -> Result<(), Errno>;
    /// Sets times of an open file; `None` leaves a time unchanged.
    fn file_set_times(
        &self,
        file: &mut Self::File,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno>;
    /// Releases an open file (the fd was closed or replaced). Backends
    /// that keep unlinked-but-open files alive drop them here.
    fn close(&self, file: Self::File) {
        drop(file);
    }
}
