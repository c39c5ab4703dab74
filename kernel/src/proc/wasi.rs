//! Each process's WASI preview 1 context: the kernel's file tree (`/`
//! preopened as a root), the kernel clock, the kernel's CSPRNG, and its
//! stdio descriptors.

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;

use hypha_wasi::types::ClockId;
use hypha_wasi::{Clock, Errno, SharedFd, WasiCtx};

use super::RootFs;
use super::current::block;

/// A handle on the root of the kernel's file tree (shared by all).
pub fn new_root_fs() -> RootFs {
    crate::fs::root()
}

/// Time since boot for every clock (there is no real-time clock yet).
#[derive(Debug)]
pub struct KernelClock;

impl Clock for KernelClock {
    fn now(&self, _id: ClockId) -> Result<u64, Errno> {
        Ok(crate::time::uptime_us().saturating_mul(1000))
    }

    fn resolution(&self, _id: ClockId) -> Result<u64, Errno> {
        Ok(1000)
    }

    fn sleep(&self, nanos: u64) {
        // Suspends only the calling process; outside one there is nothing
        // to suspend and the call returns at once (poll_oneoff loops).
        let _ = block(crate::sched::sleep(core::time::Duration::from_nanos(nanos)));
    }
}

/// A process's standard stream: a description shared with its parent (or
/// made by the kernel), or the null device.
pub type StdioSlot = Option<SharedFd<RootFs>>;

/// What a process finds preopened at fd 3.
#[derive(Debug, Clone, Default)]
pub enum Preopen {
    /// The kernel's whole tree, `/` preopened as the guest's root
    /// (absolute symlinks resolve inside it).
    #[default]
    Root,
    /// One directory of the kernel's tree preopened under `name`, the way
    /// a host runtime preopens a host directory: `..` stops at it and
    /// absolute symlinks are `notcapable` (the wasi-testsuite runner).
    #[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the wasi-testsuite runner (test builds) preopens a directory"))]
    Dir { node: hypha_vfs::VfsNode, name: String },
}

/// The context of a new process: `args`, `env` (`NAME=value` strings),
/// fds 0-2 from `stdio` (`None`: null), fd 3 = `preopen`.
///
/// # Errors
/// What installing the descriptors reports.
pub fn new_ctx(args: &[String], env: &[String], stdio: [StdioSlot; 3], preopen: Preopen) -> Result<WasiCtx<RootFs>, Errno> {
    let fs = new_root_fs();
    let root = fs.root();
    let mut ctx = WasiCtx::new(fs, Box::new(KernelClock), Box::new(crate::random::KernelRandom));
    ctx.set_args(args.iter().map(String::as_str));
    for entry in env {
        let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        ctx.push_env(key, value);
    }
    for (fd, slot) in (0u32..).zip(stdio) {
        match slot {
            Some(shared) => ctx.install_shared(fd, shared)?,
            None if fd == 0 => ctx.set_stdin(Box::new(super::stdio::NullIn)),
            None if fd == 1 => ctx.set_stdout(Box::new(super::stdio::NullOut)),
            None => ctx.set_stderr(Box::new(super::stdio::NullOut)),
        }
    }
    match preopen {
        Preopen::Root => ctx.preopen_root(root, "/")?,
        Preopen::Dir { node, name } => ctx.preopen_dir(node, &name)?,
    };
    Ok(ctx)
}

/// Console stdio (fds 0-2) for a process the console starts.
///
/// # Errors
/// None today; kept fallible for devices that can fail to open.
pub fn console_stdio() -> Result<[StdioSlot; 3], Errno> {
    Ok([
        Some(SharedFd::input(Box::new(super::stdio::ConsoleIn))),
        Some(SharedFd::output(Box::new(super::stdio::ConsoleOut))),
        Some(SharedFd::output(Box::new(super::stdio::ConsoleOut))),
    ])
}
