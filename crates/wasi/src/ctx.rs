//! The per-process WASI state: arguments, environment, backends and the
//! file descriptor table.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use maitake_sync::blocking::{Mutex, MutexGuard};
use maitake_sync::spin::{InitOnce, Spinlock};

use crate::backend::{Clock, FileSystem, InputStream, OutputStream, Random};
use crate::types::{Errno, Filetype, rights};

/// Highest file descriptor number handed out (keeps the table bounded).
pub const MAX_FDS: u32 = 1 << 16;

/// What an fd refers to: an open file description.
pub(crate) enum Handle<F: FileSystem> {
    /// A readable stream.
    Input(Box<dyn InputStream>),
    /// A writable stream.
    Output(Box<dyn OutputStream>),
    /// An open regular file (or other non-directory object).
    File {
        /// The backend's handle.
        file: F::File,
        /// Current position for `fd_read`/`fd_write`/`fd_seek`.
        offset: u64,
        /// Type reported by `fd_fdstat_get`.
        filetype: Filetype,
    },
    /// An open directory.
    Dir {
        /// The directory.
        node: F::Node,
        /// Its parent, when known inside the sandbox (for `..` in readdir).
        parent: Option<F::Node>,
        /// The name reported by `fd_prestat_dir_name` if this is a preopen.
        preopen: Option<String>,
        /// The root preopen this directory was reached from, if any
        /// ([`WasiCtx::preopen_root`]): absolute symlink targets restart
        /// there.
        root: Option<F::Node>,
    },
}

impl<F: FileSystem> Handle<F> {
    pub(crate) fn filetype(&self) -> Filetype {
        match self {
            Handle::Input(s) => stream_type(s.is_terminal()),
            Handle::Output(s) => stream_type(s.is_terminal()),
            Handle::File { filetype, .. } => *filetype,
            Handle::Dir { .. } => Filetype::Directory,
        }
    }
}

/// An open file description: what one or more fds (possibly in different
/// contexts, see [`SharedFd`]) refer to, offset included. The lock is held
/// only for the duration of one call, never across a suspension.
pub(crate) struct Desc<F: FileSystem>(Arc<Mutex<Handle<F>, Spinlock>>);

impl<F: FileSystem> Desc<F> {
    pub(crate) fn new(handle: Handle<F>) -> Self {
        Desc(Arc::new(Mutex::new_with_raw_mutex(handle, Spinlock::new())))
    }

    /// Locks the description. Never call twice on one description in one
    /// call chain: the lock does not nest. While another call holds it (a
    /// blocking read of a stream keeps it while its program is suspended),
    /// waits with the embedder's [`set_description_wait`] function.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Handle<F>, Spinlock> {
        loop {
            if let Some(guard) = self.0.try_lock() {
                return guard;
            }
            match DESCRIPTION_WAIT.try_get() {
                Some(wait) => wait(),
                None => core::hint::spin_loop(),
            }
        }
    }

    fn share(&self) -> Self {
        Desc(Arc::clone(&self.0))
    }

    /// The handle if this was the last reference to the description.
    fn into_last(self) -> Option<Handle<F>> {
        Arc::into_inner(self.0).map(Mutex::into_inner)
    }
}

static DESCRIPTION_WAIT: InitOnce<fn()> = InitOnce::uninitialized();

/// Sets how a call waits while another call holds the open file
/// description it needs, once per program run (later calls are ignored).
/// A blocking read of a stream holds its description until data arrives,
/// so a second reader of the same description (two processes sharing a
/// pipe end) waits here: the default spins, which would stall its CPU; a
/// kernel that runs programs on fibers installs a function that suspends
/// the calling program for a moment (yields), so only it waits.
pub fn set_description_wait(wait: fn()) {
    let _ = DESCRIPTION_WAIT.try_init(wait);
}

/// One slot of the fd table.
pub(crate) struct FdEntry<F: FileSystem> {
    pub(crate) handle: Desc<F>,
    pub(crate) flags: u16,
    pub(crate) base: u64,
    pub(crate) inheriting: u64,
}

impl<F: FileSystem> FdEntry<F> {
    /// `Err(Notcapable)` unless every right in `needed` is held.
    pub(crate) fn require(&self, needed: u64) -> Result<(), Errno> {
        if self.base & needed == needed {
            Ok(())
        } else {
            Err(Errno::Notcapable)
        }
    }

    pub(crate) fn filetype(&self) -> Filetype {
        self.handle.lock().filetype()
    }
}

fn stream_type(tty: bool) -> Filetype {
    if tty {
        Filetype::CharacterDevice
    } else {
        Filetype::Unknown
    }
}

/// WASI preview 1 state of one process.
pub struct WasiCtx<F: FileSystem> {
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<String>,
    pub(crate) fs: F,
    pub(crate) clock: Box<dyn Clock>,
    pub(crate) random: Box<dyn Random>,
    pub(crate) fds: BTreeMap<u32, FdEntry<F>>,
}

impl<F: FileSystem> fmt::Debug for WasiCtx<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args)
            .field("env", &self.env)
            .field("fs", &self.fs)
            .field("fds", &self.fds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<F: FileSystem> WasiCtx<F> {
    /// A context with no args, env, stdio or preopens.
    pub fn new(fs: F, clock: Box<dyn Clock>, random: Box<dyn Random>) -> Self {
        WasiCtx {
            args: Vec::new(),
            env: Vec::new(),
            fs,
            clock,
            random,
            fds: BTreeMap::new(),
        }
    }

    /// Sets argv (including `argv[0]`).
    pub fn set_args<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, args: I) {
        self.args = args.into_iter().map(Into::into).collect();
    }

    /// Adds an environment variable `key=value`.
    pub fn push_env(&mut self, key: &str, value: &str) {
        let mut s = String::with_capacity(key.len() + value.len() + 1);
        s.push_str(key);
        s.push('=');
        s.push_str(value);
        self.env.push(s);
    }

    /// Installs `stdin` as fd 0.
    pub fn set_stdin(&mut self, stdin: Box<dyn InputStream>) {
        self.install(0, stream_entry(Handle::Input(stdin), rights::INPUT_STREAM));
    }

    /// Installs `stdout` as fd 1.
    pub fn set_stdout(&mut self, out: Box<dyn OutputStream>) {
        self.install(1, stream_entry(Handle::Output(out), rights::OUTPUT_STREAM));
    }

    /// Installs `stderr` as fd 2.
    pub fn set_stderr(&mut self, out: Box<dyn OutputStream>) {
        self.install(2, stream_entry(Handle::Output(out), rights::OUTPUT_STREAM));
    }

    /// Installs a readable stream (e.g. a pipe's read end) at the lowest
    /// free fd ≥ 3 and returns it. `Err(Mfile)` if the table is full.
    pub fn insert_input(&mut self, stream: Box<dyn InputStream>) -> Result<u32, Errno> {
        self.insert(stream_entry(Handle::Input(stream), rights::INPUT_STREAM))
    }

    /// Installs a writable stream (e.g. a pipe's write end) at the lowest
    /// free fd ≥ 3 and returns it. `Err(Mfile)` if the table is full.
    pub fn insert_output(&mut self, stream: Box<dyn OutputStream>) -> Result<u32, Errno> {
        self.insert(stream_entry(Handle::Output(stream), rights::OUTPUT_STREAM))
    }

    /// Puts `entry` at `fd`, releasing what was there.
    pub(crate) fn install(&mut self, fd: u32, entry: FdEntry<F>) {
        if let Some(old) = self.fds.insert(fd, entry) {
            // The old occupant is gone either way; a flush error of a
            // replaced stream is not the new owner's error.
            let _ = self.release(old);
        }
    }

    /// Preopens directory `node` under the guest-visible `name` (e.g. `"/"`)
    /// at the lowest free fd ≥ 3, with full directory rights.
    pub fn preopen_dir(&mut self, node: F::Node, name: &str) -> Result<u32, Errno> {
        self.preopen(node, name, false)
    }

    /// Like [`WasiCtx::preopen_dir`] for a directory that is the root of
    /// the guest's whole file system (a kernel's `/`): symlinks with an
    /// absolute target, met while resolving from it or from any directory
    /// opened through it, are followed from it (elsewhere they are
    /// `notcapable`), and `path_symlink` may create them. `..` still cannot
    /// climb above it. Not for a host directory: host programs would read
    /// such a link against the host's own root.
    pub fn preopen_root(&mut self, node: F::Node, name: &str) -> Result<u32, Errno> {
        self.preopen(node, name, true)
    }

    fn preopen(&mut self, node: F::Node, name: &str, is_root: bool) -> Result<u32, Errno> {
        let root = is_root.then(|| node.clone());
        let entry = FdEntry {
            handle: Desc::new(Handle::Dir {
                node,
                parent: None,
                preopen: Some(String::from(name)),
                root,
            }),
            flags: 0,
            base: rights::DIRECTORY,
            inheriting: rights::DIRECTORY_INHERITING,
        };
        self.insert(entry)
    }

    /// The file system backend.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// The open fd numbers, ascending.
    pub fn open_fds(&self) -> Vec<u32> {
        self.fds.keys().copied().collect()
    }

    /// Flushes every output stream (for the glue to call at exit).
    pub fn flush_output(&mut self) {
        for entry in self.fds.values_mut() {
            if let Handle::Output(s) = &mut *entry.handle.lock() {
                // Nothing useful can be done with a flush error at exit.
                let _ = s.flush();
            }
        }
    }

    pub(crate) fn entry(&self, fd: u32) -> Result<&FdEntry<F>, Errno> {
        self.fds.get(&fd).ok_or(Errno::Badf)
    }

    pub(crate) fn entry_mut(&mut self, fd: u32) -> Result<&mut FdEntry<F>, Errno> {
        self.fds.get_mut(&fd).ok_or(Errno::Badf)
    }

    /// Puts `entry` at the lowest free fd ≥ 3.
    pub(crate) fn insert(&mut self, entry: FdEntry<F>) -> Result<u32, Errno> {
        let mut fd = 3;
        for &used in self.fds.range(3..).map(|(k, _)| k) {
            if used != fd {
                break;
            }
            fd += 1;
        }
        if fd > MAX_FDS {
            return Err(Errno::Mfile);
        }
        self.fds.insert(fd, entry);
        Ok(fd)
    }
}

// === sharing open file descriptions ===

/// A reference to an open file description taken from one fd with
/// [`WasiCtx::share_fd`], to install as a new fd (in the same context or
/// another one over the same file system) with [`WasiCtx::install_shared`]
/// or [`WasiCtx::insert_shared`].
///
/// Every fd made from it shares the description with the original: the
/// file offset (a read through one moves the other), the open stream (a
/// pipe end stays open while any of them is) and, for a file, the backend
/// handle, which is closed when the last of them is closed. The fd's
/// rights and flags are copied. Dropping a `SharedFd` without installing
/// it releases its reference; for a file it is then closed only if the
/// description was otherwise unused, and through no context, so a backend
/// whose [`FileSystem::close`] matters should install or drop it while an
/// fd still holds the description.
pub struct SharedFd<F: FileSystem> {
    handle: Desc<F>,
    flags: u16,
    base: u64,
    inheriting: u64,
}

impl<F: FileSystem> Clone for SharedFd<F> {
    fn clone(&self) -> Self {
        SharedFd {
            handle: self.handle.share(),
            flags: self.flags,
            base: self.base,
            inheriting: self.inheriting,
        }
    }
}

impl<F: FileSystem> fmt::Debug for SharedFd<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFd")
            .field("flags", &self.flags)
            .field("base", &self.base)
            .field("inheriting", &self.inheriting)
            .finish_non_exhaustive()
    }
}

impl<F: FileSystem> SharedFd<F> {
    /// A new description for a readable stream (a pipe's read end, the
    /// console), not yet in any table: install it with
    /// [`WasiCtx::install_shared`] (clone it first to install it twice).
    /// Rights as for stdin; filetype `character_device` if the stream is a
    /// terminal, else `unknown`.
    #[must_use]
    pub fn input(stream: Box<dyn InputStream>) -> Self {
        Self::from_entry(stream_entry(Handle::Input(stream), rights::INPUT_STREAM))
    }

    /// A new description for a writable stream; as [`SharedFd::input`].
    #[must_use]
    pub fn output(stream: Box<dyn OutputStream>) -> Self {
        Self::from_entry(stream_entry(Handle::Output(stream), rights::OUTPUT_STREAM))
    }

    fn from_entry(e: FdEntry<F>) -> Self {
        SharedFd {
            handle: e.handle,
            flags: e.flags,
            base: e.base,
            inheriting: e.inheriting,
        }
    }

    /// The WASI file type of the description (`character_device` for a
    /// terminal stream or a device file).
    #[must_use]
    pub fn filetype(&self) -> Filetype {
        self.handle.lock().filetype()
    }
}

impl<F: FileSystem> WasiCtx<F> {
    /// A new reference to the open file description behind `fd` (see
    /// [`SharedFd`]). `Err(Badf)` if `fd` is not open.
    pub fn share_fd(&self, fd: u32) -> Result<SharedFd<F>, Errno> {
        let e = self.entry(fd)?;
        Ok(SharedFd {
            handle: e.handle.share(),
            flags: e.flags,
            base: e.base,
            inheriting: e.inheriting,
        })
    }

    /// Installs `shared` as `fd` (e.g. 0, 1, 2 of a child process),
    /// closing what `fd` held. `Err(Badf)` if `fd` is above [`MAX_FDS`].
    pub fn install_shared(&mut self, fd: u32, shared: SharedFd<F>) -> Result<(), Errno> {
        if fd > MAX_FDS {
            return Err(Errno::Badf);
        }
        self.install(fd, shared.into_entry());
        Ok(())
    }

    /// Installs `shared` at the lowest free fd ≥ 3 and returns it.
    pub fn insert_shared(&mut self, shared: SharedFd<F>) -> Result<u32, Errno> {
        self.insert(shared.into_entry())
    }
}

impl<F: FileSystem> SharedFd<F> {
    fn into_entry(self) -> FdEntry<F> {
        FdEntry {
            handle: self.handle,
            flags: self.flags,
            base: self.base,
            inheriting: self.inheriting,
        }
    }
}

impl<F: FileSystem> WasiCtx<F> {
    /// Releases what `entry` holds: flushes a stream, closes a file, once
    /// the last fd referring to its open file description is gone.
    pub(crate) fn release(&mut self, entry: FdEntry<F>) -> Result<(), Errno> {
        let Some(handle) = entry.handle.into_last() else {
            // Another fd (maybe in another context) still uses it.
            return Ok(());
        };
        match handle {
            Handle::Output(mut s) => s.flush(),
            Handle::File { file, .. } => {
                self.fs.close(file);
                Ok(())
            }
            Handle::Input(_) | Handle::Dir { .. } => Ok(()),
        }
    }
}

impl<F: FileSystem> Drop for WasiCtx<F> {
    fn drop(&mut self) {
        let fds = core::mem::take(&mut self.fds);
        for (_, entry) in fds {
            // Errors (a failed flush) have nowhere to go at teardown.
            let _ = self.release(entry);
        }
    }
}

fn stream_entry<F: FileSystem>(handle: Handle<F>, base: u64) -> FdEntry<F> {
    FdEntry {
        handle: Desc::new(handle),
        flags: 0,
        base,
        inheriting: 0,
    }
}
