//! The mount table: lookups across mounts, mount-point rules, `Xdev`,
//! symlinks in the kernel's resolver, devfs and procfs through the VFS.

mod common;

use std::sync::Arc;

use common::{BIG, proc_info, world};
use hypha_vfs::{ProcState, TarBuilder, TarFs, Vfs, VfsNode};
use hypha_wasi::types::{Errno, Filetype};
use hypha_wasi::{FileSystem, OpenOptions};

const READ: OpenOptions = OpenOptions {
    read: true,
    write: false,
    truncate: false,
};
const WRITE: OpenOptions = OpenOptions {
    read: true,
    write: true,
    truncate: false,
};

fn names(vfs: &Vfs, dir: &VfsNode) -> Vec<String> {
    vfs.readdir(dir).unwrap().into_iter().map(|e| e.name).collect()
}

fn read_all(vfs: &Vfs, path: &str) -> String {
    String::from_utf8(vfs.read_file(path).unwrap()).unwrap()
}

#[test]
fn root_listing_merges_mount_points() {
    let w = world(BIG);
    let root = w.vfs.root();
    assert_eq!(names(&w.vfs, &root), ["bin", "dev", "etc", "proc", "tmp"]);
    let types: Vec<Filetype> = w.vfs.readdir(&root).unwrap().iter().map(|e| e.filetype).collect();
    assert!(types.iter().all(|t| *t == Filetype::Directory));
    let mounts: Vec<String> = w.vfs.mounts().into_iter().map(|m| m.path).collect();
    assert_eq!(mounts, ["/", "/tmp", "/dev", "/proc"]);
}

#[test]
fn a_mount_covers_the_directory_below_it() {
    let w = world(BIG);
    let tmp = w.vfs.resolve("/tmp").unwrap();
    assert_ne!(tmp.mount, hypha_vfs::ROOT_MOUNT);
    assert!(names(&w.vfs, &tmp).is_empty(), "the tar's tmp/hidden is covered");
    assert_eq!(w.vfs.lookup(&tmp, "hidden"), Err(Errno::Noent));
    // Each mount is its own device.
    let root_dev = w.vfs.stat(&w.vfs.root()).unwrap().dev;
    assert_ne!(w.vfs.stat(&tmp).unwrap().dev, root_dev);
}

#[test]
fn dotdot_at_a_mount_root_returns_to_the_parent_file_system() {
    let w = world(BIG);
    let (n, ty) = w.vfs.resolve_path("/tmp/../etc/motd", true).unwrap();
    assert_eq!(ty, Filetype::RegularFile);
    assert_eq!(n.mount, hypha_vfs::ROOT_MOUNT);
    assert_eq!(w.vfs.resolve("/proc/..").unwrap(), w.vfs.root());
    assert_eq!(w.vfs.resolve("/..").unwrap(), w.vfs.root());
}

#[test]
fn symlinks_resolve_across_mounts() {
    let w = world(BIG);
    assert_eq!(read_all(&w.vfs, "/etc/greeting"), "welcome to hypha\n");
    assert_eq!(read_all(&w.vfs, "/etc/abs"), "welcome to hypha\n");
    let t = w.vfs.resolve("/etc/tmplink").unwrap();
    assert_eq!(t, w.vfs.resolve("/tmp").unwrap());
    let (l, ty) = w.vfs.resolve_path("/etc/greeting", false).unwrap();
    assert_eq!(ty, Filetype::SymbolicLink);
    assert_eq!(w.vfs.readlink(&l).unwrap(), "motd");
    // A loop is Loop, not a hang.
    let tmp = w.vfs.resolve("/tmp").unwrap();
    w.vfs.symlink(&tmp, "a", "b").unwrap();
    w.vfs.symlink(&tmp, "b", "a").unwrap();
    assert_eq!(w.vfs.resolve("/tmp/a"), Err(Errno::Loop));
    assert_eq!(w.vfs.resolve("/etc/motd/x"), Err(Errno::Notdir));
    assert_eq!(w.vfs.resolve("/etc/motd/"), Err(Errno::Notdir));
    assert_eq!(w.vfs.resolve("relative"), Err(Errno::Inval));
    assert_eq!(w.vfs.resolve("/nope"), Err(Errno::Noent));
}

#[test]
fn the_initrd_is_read_only() {
    let w = world(BIG);
    let etc = w.vfs.resolve("/etc").unwrap();
    let motd = w.vfs.resolve("/etc/motd").unwrap();
    assert_eq!(w.vfs.open(&motd, WRITE).unwrap_err(), Errno::Rofs);
    assert_eq!(w.vfs.create(&etc, "new", false, WRITE).unwrap_err(), Errno::Rofs);
    assert_eq!(w.vfs.create_dir(&etc, "d"), Err(Errno::Rofs));
    assert_eq!(w.vfs.unlink(&etc, "motd"), Err(Errno::Rofs));
    assert_eq!(w.vfs.symlink(&etc, "s", "motd"), Err(Errno::Rofs));
    assert_eq!(w.vfs.set_times(&motd, Some(1), None), Err(Errno::Rofs));
    assert_eq!(w.vfs.mode(&w.vfs.resolve("/bin/hello").unwrap()).unwrap(), Some(0o755));
    assert_eq!(w.vfs.mode(&motd).unwrap(), Some(0o644));
}

#[test]
fn rename_and_link_across_mounts_are_xdev() {
    let w = world(BIG);
    let tmp = w.vfs.resolve("/tmp").unwrap();
    let etc = w.vfs.resolve("/etc").unwrap();
    let (_, mut f) = w.vfs.create(&tmp, "a", true, WRITE).unwrap();
    w.vfs.write_at(&mut f, b"x", 0).unwrap();
    w.vfs.close(f);
    assert_eq!(w.vfs.rename(&tmp, "a", &etc, "a"), Err(Errno::Xdev));
    assert_eq!(w.vfs.link(&tmp, "a", &etc, "a"), Err(Errno::Xdev));
    // Within one mount both work.
    w.vfs.link(&tmp, "a", &tmp, "b").unwrap();
    w.vfs.rename(&tmp, "b", &tmp, "c").unwrap();
    assert_eq!(names(&w.vfs, &tmp), ["a", "c"]);
}

#[test]
fn mount_points_cannot_be_removed_or_replaced() {
    let w = world(BIG);
    let root = w.vfs.root();
    assert_eq!(w.vfs.remove_dir(&root, "tmp"), Err(Errno::Busy));
    assert_eq!(w.vfs.rename(&root, "tmp", &root, "tmp2"), Err(Errno::Busy));
    assert_eq!(w.vfs.rename(&root, "etc", &root, "dev"), Err(Errno::Busy));
    assert_eq!(w.vfs.unlink(&root, "dev"), Err(Errno::Isdir));
    assert_eq!(w.vfs.create_dir(&root, "proc"), Err(Errno::Exist));
    assert_eq!(w.vfs.create(&root, "proc", true, WRITE).unwrap_err(), Errno::Exist);
    assert_eq!(w.vfs.symlink(&root, "proc", "x"), Err(Errno::Exist));
    // A directory holding a mount point cannot be removed or replaced,
    // even when the mount point exists only in the VFS.
    let tmp = w.vfs.resolve("/tmp").unwrap();
    w.vfs.create_dir(&tmp, "outer").unwrap();
    w.vfs.create_dir(&tmp, "other").unwrap();
    let inner = TarFs::new(TarBuilder::new().finish()).unwrap();
    w.vfs.mount("/tmp/outer/virtual", Arc::new(inner)).unwrap();
    assert_eq!(names(&w.vfs, &w.vfs.resolve("/tmp/outer").unwrap()), ["virtual"]);
    assert_eq!(w.vfs.remove_dir(&tmp, "outer"), Err(Errno::Busy));
    assert_eq!(w.vfs.rename(&tmp, "other", &tmp, "outer"), Err(Errno::Busy));
    // Moving it keeps the mount with it.
    w.vfs.rename(&tmp, "outer", &tmp, "moved").unwrap();
    assert!(w.vfs.resolve("/tmp/moved/virtual").is_ok());
    w.vfs.remove_dir(&tmp, "other").unwrap();
}

#[test]
fn mount_rules() {
    let w = world(BIG);
    let tar = || Arc::new(TarFs::new(TarBuilder::new().file("f", 0o644, b"inner").finish()).unwrap());
    assert_eq!(w.vfs.mount("tmp", tar()), Err(Errno::Inval));
    assert_eq!(w.vfs.mount("/", tar()), Err(Errno::Inval));
    assert_eq!(w.vfs.mount("/tmp", tar()), Err(Errno::Busy));
    assert_eq!(w.vfs.mount("/etc/motd", tar()), Err(Errno::Notdir));
    assert_eq!(w.vfs.mount("/nope/x", tar()), Err(Errno::Noent));
    // Nested mounts: a mount inside a mounted tmpfs.
    let tmp = w.vfs.resolve("/tmp").unwrap();
    w.vfs.create_dir(&tmp, "mnt").unwrap();
    w.vfs.mount("/tmp/mnt/", tar()).unwrap();
    assert_eq!(read_all(&w.vfs, "/tmp/mnt/f"), "inner");
    assert_eq!(w.vfs.resolve("/tmp/mnt/..").unwrap(), tmp);
    for i in 0..hypha_vfs::MAX_MOUNTS {
        let r = w.vfs.mount(&format!("/tmp/m{i}"), tar());
        if r.is_err() {
            assert_eq!(r, Err(Errno::Nospc));
            return;
        }
    }
    panic!("the mount table never filled up");
}

#[test]
fn devices() {
    let w = world(BIG);
    let dev = w.vfs.resolve("/dev").unwrap();
    assert_eq!(names(&w.vfs, &dev), ["console", "null", "random", "zero"]);
    let open = |name: &str| {
        let (n, ty) = w.vfs.lookup(&dev, name).unwrap();
        assert_eq!(ty, Filetype::CharacterDevice);
        assert_eq!(w.vfs.stat(&n).unwrap().file_type(), Filetype::CharacterDevice);
        w.vfs.open(&n, WRITE).unwrap()
    };
    let mut buf = [9u8; 4];
    let mut null = open("null");
    assert_eq!(w.vfs.read_at(&mut null, &mut buf, 0), Ok(0));
    assert_eq!(w.vfs.write_at(&mut null, b"gone", 0), Ok(4));
    let mut zero = open("zero");
    assert_eq!(w.vfs.read_at(&mut zero, &mut buf, 100), Ok(4));
    assert_eq!(buf, [0; 4]);
    let mut random = open("random");
    assert_eq!(w.vfs.read_at(&mut random, &mut buf, 0), Ok(4));
    assert_eq!(buf, [1, 2, 3, 4], "bytes come from the given source");
    let mut console = open("console");
    assert_eq!(w.vfs.write_at(&mut console, b"hi", 0), Ok(2));
    assert_eq!(*w.console.output.lock().unwrap(), b"hi");
    assert_eq!(w.vfs.read_at(&mut console, &mut buf, 0), Err(Errno::Again));
    w.console.input.lock().unwrap().extend_from_slice(b"ls\n");
    assert_eq!(w.vfs.read_at(&mut console, &mut buf, 0), Ok(3));
    assert_eq!(&buf[..3], b"ls\n");
    assert_eq!(w.vfs.set_len(&mut console, 0), Ok(()));
    assert_eq!(w.vfs.create(&dev, "new", false, WRITE).unwrap_err(), Errno::Rofs);
    assert_eq!(w.vfs.lookup(&dev, "nope").unwrap_err(), Errno::Noent);
}

#[test]
fn procfs_text() {
    let w = world(BIG);
    let proc_dir = w.vfs.resolve("/proc").unwrap();
    assert_eq!(names(&w.vfs, &proc_dir), ["meminfo", "uptime", "1", "7"]);
    assert_eq!(read_all(&w.vfs, "/proc/uptime"), "12.34\n");
    assert_eq!(
        read_all(&w.vfs, "/proc/meminfo"),
        "MemTotal:       524288 kB\nMemFree:        409600 kB\nKernelUsed:      65536 kB\nUserMemory:      49152 kB\n"
    );
    assert_eq!(
        read_all(&w.vfs, "/proc/7/status"),
        "Name:\tcat\nState:\tR (running)\nPid:\t7\nPPid:\t1\nMemory:\t2048 kB\nCommitted:\t256 kB\nCpuTimeNs:\t1500000\nStartNs:\t84000000\n"
    );
    assert!(read_all(&w.vfs, "/proc/1/status").contains("State:\tS (blocked)\n"));
    assert_eq!(w.vfs.resolve("/proc/2"), Err(Errno::Noent));
    assert_eq!(w.vfs.resolve("/proc/07"), Err(Errno::Noent));
    assert_eq!(w.vfs.resolve("/proc/1/nope"), Err(Errno::Noent));
    assert_eq!(w.vfs.resolve("/proc/uptime/x"), Err(Errno::Notdir));
    // Generated at open: a snapshot that stays consistent.
    let status = w.vfs.resolve("/proc/7/status").unwrap();
    let mut f = w.vfs.open(&status, READ).unwrap();
    let len = w.vfs.file_stat(&f).unwrap().size;
    assert_eq!(w.vfs.stat(&status).unwrap().size, 0);
    w.procs.procs.lock().unwrap()[1] = proc_info(7, 1, "cat", ProcState::Zombie);
    let mut buf = vec![0u8; 200];
    let n = w.vfs.read_at(&mut f, &mut buf, 0).unwrap();
    assert_eq!(u64::try_from(n).unwrap(), len);
    assert!(String::from_utf8_lossy(&buf[..n]).contains("R (running)"));
    assert!(read_all(&w.vfs, "/proc/7/status").contains("Z (zombie)"));
    // Gone processes vanish.
    w.procs.procs.lock().unwrap().retain(|p| p.pid != 7);
    assert_eq!(w.vfs.resolve("/proc/7/status"), Err(Errno::Noent));
    assert_eq!(w.vfs.stat(&status).unwrap_err(), Errno::Noent);
    // Read-only.
    let meminfo = w.vfs.resolve("/proc/meminfo").unwrap();
    assert_eq!(w.vfs.open(&meminfo, WRITE).unwrap_err(), Errno::Rofs);
    assert_eq!(w.vfs.create_dir(&proc_dir, "x"), Err(Errno::Rofs));
}

#[test]
fn read_file_and_open_path() {
    let w = world(BIG);
    assert_eq!(w.vfs.read_file("/bin/hello").unwrap(), b"hello program");
    assert_eq!(w.vfs.read_file("/bin"), Err(Errno::Isdir));
    assert_eq!(w.vfs.open_path("/tmp", READ).unwrap_err(), Errno::Isdir);
    let mut f = w.vfs.open_path("/etc/greeting", READ).unwrap();
    let mut buf = [0u8; 7];
    assert_eq!(w.vfs.read_at(&mut f, &mut buf, 0), Ok(7));
    assert_eq!(&buf, b"welcome");
    assert_eq!(f.mount(), hypha_vfs::ROOT_MOUNT);
}

#[test]
fn load_file_borrows_static_files_with_their_digest_and_copies_the_rest() {
    let digest = [0xab; 32];
    let archive = TarBuilder::new().file_with_sha256("bin/prog", 0o755, b"program", &digest).finish();
    let vfs = Vfs::new(Arc::new(TarFs::new(&*Box::leak(archive.into_boxed_slice())).unwrap()));
    let tmp = hypha_vfs::TmpFs::new(Box::new(|| 1), common::BIG);
    vfs.mount("/tmp", Arc::new(tmp)).unwrap();
    let loaded = vfs.load_file("/bin/prog").unwrap();
    assert!(matches!(loaded.bytes, std::borrow::Cow::Borrowed(b"program")));
    assert_eq!(loaded.sha256, Some(digest));
    let tmp_dir = vfs.resolve("/tmp").unwrap();
    let (_, mut f) = vfs.create(&tmp_dir, "copy", true, WRITE).unwrap();
    assert_eq!(vfs.write_at(&mut f, b"program", 0), Ok(7));
    let copied = vfs.load_file("/tmp/copy").unwrap();
    assert!(matches!(copied.bytes, std::borrow::Cow::Owned(ref b) if b == b"program"));
    assert_eq!(copied.sha256, None, "a writable file has no recorded digest");
    assert_eq!(vfs.load_file("/bin").unwrap_err(), Errno::Isdir);
    assert_eq!(vfs.load_file("/nope").unwrap_err(), Errno::Noent);
}

#[test]
fn clones_share_one_tree_across_threads() {
    let w = world(BIG);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let vfs = w.vfs.clone();
            std::thread::spawn(move || {
                let tmp = vfs.resolve("/tmp").unwrap();
                for i in 0..50 {
                    let (_, mut f) = vfs.create(&tmp, &format!("t{t}-{i}"), true, WRITE).unwrap();
                    vfs.write_at(&mut f, &[t; 10], 0).unwrap();
                    vfs.close(f);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let tmp = w.vfs.resolve("/tmp").unwrap();
    assert_eq!(w.vfs.readdir(&tmp).unwrap().len(), 200);
    assert_eq!(w.tmp.used_bytes(), 2000);
}

mod resolution {
    //! The kernel's resolver (`Vfs::resolve_path`) and hypha-wasi's
    //! sandboxed one (through `path_filestat_get` on the `/` preopen) agree
    //! on every path the sandbox allows.

    use super::common::{BIG, world};
    use hypha_wasi::WasiCtx;
    use hypha_wasi::host::{HostClock, HostRandom};
    use hypha_wasi::types::Errno;
    use proptest::prelude::*;

    const PARTS: &[&str] = &[
        "bin", "etc", "tmp", "dev", "proc", "..", ".", "motd", "greeting", "tmplink", "hello", "1", "abs",
        "status", "null", "nope",
    ];

    proptest! {
        #[test]
        fn kernel_and_guest_resolvers_agree(
            parts in prop::collection::vec(prop::sample::select(PARTS), 1..6),
            trailing_slash in any::<bool>(),
        ) {
            let w = world(BIG);
            let mut path = parts.join("/");
            if trailing_slash {
                path.push('/');
            }
            let mut ctx = WasiCtx::new(w.vfs.clone(), Box::new(HostClock::new()), Box::new(HostRandom::default()));
            let fd = ctx.preopen_root(w.vfs.root(), "/").unwrap();
            let mut mem = vec![0u8; 1024];
            mem[256..256 + path.len()].copy_from_slice(path.as_bytes());
            let args = [u64::from(fd), 1, 256, path.len() as u64, 0];
            let errno = hypha_wasi::call(&mut ctx, &mut mem, "path_filestat_get", &args).unwrap();
            let guest: Result<(u64, u64), Errno> = match Errno::from_raw(u16::try_from(errno).unwrap()).unwrap() {
                // filestat: dev at 0, ino at 8 (little-endian u64s).
                Errno::Success => Ok((
                    u64::from_le_bytes(mem[0..8].try_into().unwrap()),
                    u64::from_le_bytes(mem[8..16].try_into().unwrap()),
                )),
                e => Err(e),
            };
            let kernel = w
                .vfs
                .resolve_path(&format!("/{path}"), true)
                .and_then(|(n, _)| hypha_wasi::FileSystem::stat(&w.vfs, &n))
                .map(|st| (st.dev, st.ino));
            if guest != Err(Errno::Notcapable) {
                prop_assert_eq!(guest, kernel, "path {}", path);
            }
        }
    }
}
