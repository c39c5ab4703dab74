//! The writable in-memory file system for `/tmp`: hypha-wasi's
//! [`MemFs`] (with its byte and inode quotas) behind a lock, so processes on
//! different harts can share it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use hypha_wasi::memfs::{MemFile, MemFs};
use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, FileSystem, OpenOptions};

use crate::lock::Lock;
use crate::mount::{MountFs, OpenFile};

/// Quotas of a [`TmpFs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Most bytes of file contents held at once.
    pub bytes: u64,
    /// Most live inodes (files, directories, symlinks; the root counts).
    pub inodes: u64,
}

/// A writable in-memory file system with quotas; past a quota an
/// operation fails with `Nospc` and changes nothing.
#[derive(Debug, Clone)]
pub struct TmpFs {
    fs: Arc<Lock<MemFs>>,
}

impl TmpFs {
    /// An empty file system with `quota`, taking timestamps (ns since the
    /// epoch) from `now`.
    pub fn new(now: Box<dyn Fn() -> u64 + Send>, quota: Quota) -> Self {
        TmpFs {
            fs: Arc::new(Lock::new(MemFs::with_limits(now, quota.bytes, quota.inodes))),
        }
    }

    /// Bytes of file contents held now (files unlinked but still open
    /// count until closed).
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.fs.lock().used_bytes()
    }

    /// Live inodes now.
    #[must_use]
    pub fn inode_count(&self) -> usize {
        self.fs.lock().inode_count()
    }

    /// The quotas.
    #[must_use]
    pub fn quota(&self) -> Quota {
        let fs = self.fs.lock();
        Quota {
            bytes: fs.capacity(),
            inodes: fs.max_inodes(),
        }
    }
}

/// An open file of a [`TmpFs`]; closing (dropping) it lets the file
/// system reclaim an unlinked file.
#[derive(Debug)]
struct TmpFile {
    fs: Arc<Lock<MemFs>>,
    /// Always `Some` until dropped.
    file: Option<MemFile>,
}

impl TmpFile {
    fn with<R>(&mut self, f: impl FnOnce(&MemFs, &mut MemFile) -> Result<R, Errno>) -> Result<R, Errno> {
        let fs = self.fs.lock();
        let file = self.file.as_mut().ok_or(Errno::Badf)?;
        f(&fs, file)
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            self.fs.lock().close(file);
        }
    }
}

impl OpenFile for TmpFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.with(|fs, f| fs.read_at(f, buf, offset))
    }

    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        self.with(|fs, f| fs.write_at(f, buf, offset))
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        let file = self.file.as_ref().ok_or(Errno::Badf)?;
        self.fs.lock().file_stat(file)
    }

    fn set_len(&mut self, len: u64) -> Result<(), Errno> {
        self.with(|fs, f| fs.set_len(f, len))
    }

    fn sync(&mut self, data_only: bool) -> Result<(), Errno> {
        self.with(|fs, f| fs.sync(f, data_only))
    }

    fn set_times(&mut self, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        self.with(|fs, f| fs.file_set_times(f, atim, mtim))
    }
}

impl TmpFs {
    fn wrap(&self, file: MemFile) -> Box<dyn OpenFile> {
        Box::new(TmpFile {
            fs: Arc::clone(&self.fs),
            file: Some(file),
        })
    }
}

impl MountFs for TmpFs {
    fn root(&self) -> u64 {
        self.fs.lock().root()
    }

    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, Filetype), Errno> {
        self.fs.lock().lookup(&dir, name)
    }

    fn stat(&self, node: u64) -> Result<Filestat, Errno> {
        self.fs.lock().stat(&node)
    }

    fn readlink(&self, node: u64) -> Result<String, Errno> {
        self.fs.lock().readlink(&node)
    }

    fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno> {
        self.fs.lock().readdir(&dir)
    }

    fn open(&self, node: u64, opts: OpenOptions) -> Result<Box<dyn OpenFile>, Errno> {
        let file = self.fs.lock().open(&node, opts)?;
        Ok(self.wrap(file))
    }

    fn set_times(&self, node: u64, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        self.fs.lock().set_times(&node, atim, mtim)
    }

    fn create(
        &self,
        dir: u64,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(u64, Box<dyn OpenFile>), Errno> {
        let (ino, file) = self.fs.lock().create(&dir, name, exclusive, opts)?;
        Ok((ino, self.wrap(file)))
    }

    fn create_dir(&self, dir: u64, name: &str) -> Result<(), Errno> {
        self.fs.lock().create_dir(&dir, name)
    }

    fn remove_dir(&self, dir: u64, name: &str) -> Result<(), Errno> {
        self.fs.lock().remove_dir(&dir, name)
    }

    fn unlink(&self, dir: u64, name: &str) -> Result<(), Errno> {
        self.fs.lock().unlink(&dir, name)
    }

    fn rename(&self, from_dir: u64, from: &str, to_dir: u64, to: &str) -> Result<(), Errno> {
        self.fs.lock().rename(&from_dir, from, &to_dir, to)
    }

    fn symlink(&self, dir: u64, name: &str, target: &str) -> Result<(), Errno> {
        self.fs.lock().symlink(&dir, name, target)
    }

    fn link(&self, from_dir: u64, from: &str, to_dir: u64, to: &str) -> Result<(), Errno> {
        self.fs.lock().link(&from_dir, from, &to_dir, to)
    }
}
