//! Host backends (feature `std`): a real directory as the file system,
//! std clocks, `/dev/urandom`, and stdio over std streams or in-memory
//! buffers (so a test runner can capture output).
//!
//! [`HostFs`] addresses objects by host path. The sandbox is enforced by
//! this crate's path resolution, which checks every component with
//! `lstat` before the host call; a concurrent host process swapping a
//! directory for a symlink between the check and the call could still
//! redirect one operation. That is acceptable for tests and benchmarks,
//! not for untrusted shared directories.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use std::fs;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::fs::{DirEntryExt, FileExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use filetime::FileTime;

use crate::backend::{
    Clock, DirEntry, FileSystem, InputStream, OpenOptions, OutputStream, Random, Readiness,
};
use crate::types::{ClockId, Errno, Filestat, Filetype};

// === errors ===

/// Maps a host I/O error to the closest errno.
#[must_use]
pub fn errno_from_io(e: &io::Error) -> Errno {
    #[cfg(target_os = "linux")]
    if let Some(code) = e.raw_os_error() {
        let mapped = match code {
            1 => Some(Errno::Perm),
            2 => Some(Errno::Noent),
            4 => Some(Errno::Intr),
            5 => Some(Errno::Io),
            9 => Some(Errno::Badf),
            11 => Some(Errno::Again),
            13 => Some(Errno::Acces),
            16 => Some(Errno::Busy),
            17 => Some(Errno::Exist),
            18 => Some(Errno::Xdev),
            20 => Some(Errno::Notdir),
            21 => Some(Errno::Isdir),
            22 => Some(Errno::Inval),
            26 => Some(Errno::Txtbsy),
            27 => Some(Errno::Fbig),
            28 => Some(Errno::Nospc),
            29 => Some(Errno::Spipe),
            30 => Some(Errno::Rofs),
            31 => Some(Errno::Mlink),
            32 => Some(Errno::Pipe),
            36 => Some(Errno::Nametoolong),
            38 => Some(Errno::Nosys),
            39 => Some(Errno::Notempty),
            40 => Some(Errno::Loop),
            75 => Some(Errno::Overflow),
            95 => Some(Errno::Notsup),
            _ => None,
        };
        if let Some(m) = mapped {
            return m;
        }
    }
    match e.kind() {
        io::ErrorKind::NotFound => Errno::Noent,
        io::ErrorKind::PermissionDenied => Errno::Acces,
        io::ErrorKind::AlreadyExists => Errno::Exist,
        io::ErrorKind::WouldBlock => Errno::Again,
        io::ErrorKind::InvalidInput => Errno::Inval,
        io::ErrorKind::Interrupted => Errno::Intr,
        io::ErrorKind::Unsupported => Errno::Notsup,
        io::ErrorKind::OutOfMemory => Errno::Nomem,
        io::ErrorKind::NotADirectory => Errno::Notdir,
        io::ErrorKind::IsADirectory => Errno::Isdir,
        io::ErrorKind::DirectoryNotEmpty => Errno::Notempty,
        io::ErrorKind::ReadOnlyFilesystem => Errno::Rofs,
        io::ErrorKind::StorageFull => Errno::Nospc,
        io::ErrorKind::NotSeekable => Errno::Spipe,
        io::ErrorKind::FileTooLarge => Errno::Fbig,
        io::ErrorKind::ResourceBusy => Errno::Busy,
        io::ErrorKind::CrossesDevices => Errno::Xdev,
        io::ErrorKind::TooManyLinks => Errno::Mlink,
        io::ErrorKind::BrokenPipe => Errno::Pipe,
        _ => Errno::Io,
    }
}

fn io_err(e: io::Error) -> Errno {
    errno_from_io(&e)
}

// === impl HostFs ===

/// A host directory tree as a [`FileSystem`]; nodes are host paths.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostFs;

impl HostFs {
    /// The node for host directory `dir`, to pass to
    /// [`crate::WasiCtx::preopen_dir`].
    pub fn root(dir: &Path) -> Result<PathBuf, Errno> {
        let p = fs::canonicalize(dir).map_err(io_err)?;
        if !fs::metadata(&p).map_err(io_err)?.is_dir() {
            return Err(Errno::Notdir);
        }
        Ok(p)
    }
}

fn filetype_of(t: fs::FileType) -> Filetype {
    if t.is_symlink() {
        Filetype::SymbolicLink
    } else if t.is_dir() {
        Filetype::Directory
    } else if t.is_file() {
        Filetype::RegularFile
    } else if t.is_block_device() {
        Filetype::BlockDevice
    } else if t.is_char_device() {
        Filetype::CharacterDevice
    } else if t.is_socket() {
        Filetype::SocketStream
    } else {
        Filetype::Unknown
    }
}

fn ns(secs: i64, nsec: i64) -> u64 {
    let secs = u64::try_from(secs).unwrap_or(0);
    let nsec = u64::try_from(nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

fn filestat_of(m: &fs::Metadata) -> Filestat {
    Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype_of(m.file_type()).raw(),
        nlink: m.nlink(),
        size: m.size(),
        atim: ns(m.atime(), m.atime_nsec()),
        mtim: ns(m.mtime(), m.mtime_nsec()),
        ctim: ns(m.ctime(), m.ctime_nsec()),
    }
}

fn filetime_of(t: u64) -> Result<FileTime, Errno> {
    let secs = i64::try_from(t / 1_000_000_000).map_err(|_| Errno::Overflow)?;
    let nanos = u32::try_from(t % 1_000_000_000).map_err(|_| Errno::Overflow)?;
    Ok(FileTime::from_unix_time(secs, nanos))
}

fn opt_time(t: Option<u64>) -> Result<Option<FileTime>, Errno> {
    t.map(filetime_of).transpose()
}

fn std_options(opts: OpenOptions) -> fs::OpenOptions {
    let mut o = fs::OpenOptions::new();
    o.read(opts.read || !opts.write)
        .write(opts.write)
        .truncate(opts.truncate);
    o
}

impl FileSystem for HostFs {
    type Node = PathBuf;
    type File = fs::File;

    fn lookup(&self, dir: &PathBuf, name: &str) -> Result<(PathBuf, Filetype), Errno> {
        let p = dir.join(name);
        let m = fs::symlink_metadata(&p).map_err(io_err)?;
        Ok((p, filetype_of(m.file_type())))
    }

    fn stat(&self, node: &PathBuf) -> Result<Filestat, Errno> {
        Ok(filestat_of(&fs::symlink_metadata(node).map_err(io_err)?))
    }

    fn set_times(&self, node: &PathBuf, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        let m = fs::symlink_metadata(node).map_err(io_err)?;
        let a = match atim {
            Some(t) => filetime_of(t)?,
            None => FileTime::from_last_access_time(&m),
        };
        let mt = match mtim {
            Some(t) => filetime_of(t)?,
            None => FileTime::from_last_modification_time(&m),
        };
        filetime::set_symlink_file_times(node, a, mt).map_err(io_err)
    }

    fn readlink(&self, node: &PathBuf) -> Result<String, Errno> {
        let t = fs::read_link(node).map_err(io_err)?;
        t.to_str().map(ToString::to_string).ok_or(Errno::Ilseq)
    }

    fn readdir(&self, dir: &PathBuf) -> Result<Vec<DirEntry>, Errno> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).map_err(io_err)? {
            let e = e.map_err(io_err)?;
            // Names that are not UTF-8 cannot be named by a WASI guest
            // (paths are UTF-8 strings), so they are not listed.
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let ty = e.file_type().map_err(io_err)?;
            out.push(DirEntry {
                name,
                ino: e.ino(),
                filetype: filetype_of(ty),
            });
        }
        Ok(out)
    }

    fn sync_dir(&self, dir: &PathBuf) -> Result<(), Errno> {
        fs::File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(io_err)
    }

    fn open(&self, node: &PathBuf, opts: OpenOptions) -> Result<fs::File, Errno> {
        std_options(opts).open(node).map_err(io_err)
    }

    fn create(
        &self,
        dir: &PathBuf,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(PathBuf, fs::File), Errno> {
        let p = dir.join(name);
        let mut o = std_options(opts);
        // O_CREAT|O_EXCL never follows a symlink at `p`.
        o.write(true).create_new(true);
        match o.open(&p) {
            Ok(f) => Ok((p, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !exclusive => {
                // Created concurrently: open it like an existing file.
                let (node, ty) = self.lookup(dir, name)?;
                match ty {
                    Filetype::SymbolicLink => Err(Errno::Loop),
                    Filetype::Directory => Err(Errno::Isdir),
                    _ => Ok((node.clone(), self.open(&node, opts)?)),
                }
            }
            Err(e) => Err(io_err(e)),
        }
    }

    fn create_dir(&self, dir: &PathBuf, name: &str) -> Result<(), Errno> {
        fs::create_dir(dir.join(name)).map_err(io_err)
    }

    fn remove_dir(&self, dir: &PathBuf, name: &str) -> Result<(), Errno> {
        fs::remove_dir(dir.join(name)).map_err(io_err)
    }

    fn unlink(&self, dir: &PathBuf, name: &str) -> Result<(), Errno> {
        fs::remove_file(dir.join(name)).map_err(io_err)
    }

    fn rename(
        &self,
        from_dir: &PathBuf,
        from: &str,
        to_dir: &PathBuf,
        to: &str,
    ) -> Result<(), Errno> {
        fs::rename(from_dir.join(from), to_dir.join(to)).map_err(io_err)
    }

    fn symlink(&self, dir: &PathBuf, name: &str, target: &str) -> Result<(), Errno> {
        std::os::unix::fs::symlink(target, dir.join(name)).map_err(io_err)
    }

    fn link(
        &self,
        from_dir: &PathBuf,
        from: &str,
        to_dir: &PathBuf,
        to: &str,
    ) -> Result<(), Errno> {
        // std uses linkat(.., 0): a symlink source is linked, not followed.
        fs::hard_link(from_dir.join(from), to_dir.join(to)).map_err(io_err)
    }

    fn read_at(&self, file: &mut fs::File, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        file.read_at(buf, offset).map_err(io_err)
    }

    fn write_at(&self, file: &mut fs::File, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        file.write_at(buf, offset).map_err(io_err)
    }

    fn file_stat(&self, file: &fs::File) -> Result<Filestat, Errno> {
        Ok(filestat_of(&file.metadata().map_err(io_err)?))
    }

    fn set_len(&self, file: &mut fs::File, len: u64) -> Result<(), Errno> {
        file.set_len(len).map_err(io_err)
    }

    fn sync(&self, file: &mut fs::File, data_only: bool) -> Result<(), Errno> {
        if data_only {
            file.sync_data()
        } else {
            file.sync_all()
        }
        .map_err(io_err)
    }

    fn file_set_times(
        &self,
        file: &mut fs::File,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno> {
        filetime::set_file_handle_times(file, opt_time(atim)?, opt_time(mtim)?).map_err(io_err)
    }
}

// === clocks, random ===

/// Realtime from `SystemTime`, monotonic from an `Instant` taken at creation.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    start: Instant,
}

impl HostClock {
    /// A clock whose monotonic time starts near zero now.
    #[must_use]
    pub fn new() -> Self {
        HostClock {
            start: Instant::now(),
        }
    }
}

impl Default for HostClock {
    fn default() -> Self {
        Self::new()
    }
}

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Clock for HostClock {
    fn now(&self, id: ClockId) -> Result<u64, Errno> {
        match id {
            ClockId::Realtime => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(dur_ns)
                .map_err(|_| Errno::Overflow),
            // +1 so the first reading is never 0.
            ClockId::Monotonic => Ok(dur_ns(self.start.elapsed()).saturating_add(1)),
            ClockId::ProcessCputime | ClockId::ThreadCputime => Err(Errno::Notsup),
        }
    }

    fn resolution(&self, id: ClockId) -> Result<u64, Errno> {
        match id {
            ClockId::Realtime | ClockId::Monotonic => Ok(1),
            ClockId::ProcessCputime | ClockId::ThreadCputime => Err(Errno::Notsup),
        }
    }

    fn sleep(&self, nanos: u64) {
        std::thread::sleep(Duration::from_nanos(nanos));
    }
}

/// Random bytes from `/dev/urandom`.
#[derive(Debug, Default)]
pub struct HostRandom {
    file: Option<fs::File>,
}

impl Random for HostRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        if self.file.is_none() {
            self.file = Some(fs::File::open("/dev/urandom").map_err(io_err)?);
        }
        match &mut self.file {
            Some(f) => f.read_exact(buf).map_err(io_err),
            None => Err(Errno::Io),
        }
    }
}

// === stdio ===

/// The process's real stdin. Readiness cannot be queried through std, so it
/// is reported ready; a read may then block.
#[derive(Debug, Default)]
pub struct StdinStream;

impl InputStream for StdinStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        io::stdin().read(buf).map_err(io_err)
    }
    fn readiness(&self) -> Readiness {
        Readiness::Ready(0)
    }
    fn is_terminal(&self) -> bool {
        io::stdin().is_terminal()
    }
}

/// The process's real stdout (`false`) or stderr (`true`).
#[derive(Debug, Default)]
pub struct StdOutput {
    stderr: bool,
}

impl StdOutput {
    /// Host stdout.
    #[must_use]
    pub fn stdout() -> Self {
        StdOutput { stderr: false }
    }
    /// Host stderr.
    #[must_use]
    pub fn stderr() -> Self {
        StdOutput { stderr: true }
    }
}

impl OutputStream for StdOutput {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        if self.stderr {
            io::stderr().write(buf)
        } else {
            io::stdout().write(buf)
        }
        .map_err(io_err)
    }
    fn flush(&mut self) -> Result<(), Errno> {
        if self.stderr {
            io::stderr().flush()
        } else {
            io::stdout().flush()
        }
        .map_err(io_err)
    }
    fn is_terminal(&self) -> bool {
        if self.stderr {
            io::stderr().is_terminal()
        } else {
            io::stdout().is_terminal()
        }
    }
}

/// Input from a byte buffer; end of input after it.
#[derive(Debug, Default)]
pub struct MemoryInput {
    data: Vec<u8>,
    pos: usize,
}

impl MemoryInput {
    /// Input that yields `data`, then end of input.
    #[must_use]
    pub fn new(data: Vec<u8>) -> Self {
        MemoryInput { data, pos: 0 }
    }
}

impl InputStream for MemoryInput {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
    fn readiness(&self) -> Readiness {
        let left = self.data.len().saturating_sub(self.pos);
        if left == 0 {
            Readiness::Hangup
        } else {
            Readiness::Ready(u64::try_from(left).unwrap_or(u64::MAX))
        }
    }
}

/// Output captured in a shared buffer; clone it to read what was written.
#[derive(Debug, Default, Clone)]
pub struct MemoryOutput {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl MemoryOutput {
    /// An empty capture buffer.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything written so far.
    #[must_use]
    pub fn contents(&self) -> Vec<u8> {
        match self.buf.lock() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl OutputStream for MemoryOutput {
    fn write(&mut self, data: &[u8]) -> Result<usize, Errno> {
        let mut b = self.buf.lock().map_err(|_| Errno::Io)?;
        b.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> Result<(), Errno> {
        Ok(())
    }
}

// === convenience ===

/// A context over the host: `HostFs`, `HostClock`, `HostRandom`, with
/// `root` preopened as `"/"` (fd 3) and no stdio installed.
pub fn host_ctx(root: &Path) -> Result<crate::WasiCtx<HostFs>, Errno> {
    let mut ctx = crate::WasiCtx::new(
        HostFs,
        Box::new(HostClock::new()),
        Box::new(HostRandom::default()),
    );
    ctx.preopen_dir(HostFs::root(root)?, "/")?;
    Ok(ctx)
}
