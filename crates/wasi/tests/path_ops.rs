//! path_* syscalls: create/remove/unlink/rename semantics, trailing
//! slashes, symlinks, readlink, hard links, filestat and set_times.

mod common;

use common::{Guest, ROOT};
use hypha_wasi::types::{Errno, Filetype, fstflags, oflags, rights};

#[test]
fn create_and_remove_directories() {
    let mut g = Guest::new("mkdir");
    g.mkdir("d").unwrap();
    assert!(g.dir.join("d").is_dir());
    assert_eq!(g.mkdir("d"), Err(Errno::Exist));
    assert_eq!(g.mkdir("."), Err(Errno::Exist));
    assert_eq!(g.mkdir("missing/d"), Err(Errno::Noent));
    g.touch("d/f");
    assert_eq!(g.rmdir("d"), Err(Errno::Notempty));
    assert_eq!(g.rmdir("d/f"), Err(Errno::Notdir));
    assert_eq!(g.rmdir("d/f/"), Err(Errno::Notdir));
    assert_eq!(g.rmdir("nope"), Err(Errno::Noent));
    g.unlink("d/f").unwrap();
    g.rmdir("d/").unwrap();
    assert!(!g.dir.join("d").exists());
}

#[test]
fn unlink_semantics() {
    let mut g = Guest::new("unlink");
    g.mkdir("dir").unwrap();
    assert_eq!(g.unlink("dir"), Err(Errno::Isdir));
    assert_eq!(g.unlink("dir/"), Err(Errno::Isdir));
    g.touch("file");
    assert_eq!(g.unlink("file/"), Err(Errno::Notdir));
    g.unlink("file").unwrap();
    assert_eq!(g.unlink("file"), Err(Errno::Noent));
    // Unlinking a symlink removes the link, not the target.
    g.touch("target");
    g.symlink("target", "link").unwrap();
    g.unlink("link").unwrap();
    assert!(g.dir.join("target").exists());
    // An open file stays readable after unlink.
    let fd = g
        .open_file("target", 0, rights::FD_READ | rights::FD_WRITE)
        .unwrap();
    g.write(fd, b"still here").unwrap();
    g.unlink("target").unwrap();
    let r = g.open_file("target", 0, 0);
    assert_eq!(r, Err(Errno::Noent));
}

#[test]
fn rename_semantics() {
    let mut g = Guest::new("rename");
    g.mkdir("src").unwrap();
    g.rename("src", "dst").unwrap();
    assert!(g.dir.join("dst").is_dir() && !g.dir.join("src").exists());
    // Directory onto an empty directory replaces it.
    g.mkdir("empty").unwrap();
    g.rename("dst", "empty").unwrap();
    assert!(!g.dir.join("dst").exists());
    // Directory onto a non-empty directory fails.
    g.mkdir("src").unwrap();
    g.touch("empty/f");
    assert_eq!(g.rename("src", "empty"), Err(Errno::Notempty));
    // Directory onto a file, file onto a directory.
    assert_eq!(g.rename("src", "empty/f"), Err(Errno::Notdir));
    g.touch("file");
    assert_eq!(g.rename("file", "src"), Err(Errno::Isdir));
    // File onto a file replaces it.
    std::fs::write(g.dir.join("other"), b"old").unwrap();
    std::fs::write(g.dir.join("file"), b"new").unwrap();
    g.rename("file", "other").unwrap();
    assert_eq!(std::fs::read(g.dir.join("other")).unwrap(), b"new");
    assert_eq!(g.rename("file", "x"), Err(Errno::Noent));
    // Trailing slashes: fine on directories, not on files.
    g.rename("src/", "moved/").unwrap();
    g.rename("moved", "src/").unwrap();
    assert_eq!(g.rename("other/", "x"), Err(Errno::Notdir));
    assert_eq!(g.rename("other", "x/"), Err(Errno::Notdir));
    // Across directories, and never out of the sandbox.
    g.rename("other", "src/inside").unwrap();
    assert!(g.dir.join("src/inside").exists());
    assert_eq!(g.rename("src/inside", "../escaped"), Err(Errno::Notcapable));
}

#[test]
fn rename_needs_both_rights() {
    let mut g = Guest::new("renamerights");
    g.mkdir("a").unwrap();
    g.touch("a/f");
    let only_src = g
        .open(
            ROOT,
            false,
            "a",
            oflags::DIRECTORY,
            rights::PATH_RENAME_SOURCE,
            0,
            0,
        )
        .unwrap();
    let (p, l) = g.put(b"f");
    let (q, m) = g.put(b"g");
    assert_eq!(
        g.call(
            "path_rename",
            &[only_src.into(), p, l, only_src.into(), q, m]
        ),
        Err(Errno::Notcapable)
    );
    g.call("path_rename", &[only_src.into(), p, l, ROOT.into(), q, m])
        .unwrap();
    assert!(g.dir.join("g").exists());
}

#[test]
fn open_flags() {
    let mut g = Guest::new("oflags");
    let fd = g
        .open_file("f", oflags::CREAT | oflags::EXCL, rights::FD_WRITE)
        .unwrap();
    g.write(fd, b"data").unwrap();
    assert_eq!(
        g.open_file("f", oflags::CREAT | oflags::EXCL, 0),
        Err(Errno::Exist)
    );
    let fd2 = g.open_file("f", oflags::CREAT, rights::FD_READ).unwrap();
    assert_eq!(g.read(fd2, 10).unwrap(), b"data");
    g.open_file("f", oflags::TRUNC, 0).unwrap();
    assert_eq!(std::fs::read(g.dir.join("f")).unwrap(), b"");
    assert_eq!(g.open_file("missing", 0, 0), Err(Errno::Noent));
    assert_eq!(
        g.open_file("missing/deeper", oflags::CREAT, 0),
        Err(Errno::Noent)
    );
    assert_eq!(g.open_file("f/", 0, 0), Err(Errno::Notdir));
    assert_eq!(g.open_file("f///", 0, 0), Err(Errno::Notdir));
    assert_eq!(g.open_file("f/x", 0, 0), Err(Errno::Notdir));
    assert_eq!(g.open_file("new/", oflags::CREAT, 0), Err(Errno::Isdir));
    assert_eq!(
        g.open_file("x", oflags::CREAT | oflags::DIRECTORY, 0),
        Err(Errno::Inval)
    );
    assert_eq!(g.open_file("x", 0x10, 0), Err(Errno::Inval));
    g.mkdir("d").unwrap();
    g.open_file("d/", 0, 0).unwrap();
    g.open_file("d///", oflags::DIRECTORY, 0).unwrap();
    assert_eq!(g.open_file("d", oflags::TRUNC, 0), Err(Errno::Isdir));
    assert_eq!(g.open_file("d", 0, rights::FD_WRITE), Err(Errno::Isdir));
}

#[test]
fn symlink_open_and_nofollow() {
    let mut g = Guest::new("nofollow");
    g.mkdir("target").unwrap();
    g.symlink("target", "link").unwrap();
    assert_eq!(
        g.open(ROOT, false, "link", oflags::DIRECTORY, 0, 0, 0),
        Err(Errno::Loop)
    );
    assert_eq!(g.open(ROOT, false, "link", 0, 0, 0, 0), Err(Errno::Loop));
    let fd = g
        .open(ROOT, true, "link", oflags::DIRECTORY, 0, 0, 0)
        .unwrap();
    assert_eq!(g.fdstat(fd).unwrap().filetype, Filetype::Directory.raw());
    // A trailing slash follows the link even without the flag.
    g.open(ROOT, false, "link/", 0, 0, 0, 0).unwrap();
    g.unlink("link").unwrap();
    g.rmdir("target").unwrap();
    g.touch("target");
    g.symlink("target", "link").unwrap();
    assert_eq!(
        g.open(ROOT, true, "link", oflags::DIRECTORY, 0, 0, 0),
        Err(Errno::Notdir)
    );
    // Dangling links.
    g.symlink("nowhere", "dangling").unwrap();
    assert_eq!(
        g.open(ROOT, true, "dangling", 0, 0, 0, 0),
        Err(Errno::Noent)
    );
    assert_eq!(
        g.path_filestat(false, "dangling").unwrap().filetype,
        Filetype::SymbolicLink.raw()
    );
}

#[test]
fn symlink_creation_rules() {
    let mut g = Guest::new("symlink");
    assert_eq!(g.symlink("source", "target/"), Err(Errno::Noent));
    g.mkdir("dir").unwrap();
    assert_eq!(g.symlink("source", "dir"), Err(Errno::Exist));
    assert_eq!(g.symlink("source", "dir/"), Err(Errno::Exist));
    g.touch("file");
    assert_eq!(g.symlink("source", "file"), Err(Errno::Exist));
    assert_eq!(g.symlink("", "empty"), Err(Errno::Noent));
    let no_symlink = g
        .open(ROOT, false, ".", oflags::DIRECTORY, rights::PATH_OPEN, 0, 0)
        .unwrap();
    let (a, al) = g.put(b"file");
    let (b, bl) = g.put(b"l");
    assert_eq!(
        g.call("path_symlink", &[a, al, no_symlink.into(), b, bl]),
        Err(Errno::Notcapable)
    );
}

#[test]
fn readlink_copies_and_truncates() {
    let mut g = Guest::new("readlink");
    g.touch("target");
    g.symlink("target", "symlink").unwrap();
    let (p, l) = g.put(b"symlink");
    let buf = g.alloc(10);
    g.mem[buf as usize..buf as usize + 10].fill(0xAA);
    let out = g.alloc(4);
    g.call(
        "path_readlink",
        &[ROOT.into(), p, l, buf.into(), 10, out.into()],
    )
    .unwrap();
    assert_eq!(g.u32_at(out), 6);
    assert_eq!(g.bytes(buf, 10), b"target\xAA\xAA\xAA\xAA");
    g.call(
        "path_readlink",
        &[ROOT.into(), p, l, buf.into(), 4, out.into()],
    )
    .unwrap();
    assert_eq!(g.u32_at(out), 4);
    assert_eq!(g.bytes(buf, 4), b"targ");
    let (t, tl) = g.put(b"target");
    assert_eq!(
        g.call(
            "path_readlink",
            &[ROOT.into(), t, tl, buf.into(), 10, out.into()]
        ),
        Err(Errno::Inval)
    );
    let (m, ml) = g.put(b"missing");
    assert_eq!(
        g.call(
            "path_readlink",
            &[ROOT.into(), m, ml, buf.into(), 10, out.into()]
        ),
        Err(Errno::Noent)
    );
}

#[test]
fn hard_links() {
    let mut g = Guest::new("link");
    let fd = g
        .open_file(
            "file",
            oflags::CREAT,
            rights::FD_WRITE | rights::FD_FILESTAT_GET,
        )
        .unwrap();
    g.write(fd, b"shared").unwrap();
    let link = |g: &mut Guest, flags: u64, from: &str, to: &str| {
        let (a, al) = g.put(from.as_bytes());
        let (b, bl) = g.put(to.as_bytes());
        g.call(
            "path_link",
            &[ROOT.into(), flags, a, al, ROOT.into(), b, bl],
        )
    };
    link(&mut g, 0, "file", "link").unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().nlink, 2);
    assert_eq!(std::fs::read(g.dir.join("link")).unwrap(), b"shared");
    assert_eq!(
        g.path_filestat(false, "link").unwrap().ino,
        g.fd_filestat(fd).unwrap().ino
    );
    assert_eq!(link(&mut g, 0, "file", "link"), Err(Errno::Exist));
    assert_eq!(link(&mut g, 0, "file", "file"), Err(Errno::Exist));
    g.mkdir("dir").unwrap();
    assert_eq!(link(&mut g, 0, "dir", "dirlink"), Err(Errno::Perm));
    assert_eq!(link(&mut g, 0, "file", "dir"), Err(Errno::Exist));
    assert_eq!(link(&mut g, 0, "file", "new/"), Err(Errno::Noent));
    assert_eq!(link(&mut g, 1, "file", "other"), Err(Errno::Inval));
    // A dangling symlink is linked itself, not followed.
    g.symlink("nowhere", "sym").unwrap();
    link(&mut g, 0, "sym", "symlink2").unwrap();
    assert_eq!(
        g.path_filestat(false, "symlink2").unwrap().filetype,
        Filetype::SymbolicLink.raw()
    );
    assert_eq!(link(&mut g, 0, "file", "../out"), Err(Errno::Notcapable));
}

#[test]
fn path_filestat_and_set_times() {
    let mut g = Guest::new("pathstat");
    let fd = g
        .open_file("file", oflags::CREAT, rights::FD_WRITE)
        .unwrap();
    g.write(fd, b"12345").unwrap();
    let st = g.path_filestat(false, "file").unwrap();
    assert_eq!(
        (st.size, st.filetype, st.nlink),
        (5, Filetype::RegularFile.raw(), 1)
    );
    g.symlink("file", "sym").unwrap();
    let sym = g.path_filestat(false, "sym").unwrap();
    assert_eq!(sym.filetype, Filetype::SymbolicLink.raw());
    assert_eq!(g.path_filestat(true, "sym").unwrap().ino, st.ino);
    assert_eq!(g.path_filestat(false, "file/"), Err(Errno::Notdir));
    assert_eq!(g.path_filestat(false, "nope"), Err(Errno::Noent));

    let set = |g: &mut Guest, follow: bool, path: &str, atim: u64, mtim: u64, fl: u16| {
        let (p, l) = g.put(path.as_bytes());
        g.call(
            "path_filestat_set_times",
            &[ROOT.into(), u64::from(follow), p, l, atim, mtim, fl.into()],
        )
    };
    set(&mut g, false, "file", 0, st.mtim - 100, fstflags::MTIM).unwrap();
    assert_eq!(g.path_filestat(false, "file").unwrap().mtim, st.mtim - 100);
    assert_eq!(
        set(
            &mut g,
            false,
            "file",
            0,
            5,
            fstflags::MTIM | fstflags::MTIM_NOW
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        set(
            &mut g,
            false,
            "file",
            5,
            0,
            fstflags::ATIM | fstflags::ATIM_NOW
        ),
        Err(Errno::Inval)
    );
    assert_eq!(g.path_filestat(false, "file").unwrap().mtim, st.mtim - 100);
    // On the link itself, then through it.
    set(&mut g, false, "sym", 0, sym.mtim - 200, fstflags::MTIM).unwrap();
    assert_eq!(g.path_filestat(false, "sym").unwrap().mtim, sym.mtim - 200);
    assert_eq!(g.path_filestat(false, "file").unwrap().mtim, st.mtim - 100);
    set(&mut g, true, "sym", 0, 42_000_000_007, fstflags::MTIM).unwrap();
    assert_eq!(g.path_filestat(false, "file").unwrap().mtim, 42_000_000_007);
    // Rights.
    let d = g
        .open(ROOT, false, ".", oflags::DIRECTORY, rights::PATH_OPEN, 0, 0)
        .unwrap();
    let (p, l) = g.put(b"file");
    let out = g.alloc(64);
    assert_eq!(
        g.call("path_filestat_get", &[d.into(), 0, p, l, out.into()]),
        Err(Errno::Notcapable)
    );
}
