//! `/dev`: character devices.
//!
//! Built in: `null` (reads end at once, writes vanish), `zero` (reads
//! fill with zeros, writes vanish), `random` (reads come from the
//! [`Random`] source given at construction; writes are accepted and
//! ignored, as on Linux), and
//! `console` (the [`CharDevice`] the kernel gives). More devices can be
//! added with [`DevFs::add`]. Every device is a WASI `character_device`;
//! the directory is fixed once mounted (no files can be created).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Debug;

use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, OpenOptions, Random};

use crate::lock::Lock;
use crate::mount::{MountFs, OpenFile};

/// Inode of the `/dev` directory itself.
const DEV_ROOT_INO: u64 = 1;

/// A character device: what the kernel implements for the console (and
/// any other device it wants under `/dev`).
///
/// Reads and writes do not take an offset. A read returns at least one
/// byte unless at end of input (`Ok(0)`); a device with nothing available
/// yet returns `Err(Errno::Again)` (the kernel's WASI glue decides whether
/// to suspend the process and retry).
pub trait CharDevice: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes.
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Writes some of `buf`, returning how many bytes were taken.
    fn write(&self, buf: &[u8]) -> Result<usize, Errno>;
}

/// `/dev/null`.
#[derive(Debug)]
struct Null;

impl CharDevice for Null {
    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Ok(0)
    }
    fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// `/dev/zero`.
#[derive(Debug)]
struct Zero;

impl CharDevice for Zero {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// `/dev/random`.
#[derive(Debug)]
struct RandomDev(Lock<Box<dyn Random>>);

impl CharDevice for RandomDev {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.0.lock().fill(buf)?;
        Ok(buf.len())
    }
    fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// The `/dev` file system.
#[derive(Debug)]
pub struct DevFs {
    /// Name → (inode, device); inodes start at 2.
    devices: BTreeMap<String, (u64, Arc<dyn CharDevice>)>,
    /// Timestamp of every node (the moment the file system was made).
    time: u64,
}

impl DevFs {
    /// `null`, `zero`, `random` (from `random`) and `console`; `time` (ns
    /// since the epoch) is every node's timestamp.
    pub fn new(random: Box<dyn Random>, console: Arc<dyn CharDevice>, time: u64) -> Self {
        let mut fs = DevFs {
            devices: BTreeMap::new(),
            time,
        };
        // The names are fixed and distinct: these cannot fail.
        let _ = fs.add("null", Arc::new(Null));
        let _ = fs.add("zero", Arc::new(Zero));
        let _ = fs.add("random", Arc::new(RandomDev(Lock::new(random))));
        let _ = fs.add("console", console);
        fs
    }

    /// Adds device `name` (before mounting). `Exist` if taken, `Inval` for
    /// a name that is empty, `.`/`..` or holds `/` or NUL.
    pub fn add(&mut self, name: &str, dev: Arc<dyn CharDevice>) -> Result<(), Errno> {
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(Errno::Inval);
        }
        if self.devices.contains_key(name) {
            return Err(Errno::Exist);
        }
        let ino = u64::try_from(self.devices.len()).map_err(|_| Errno::Nospc)? + 2;
        self.devices.insert(name.to_string(), (ino, dev));
        Ok(())
    }

    fn by_ino(&self, ino: u64) -> Option<&Arc<dyn CharDevice>> {
        self.devices.values().find(|(i, _)| *i == ino).map(|(_, d)| d)
    }

    fn node_stat(&self, ino: u64, filetype: Filetype, nlink: u64) -> Filestat {
        Filestat {
            dev: 0,
            ino,
            filetype: filetype.raw(),
            nlink,
            size: 0,
            atim: self.time,
            mtim: self.time,
            ctim: self.time,
        }
    }
}

impl MountFs for DevFs {
    fn root(&self) -> u64 {
        DEV_ROOT_INO
    }

    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, Filetype), Errno> {
        if dir != DEV_ROOT_INO {
            return Err(if self.by_ino(dir).is_some() {
                Errno::Notdir
            } else {
                Errno::Noent
            });
        }
        let (ino, _) = self.devices.get(name).ok_or(Errno::Noent)?;
        Ok((*ino, Filetype::CharacterDevice))
    }

    fn stat(&self, node: u64) -> Result<Filestat, Errno> {
        if node == DEV_ROOT_INO {
            return Ok(self.node_stat(node, Filetype::Directory, 2));
        }
        self.by_ino(node).ok_or(Errno::Noent)?;
        Ok(self.node_stat(node, Filetype::CharacterDevice, 1))
    }

    fn mode(&self, node: u64) -> Result<Option<u32>, Errno> {
        self.stat(node)?;
        Ok(Some(if node == DEV_ROOT_INO { 0o755 } else { 0o666 }))
    }

    fn readlink(&self, node: u64) -> Result<String, Errno> {
        self.stat(node)?;
        Err(Errno::Inval)
    }

    fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno> {
        if dir != DEV_ROOT_INO {
            return Err(Errno::Notdir);
        }
        Ok(self
            .devices
            .iter()
            .map(|(name, (ino, _))| DirEntry {
                name: name.clone(),
                ino: *ino,
                filetype: Filetype::CharacterDevice,
            })
            .collect())
    }

    fn open(&self, node: u64, _opts: OpenOptions) -> Result<Box<dyn OpenFile>, Errno> {
        if node == DEV_ROOT_INO {
            return Err(Errno::Isdir);
        }
        let dev = Arc::clone(self.by_ino(node).ok_or(Errno::Noent)?);
        Ok(Box::new(DevFile {
            dev,
            stat: self.node_stat(node, Filetype::CharacterDevice, 1),
        }))
    }

    fn set_times(&self, node: u64, _atim: Option<u64>, _mtim: Option<u64>) -> Result<(), Errno> {
        // Device nodes keep their creation time; accepting the call keeps
        // `touch /dev/null` working.
        self.stat(node).map(|_| ())
    }
}

/// An open device.
#[derive(Debug)]
struct DevFile {
    dev: Arc<dyn CharDevice>,
    stat: Filestat,
}

impl OpenFile for DevFile {
    fn read_at(&mut self, buf: &mut [u8], _offset: u64) -> Result<usize, Errno> {
        self.dev.read(buf)
    }

    fn write_at(&mut self, buf: &[u8], _offset: u64) -> Result<usize, Errno> {
        self.dev.write(buf)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(self.stat)
    }

    fn set_len(&mut self, _len: u64) -> Result<(), Errno> {
        // Truncating a device (`> /dev/null`) is a no-op, as in POSIX.
        Ok(())
    }

    fn set_times(&mut self, _atim: Option<u64>, _mtim: Option<u64>) -> Result<(), Errno> {
        Ok(())
    }
}
