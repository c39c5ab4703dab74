//! The same guest-visible scenarios against both file-system backends (a
//! host directory and the in-memory `MemFs`): path resolution and the
//! sandbox live in the crate, so both must behave identically.

mod common;

use common::{Guest, ROOT};
use hypha_wasi::FileSystem;
use hypha_wasi::types::{Errno, Filetype, Whence, fdflags, oflags, rights};

const RW: u64 = rights::FD_READ
    | rights::FD_WRITE
    | rights::FD_SEEK
    | rights::FD_TELL
    | rights::FD_FILESTAT_GET;

fn escapes<F: FileSystem>(g: &mut Guest<F>) {
    g.mkdir("d").unwrap();
    g.touch("d/f");
    assert_eq!(g.open_file("/d/f", 0, 0), Err(Errno::Perm));
    assert_eq!(
        g.open_file("d/../../x", oflags::CREAT, 0),
        Err(Errno::Notcapable)
    );
    g.symlink("../..", "d/up").unwrap();
    assert_eq!(
        g.open(ROOT, true, "d/up", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(g.symlink("/abs", "abs"), Err(Errno::Perm));
    g.symlink("..", "d/parent").unwrap();
    let fd = g.open(ROOT, false, "d/parent/d/f", 0, 0, 0, 0).unwrap();
    g.close(fd).unwrap();
    let sub = g
        .open(
            ROOT,
            false,
            "d",
            oflags::DIRECTORY,
            rights::DIRECTORY,
            rights::DIRECTORY_INHERITING,
            0,
        )
        .unwrap();
    assert_eq!(
        g.open(sub, false, "parent/d/f", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    g.symlink("self", "self").unwrap();
    assert_eq!(g.open(ROOT, true, "self", 0, 0, 0, 0), Err(Errno::Loop));
    assert_eq!(g.open(ROOT, false, "self", 0, 0, 0, 0), Err(Errno::Loop));
}

fn namespace<F: FileSystem>(g: &mut Guest<F>) {
    g.mkdir("a").unwrap();
    assert_eq!(g.mkdir("a"), Err(Errno::Exist));
    g.mkdir("a/b").unwrap();
    assert_eq!(g.rmdir("a"), Err(Errno::Notempty));
    assert_eq!(g.unlink("a"), Err(Errno::Isdir));
    g.touch("a/b/f");
    assert_eq!(g.rmdir("a/b/f"), Err(Errno::Notdir));
    assert_eq!(g.unlink("a/b/f/"), Err(Errno::Notdir));
    assert_eq!(g.rename("a", "a/b/inside"), Err(Errno::Inval));
    assert_eq!(g.rename("a/b/f", "a"), Err(Errno::Isdir));
    assert_eq!(g.rename("a/b", "a/b/f"), Err(Errno::Notdir));
    g.mkdir("empty").unwrap();
    g.rename("a/b", "empty").unwrap();
    assert_eq!(
        g.path_filestat(false, "empty/f").unwrap().filetype,
        Filetype::RegularFile.raw()
    );
    g.mkdir("full").unwrap();
    g.touch("full/x");
    assert_eq!(g.rename("empty", "full"), Err(Errno::Notempty));
    g.rename("empty/f", "full/x").unwrap();
    assert_eq!(g.path_filestat(false, "empty/f"), Err(Errno::Noent));
    g.rename("empty/", "moved/").unwrap();
    g.rmdir("moved").unwrap();
    // Hard links share the inode; nlink counts them.
    let (a, al) = g.put(b"full/x");
    let (b, bl) = g.put(b"x2");
    g.call("path_link", &[ROOT.into(), 0, a, al, ROOT.into(), b, bl])
        .unwrap();
    let s1 = g.path_filestat(false, "full/x").unwrap();
    let s2 = g.path_filestat(false, "x2").unwrap();
    assert_eq!((s1.ino, s1.nlink), (s2.ino, 2));
    let (d, dl) = g.put(b"full");
    assert_eq!(
        g.call("path_link", &[ROOT.into(), 0, d, dl, ROOT.into(), b, bl]),
        Err(Errno::Perm)
    );
}

fn file_io<F: FileSystem>(g: &mut Guest<F>) {
    let fd = g
        .open(
            ROOT,
            false,
            "f",
            oflags::CREAT,
            RW | rights::FD_FDSTAT_SET_FLAGS,
            0,
            fdflags::APPEND,
        )
        .unwrap();
    g.write(fd, b"hello").unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    g.write(fd, b" world").unwrap();
    assert_eq!(g.tell(fd).unwrap(), 11);
    g.call("fd_fdstat_set_flags", &[fd.into(), 0]).unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    g.write(fd, b"J").unwrap();
    assert_eq!(g.seek(fd, -5, Whence::End.raw()).unwrap(), 6);
    assert_eq!(g.read(fd, 100).unwrap(), b"world");
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    assert_eq!(g.read(fd, 100).unwrap(), b"Jello world");
    // Unlinked while open: still readable through the fd.
    g.unlink("f").unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    assert_eq!(g.read(fd, 5).unwrap(), b"Jello");
    assert_eq!(g.open_file("f", 0, 0), Err(Errno::Noent));
    g.close(fd).unwrap();
    // Truncation through path_open.
    let fd = g.open_file("t", oflags::CREAT, rights::FD_WRITE).unwrap();
    g.write(fd, b"12345").unwrap();
    g.close(fd).unwrap();
    let fd = g
        .open_file(
            "t",
            oflags::TRUNC,
            rights::FD_READ | rights::FD_FILESTAT_GET,
        )
        .unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().size, 0);
    assert_eq!(
        g.open_file("t", oflags::CREAT | oflags::EXCL, 0),
        Err(Errno::Exist)
    );
}

fn listing<F: FileSystem>(g: &mut Guest<F>) {
    g.mkdir("d").unwrap();
    for i in 0..40 {
        g.touch(&format!("d/entry-{i:02}"));
    }
    let d = g
        .open(
            ROOT,
            false,
            "d",
            oflags::DIRECTORY,
            rights::FD_READDIR | rights::FD_FILESTAT_GET,
            0,
            0,
        )
        .unwrap();
    let mut names = Vec::new();
    let mut cookie = 0;
    loop {
        let (entries, used) = g.readdir(d, 128, cookie).unwrap();
        names.extend(entries.iter().map(|e| e.0.clone()));
        if used < 128 {
            break;
        }
        cookie = entries.last().unwrap().1;
    }
    assert_eq!(names.len(), 42);
    assert_eq!(&names[..3], [".", "..", "entry-00"]);
    assert_eq!(names.last().unwrap(), "entry-39");
    let (first, _) = g.readdir(d, 4096, 0).unwrap();
    assert_eq!(first[0].2, g.fd_filestat(d).unwrap().ino);
    assert_eq!(first[1].2, g.fd_filestat(ROOT).unwrap().ino);
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn host() {
                super::$name(&mut super::Guest::new(stringify!($name)));
            }
            #[test]
            fn memfs() {
                super::$name(&mut super::Guest::memfs(1 << 20));
            }
        }
    };
}

both!(escapes);
both!(namespace);
both!(file_io);
both!(listing);

#[test]
fn memfs_reclaims_unlinked_files_on_close() {
    let mut g = Guest::memfs(1 << 20);
    let before = g.ctx.fs().inode_count();
    let fd = g.open_file("f", oflags::CREAT, rights::FD_WRITE).unwrap();
    g.write(fd, &[7; 1000]).unwrap();
    assert_eq!(g.ctx.fs().used_bytes(), 1000);
    g.unlink("f").unwrap();
    assert_eq!(
        g.ctx.fs().inode_count(),
        before + 1,
        "kept alive by the open fd"
    );
    g.close(fd).unwrap();
    assert_eq!(g.ctx.fs().inode_count(), before);
    assert_eq!(g.ctx.fs().used_bytes(), 0);
}

#[test]
fn memfs_capacity_is_enforced() {
    let mut g = Guest::memfs(4096);
    let fd = g
        .open_file(
            "f",
            oflags::CREAT,
            rights::FD_WRITE | rights::FD_SEEK | rights::FD_FILESTAT_SET_SIZE,
        )
        .unwrap();
    g.write(fd, &[1; 4000]).unwrap();
    assert_eq!(g.write(fd, &[1; 200]), Err(Errno::Nospc));
    g.seek(fd, 1 << 40, Whence::Set.raw()).unwrap();
    assert_eq!(g.write(fd, b"x"), Err(Errno::Nospc));
    assert_eq!(
        g.call("fd_filestat_set_size", &[fd.into(), 1 << 50]),
        Err(Errno::Nospc)
    );
    g.call("fd_filestat_set_size", &[fd.into(), 10]).unwrap();
    g.write(fd, &[1; 100]).unwrap_err();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    g.write(fd, &[2; 4000]).unwrap();
    assert_eq!(g.ctx.fs().used_bytes(), 4000);
}
