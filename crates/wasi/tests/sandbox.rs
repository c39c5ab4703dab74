//! Paths can never leave the directory fd they are resolved against.

mod common;

use common::{Guest, ROOT};
use hypha_wasi::types::{Errno, oflags, rights};

#[test]
fn absolute_paths_are_refused() {
    let mut g = Guest::new("abs");
    g.touch("file");
    assert_eq!(g.open_file("/file", 0, 0), Err(Errno::Perm));
    assert_eq!(
        g.open_file("/etc/passwd", 0, rights::FD_READ),
        Err(Errno::Perm)
    );
    assert_eq!(g.mkdir("/newdir"), Err(Errno::Perm));
    assert!(!g.dir.join("newdir").exists());
}

#[test]
fn dotdot_above_the_preopen_is_refused() {
    let mut g = Guest::new("dotdot");
    g.mkdir("a").unwrap();
    g.touch("a/f");
    assert_eq!(g.open_file("..", 0, 0), Err(Errno::Notcapable));
    assert_eq!(
        g.open_file("../x", oflags::CREAT, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(g.open_file("a/../../x", 0, 0), Err(Errno::Notcapable));
    assert_eq!(g.mkdir("a/../../escaped"), Err(Errno::Notcapable));
    let outside = g.dir.parent().unwrap().join("escaped");
    assert!(!outside.exists());
    // Staying inside is fine, however winding.
    let fd = g.open_file("a/./../a//f", 0, 0).unwrap();
    g.close(fd).unwrap();
}

#[test]
fn sandbox_is_the_dir_fd_not_the_preopen() {
    let mut g = Guest::new("subfd");
    g.mkdir("sub").unwrap();
    g.touch("top");
    let sub = g
        .open(
            ROOT,
            false,
            "sub",
            oflags::DIRECTORY,
            rights::DIRECTORY,
            rights::DIRECTORY_INHERITING,
            0,
        )
        .unwrap();
    assert_eq!(
        g.open(sub, false, "../top", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(g.open(sub, false, "..", 0, 0, 0, 0), Err(Errno::Notcapable));
}

#[test]
fn symlinks_pointing_outside_are_not_followed() {
    let mut g = Guest::new("symout");
    g.symlink("..", "up").unwrap();
    g.symlink("../../..", "way_up").unwrap();
    g.mkdir("d").unwrap();
    g.symlink("../..", "d/up2").unwrap();
    assert_eq!(g.open(ROOT, true, "up", 0, 0, 0, 0), Err(Errno::Notcapable));
    assert_eq!(
        g.open(ROOT, false, "way_up/etc/passwd", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(
        g.open(ROOT, true, "d/up2", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(g.path_filestat(true, "up"), Err(Errno::Notcapable));
    // Not following the final link is fine: it names the link itself.
    let st = g.path_filestat(false, "up").unwrap();
    assert_eq!(st.filetype, hypha_wasi::types::Filetype::SymbolicLink.raw());
}

#[test]
fn absolute_symlinks_are_refused_both_ways() {
    let mut g = Guest::new("symabs");
    assert_eq!(g.symlink("/etc", "abs"), Err(Errno::Perm));
    // One planted from the host is never followed.
    std::os::unix::fs::symlink("/etc", g.dir.join("planted")).unwrap();
    assert_eq!(
        g.open(ROOT, false, "planted/passwd", 0, rights::FD_READ, 0, 0),
        Err(Errno::Notcapable)
    );
    assert_eq!(
        g.open(ROOT, true, "planted", 0, 0, 0, 0),
        Err(Errno::Notcapable)
    );
}

#[test]
fn symlinks_inside_are_followed() {
    let mut g = Guest::new("symin");
    g.mkdir("real").unwrap();
    let fd = g
        .open_file("real/data", oflags::CREAT, rights::FD_WRITE)
        .unwrap();
    g.write(fd, b"hello").unwrap();
    g.close(fd).unwrap();
    g.symlink("real", "alias").unwrap();
    g.mkdir("deep").unwrap();
    g.symlink("../real/data", "deep/link").unwrap();
    let fd = g
        .open(ROOT, false, "alias/data", 0, rights::FD_READ, 0, 0)
        .unwrap();
    assert_eq!(g.read(fd, 16).unwrap(), b"hello");
    let fd = g
        .open(ROOT, true, "deep/link", 0, rights::FD_READ, 0, 0)
        .unwrap();
    assert_eq!(g.read(fd, 16).unwrap(), b"hello");
}

#[test]
fn symlink_loops_end_in_loop() {
    let mut g = Guest::new("loop");
    g.symlink("self", "self").unwrap();
    g.symlink("b", "a").unwrap();
    g.symlink("a", "b").unwrap();
    assert_eq!(g.open(ROOT, true, "self", 0, 0, 0, 0), Err(Errno::Loop));
    assert_eq!(g.open(ROOT, false, "self", 0, 0, 0, 0), Err(Errno::Loop));
    assert_eq!(g.open(ROOT, false, "a/x", 0, 0, 0, 0), Err(Errno::Loop));
    assert_eq!(g.path_filestat(true, "b"), Err(Errno::Loop));
}

#[test]
fn nul_and_empty_paths() {
    let mut g = Guest::new("nul");
    g.touch("f");
    assert_eq!(g.open_file("f\0", 0, 0), Err(Errno::Inval));
    assert_eq!(g.open_file("", 0, 0), Err(Errno::Noent));
}

#[test]
fn a_root_preopen_follows_absolute_symlinks_from_itself() {
    use hypha_wasi::WasiCtx;
    use hypha_wasi::host::{HostClock, HostRandom};
    use hypha_wasi::memfs::MemFs;

    let mut g = Guest::memfs(1 << 20);
    // Replace the plain preopen with a root preopen of the same tree.
    let fs_root = g.ctx.fs().root();
    g.close(ROOT).unwrap();
    assert_eq!(g.ctx.preopen_root(fs_root, "/").unwrap(), ROOT);
    g.mkdir("etc").unwrap();
    let fd = g.open_file("etc/motd", oflags::CREAT, rights::FD_WRITE).unwrap();
    g.write(fd, b"motd").unwrap();
    g.close(fd).unwrap();
    // Creating an absolute link is allowed here, and it is followed.
    g.symlink("/etc/motd", "abs").unwrap();
    g.symlink("/", "top").unwrap();
    let fd = g.open(ROOT, true, "abs", 0, rights::FD_READ, 0, 0).unwrap();
    assert_eq!(g.read(fd, 10).unwrap(), b"motd");
    // From a directory opened through the root preopen too.
    let etc = g.open(ROOT, true, "etc", oflags::DIRECTORY, rights::PATH_OPEN | rights::FD_READDIR, rights::FD_READ, 0).unwrap();
    let fd = g.open(etc, true, "../abs", 0, rights::FD_READ, 0, 0);
    assert_eq!(fd, Err(Errno::Notcapable), "`..` above the directory fd is still refused");
    g.symlink("/etc", "etc/self").unwrap();
    let fd = g.open(etc, true, "self/motd", 0, rights::FD_READ, 0, 0).unwrap();
    assert_eq!(g.read(fd, 10).unwrap(), b"motd");
    // `..` cannot climb above the root, even after an absolute link.
    assert_eq!(g.open_file("top/..", 0, 0), Err(Errno::Notcapable));
    assert_eq!(g.path_filestat(true, "top/etc/motd").unwrap().size, 4);

    // A plain preopen of the same kind of tree still refuses them.
    let mut plain = WasiCtx::new(MemFs::new(Box::new(|| 0)), Box::new(HostClock::new()), Box::new(HostRandom::default()));
    let root = plain.fs().root();
    plain.preopen_dir(root, "/").unwrap();
    let mut mem = vec![0u8; 256];
    mem[0..4].copy_from_slice(b"/etc");
    mem[16..19].copy_from_slice(b"abs");
    let errno = hypha_wasi::call(&mut plain, &mut mem, "path_symlink", &[0, 4, 3, 16, 3]).unwrap();
    assert_eq!(errno, i32::from(Errno::Perm.raw()));
}
