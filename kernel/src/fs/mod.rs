//! The kernel's file tree, built at boot with `hypha-vfs`:
//!
//! | path | file system | contents |
//! |---|---|---|
//! | `/` | `TarFs` over the initrd, in place (read-only) | `/bin/*` programs, `/etc/motd` |
//! | `/tmp` | `TmpFs` with quotas ([`tmp_quota`]) | writable, in memory |
//! | `/dev` | `DevFs` | `null`, `zero`, `random` ([`crate::random`]), `console` |
//! | `/proc` | `ProcFs` over [`KernelProcSource`] (the process table) | `meminfo`, `uptime`, per-process `status` |
//!
//! [`root`] is the tree a process's WASI context works on (every clone
//! shares it) and [`read_file`] is the kernel's own absolute-path read
//! (for `spawn`). Without an initrd (or with a malformed one) `/` is an
//! empty read-only directory and the rest is mounted as usual.
//!
//! Not here: the file systems themselves (`crates/vfs`, host-tested), the
//! WASI syscalls (`crates/wasi`, wired to processes in `proc/`).
#![cfg_attr(
    not(feature = "ktest"),
    expect(
        dead_code,
        reason = "root() and read_file() are for the process layer (kernel/src/proc); initrd() and \
                  tmp_used_bytes() are read by the in-kernel tests"
    )
)]

extern crate alloc;

mod devices;
mod initrd;
mod proc_source;

#[cfg(feature = "ktest")]
mod tests;

use alloc::sync::Arc;
use alloc::vec::Vec;
use hypha_boot_info::BootInfo;
use hypha_vfs::{DevFs, MountFs, ProcFs, Quota, TarFs, TmpFs, Vfs};
use hypha_wasi::Errno;

use crate::sync::Once;
pub use devices::ConsoleDevice;
pub use proc_source::KernelProcSource;

/// The tree (after [`init`]).
static VFS: Once<Vfs> = Once::new();
/// The initrd's bytes, if the loader found a valid one.
static INITRD: Once<&'static [u8]> = Once::new();
/// `/tmp`, kept for its usage figures.
static TMP: Once<TmpFs> = Once::new();

/// Inodes `/tmp` may hold (files, directories, symlinks; its root counts).
pub const TMP_INODES: u64 = 4096;
/// Most bytes `/tmp` holds: an eighth of RAM, at most this.
pub const TMP_MAX_BYTES: u64 = 32 << 20;

/// Builds the tree from the boot handoff: the initrd (if any) at `/`,
/// `/tmp`, `/dev`, `/proc`. Problems (no initrd, a malformed one, a mount
/// that fails) are logged and leave the rest working.
pub fn init(info: &BootInfo) {
    let archive: &'static [u8] = match initrd::find(info) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            crate::println!("fs: no initrd: / is empty (boot with QEMU -initrd, as `cargo xtask run` does)");
            &[]
        }
        Err(error) => {
            log::error!("fs: {error}; / is empty");
            &[]
        }
    };
    let root: Arc<dyn MountFs> = match TarFs::new(archive) {
        Ok(tar) => {
            if !archive.is_empty() {
                INITRD.set(archive);
                log::info!("fs: initrd {} KiB, {} inodes, mounted at /", archive.len() >> 10, tar.inode_count());
            }
            Arc::new(tar)
        }
        Err(error) => {
            log::error!("fs: the initrd is not a valid tar archive ({error}); / is empty");
            empty_root()
        }
    };
    let vfs = Vfs::new(root);
    let tmp = TmpFs::new(alloc::boxed::Box::new(now_ns), tmp_quota());
    TMP.set(tmp.clone());
    let dev = DevFs::new(alloc::boxed::Box::new(crate::random::KernelRandom), Arc::new(ConsoleDevice), now_ns());
    let proc = ProcFs::new(Arc::new(KernelProcSource));
    let mounts: [(&str, Arc<dyn MountFs>); 3] = [("/tmp", Arc::new(tmp)), ("/dev", Arc::new(dev)), ("/proc", Arc::new(proc))];
    for (path, fs) in mounts {
        if let Err(error) = vfs.mount(path, fs) {
            log::error!("fs: cannot mount {path}: {error:?}");
        }
    }
    VFS.set(vfs);
}

/// A root for when the initrd is unusable: an empty archive, or (should
/// even that fail to parse) an empty `TmpFs` that can hold nothing.
fn empty_root() -> Arc<dyn MountFs> {
    match TarFs::new(&[][..]) {
        Ok(tar) => Arc::new(tar),
        Err(_) => Arc::new(TmpFs::new(alloc::boxed::Box::new(now_ns), Quota { bytes: 0, inodes: 1 })),
    }
}

/// The root of the file tree; clones share it (its mounts, open files and
/// quotas). Before [`init`] (only possible during early boot) this is a
/// separate empty tree.
#[must_use]
pub fn root() -> Vfs {
    VFS.get().cloned().unwrap_or_else(|| Vfs::new(empty_root()))
}

/// Reads the whole regular file at absolute `path` (symlinks followed).
///
/// # Errors
///
/// The WASI errno: `Noent`, `Notdir`, `Isdir`, `Nomem`, …
pub fn read_file(path: &str) -> Result<Vec<u8>, Errno> {
    root().read_file(path)
}

/// The file at absolute `path`: borrowed from the initrd with the SHA-256
/// it records, or read into memory ([`hypha_vfs::Vfs::load_file`]).
///
/// # Errors
/// As [`read_file`].
pub fn load_file(path: &str) -> Result<hypha_vfs::LoadedFile, Errno> {
    root().load_file(path)
}

/// The initrd's bytes, if one was found and parsed.
#[must_use]
pub fn initrd() -> Option<&'static [u8]> {
    INITRD.get().copied()
}

/// The quotas of `/tmp`: [`TMP_INODES`] inodes and an eighth of the RAM
/// the frame allocator manages, at most [`TMP_MAX_BYTES`].
#[must_use]
pub fn tmp_quota() -> Quota {
    let ram = u64::try_from(crate::mem::stats().frames_total).unwrap_or(0) * 4096;
    Quota { bytes: (ram / 8).min(TMP_MAX_BYTES), inodes: TMP_INODES }
}

/// Bytes `/tmp` holds now (0 before [`init`]).
#[must_use]
pub fn tmp_used_bytes() -> u64 {
    TMP.get().map_or(0, TmpFs::used_bytes)
}

/// Timestamps: nanoseconds since boot (the kernel has no wall clock yet).
fn now_ns() -> u64 {
    crate::time::uptime_us().saturating_mul(1000)
}
