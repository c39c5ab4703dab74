//! fd_* syscalls: read/write/seek/tell, append, pread/pwrite, rights,
//! readdir cookies, renumber, close, prestat.

mod common;

use common::{Guest, ROOT};
use hypha_wasi::types::{Errno, Filetype, Whence, fdflags, oflags, rights};

const RW: u64 = rights::FD_READ
    | rights::FD_WRITE
    | rights::FD_SEEK
    | rights::FD_TELL
    | rights::FD_FILESTAT_GET;

#[test]
fn seek_and_tell() {
    let mut g = Guest::new("seek");
    let fd = g.open_file("f", oflags::CREAT, RW).unwrap();
    assert_eq!(g.write(fd, b"0123456789").unwrap(), 10);
    assert_eq!(g.tell(fd).unwrap(), 10);
    assert_eq!(g.seek(fd, 2, Whence::Set.raw()).unwrap(), 2);
    assert_eq!(g.read(fd, 3).unwrap(), b"234");
    assert_eq!(g.seek(fd, -3, Whence::End.raw()).unwrap(), 7);
    assert_eq!(g.read(fd, 10).unwrap(), b"789");
    assert_eq!(g.seek(fd, -2, Whence::Cur.raw()).unwrap(), 8);
    assert_eq!(g.seek(fd, -100, Whence::Cur.raw()), Err(Errno::Inval));
    assert_eq!(g.seek(fd, 0, 3), Err(Errno::Inval));
    // Past the end is allowed; a write there leaves a hole of zeros.
    assert_eq!(g.seek(fd, 12, Whence::Set.raw()).unwrap(), 12);
    g.write(fd, b"!").unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    assert_eq!(g.read(fd, 100).unwrap(), b"0123456789\0\0!");
}

#[test]
fn seek_needs_rights_and_a_file() {
    let mut g = Guest::new("seekrights");
    let fd = g
        .open_file("f", oflags::CREAT, rights::FD_READ | rights::FD_TELL)
        .unwrap();
    assert_eq!(g.seek(fd, 1, Whence::Set.raw()), Err(Errno::Notcapable));
    // Querying the position needs only FD_TELL.
    assert_eq!(g.seek(fd, 0, Whence::Cur.raw()).unwrap(), 0);
    let d = g
        .open(ROOT, false, ".", oflags::DIRECTORY, rights::FD_SEEK, 0, 0)
        .unwrap();
    assert_eq!(
        g.fdstat(d).unwrap().rights_base & rights::FD_SEEK,
        0,
        "directories never get FD_SEEK"
    );
    assert_eq!(g.seek(d, 0, Whence::Cur.raw()), Err(Errno::Notcapable));
    assert_eq!(g.tell(d), Err(Errno::Notcapable));
    assert_eq!(g.seek(1, 0, Whence::Set.raw()), Err(Errno::Notcapable));
}

#[test]
fn append_mode_and_set_flags() {
    let mut g = Guest::new("append");
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
    assert_eq!(g.fdstat(fd).unwrap().flags, fdflags::APPEND);
    g.write(fd, b"aaaa").unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    g.write(fd, b"bb").unwrap();
    assert_eq!(g.tell(fd).unwrap(), 6);
    g.call("fd_fdstat_set_flags", &[fd.into(), 0]).unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    g.write(fd, b"c").unwrap();
    g.seek(fd, 0, Whence::Set.raw()).unwrap();
    assert_eq!(g.read(fd, 10).unwrap(), b"caaabb");
    assert_eq!(
        g.call("fd_fdstat_set_flags", &[fd.into(), 0x100]),
        Err(Errno::Inval)
    );
    let ro = g.open_file("f", 0, rights::FD_READ).unwrap();
    assert_eq!(
        g.call("fd_fdstat_set_flags", &[ro.into(), 0]),
        Err(Errno::Notcapable)
    );
}

#[test]
fn pread_pwrite_leave_the_offset() {
    let mut g = Guest::new("pread");
    let fd = g.open_file("f", oflags::CREAT, RW).unwrap();
    g.write(fd, b"hello world").unwrap();
    g.seek(fd, 1, Whence::Set.raw()).unwrap();
    let (p, l) = g.put(b"HELLO");
    let iov = g.alloc(8);
    g.mem[iov as usize..iov as usize + 4].copy_from_slice(&u32::try_from(p).unwrap().to_le_bytes());
    g.mem[iov as usize + 4..iov as usize + 8]
        .copy_from_slice(&u32::try_from(l).unwrap().to_le_bytes());
    let out = g.alloc(4);
    g.call("fd_pwrite", &[fd.into(), iov.into(), 1, 0, out.into()])
        .unwrap();
    assert_eq!(g.u32_at(out), 5);
    assert_eq!(g.tell(fd).unwrap(), 1);
    let buf = g.alloc(16);
    g.mem[iov as usize..iov as usize + 4].copy_from_slice(&buf.to_le_bytes());
    g.mem[iov as usize + 4..iov as usize + 8].copy_from_slice(&16u32.to_le_bytes());
    g.call("fd_pread", &[fd.into(), iov.into(), 1, 6, out.into()])
        .unwrap();
    assert_eq!(g.u32_at(out), 5);
    assert_eq!(g.bytes(buf, 5), b"world");
    assert_eq!(g.tell(fd).unwrap(), 1);
    assert_eq!(std::fs::read(g.dir.join("f")).unwrap(), b"HELLO world");
}

#[test]
fn read_write_rights_are_enforced() {
    let mut g = Guest::new("rights");
    g.touch("f");
    let ro = g.open_file("f", 0, rights::FD_READ).unwrap();
    assert_eq!(g.write(ro, b"x"), Err(Errno::Notcapable));
    let wo = g.open_file("f", 0, rights::FD_WRITE).unwrap();
    assert_eq!(g.read(wo, 1), Err(Errno::Notcapable));
    assert_eq!(g.write(wo, b"abc").unwrap(), 3);
    assert_eq!(g.fd_filestat(wo), Err(Errno::Notcapable));
    // Dropping rights works; getting them back does not.
    let rw = g.open_file("f", 0, RW).unwrap();
    g.call(
        "fd_fdstat_set_rights",
        &[rw.into(), rights::FD_SEEK | rights::FD_TELL, 0],
    )
    .unwrap();
    assert_eq!(
        g.fdstat(rw).unwrap().rights_base,
        rights::FD_SEEK | rights::FD_TELL
    );
    assert_eq!(g.read(rw, 1), Err(Errno::Notcapable));
    assert_eq!(
        g.call("fd_fdstat_set_rights", &[rw.into(), RW, 0]),
        Err(Errno::Notcapable)
    );
}

#[test]
fn path_open_rights() {
    let mut g = Guest::new("openrights");
    g.mkdir("d").unwrap();
    let limited = rights::PATH_OPEN | rights::FD_READDIR;
    let d = g
        .open(
            ROOT,
            false,
            "d",
            oflags::DIRECTORY,
            limited,
            rights::FD_READ,
            0,
        )
        .unwrap();
    // Creating needs PATH_CREATE_FILE; asking for more than inheriting fails.
    assert_eq!(
        g.open(d, false, "x", oflags::CREAT, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    std::fs::write(g.dir.join("d/y"), b"y").unwrap();
    assert_eq!(
        g.open(d, false, "y", 0, rights::FD_WRITE, 0, 0),
        Err(Errno::Notcapable)
    );
    let y = g.open(d, false, "y", 0, rights::FD_READ, 0, 0).unwrap();
    assert_eq!(g.read(y, 4).unwrap(), b"y");
    // Truncation needs PATH_FILESTAT_SET_SIZE on the directory.
    assert_eq!(
        g.open(d, false, "y", oflags::TRUNC, 0, 0, 0),
        Err(Errno::Notcapable)
    );
    let root = g.fdstat(ROOT).unwrap();
    let fd = g.open_file("d/y", oflags::TRUNC, 0).unwrap();
    g.close(fd).unwrap();
    assert_eq!(std::fs::read(g.dir.join("d/y")).unwrap(), b"");
    g.call(
        "fd_fdstat_set_rights",
        &[
            ROOT.into(),
            root.rights_base & !rights::PATH_FILESTAT_SET_SIZE,
            root.rights_inheriting,
        ],
    )
    .unwrap();
    assert_eq!(g.open_file("d/y", oflags::TRUNC, 0), Err(Errno::Notcapable));
}

#[test]
fn preopen_rights_and_directory_opens() {
    let mut g = Guest::new("preopen");
    let st = g.fdstat(ROOT).unwrap();
    assert_eq!(st.filetype, Filetype::Directory.raw());
    assert_eq!(st.rights_base, rights::DIRECTORY);
    assert_eq!(st.rights_inheriting, rights::DIRECTORY_INHERITING);
    assert_eq!(st.rights_base & rights::FD_FILESTAT_SET_SIZE, 0);
    g.open(ROOT, false, ".", 0, st.rights_base, st.rights_inheriting, 0)
        .unwrap();
    g.open(ROOT, false, ".", oflags::DIRECTORY, rights::FD_READ, 0, 0)
        .unwrap();
    assert_eq!(
        g.open(
            ROOT,
            false,
            ".",
            oflags::DIRECTORY,
            rights::FD_READ | rights::FD_WRITE,
            0,
            0
        ),
        Err(Errno::Isdir)
    );
    g.touch("f");
    assert_eq!(g.open_file("f", oflags::DIRECTORY, 0), Err(Errno::Notdir));
    let f = g.open_file("f", 0, 0).unwrap();
    assert_eq!(g.open(f, false, "x", 0, 0, 0, 0), Err(Errno::Notdir));
}

#[test]
fn directory_fds_refuse_file_io() {
    let mut g = Guest::new("dirio");
    assert_eq!(g.read(ROOT, 4), Err(Errno::Notcapable));
    assert_eq!(g.write(ROOT, b"x"), Err(Errno::Notcapable));
    assert_eq!(
        g.call("fd_allocate", &[ROOT.into(), 0, 1]),
        Err(Errno::Notcapable)
    );
    assert_eq!(
        g.call("fd_filestat_set_size", &[ROOT.into(), 0]),
        Err(Errno::Notcapable)
    );
    let st = g.fd_filestat(ROOT).unwrap();
    assert_eq!(st.filetype, Filetype::Directory.raw());
}

#[test]
fn prestat() {
    let mut g = Guest::new("prestat");
    let out = g.alloc(8);
    g.call("fd_prestat_get", &[3, out.into()]).unwrap();
    assert_eq!(g.mem[out as usize], 0);
    assert_eq!(g.u32_at(out + 4), 1);
    let buf = g.alloc(8);
    assert_eq!(
        g.call("fd_prestat_dir_name", &[3, buf.into(), 0]),
        Err(Errno::Nametoolong)
    );
    g.call("fd_prestat_dir_name", &[3, buf.into(), 8]).unwrap();
    assert_eq!(g.mem[buf as usize], b'/');
    assert_eq!(g.call("fd_prestat_get", &[4, out.into()]), Err(Errno::Badf));
    assert_eq!(g.call("fd_prestat_get", &[1, out.into()]), Err(Errno::Badf));
    let d = g
        .open(ROOT, false, ".", oflags::DIRECTORY, 0, 0, 0)
        .unwrap();
    assert_eq!(
        g.call("fd_prestat_get", &[d.into(), out.into()]),
        Err(Errno::Badf)
    );
}

#[test]
fn renumber_and_close() {
    let mut g = Guest::new("renumber");
    let a = g.open_file("a", oflags::CREAT, RW).unwrap();
    let b = g.open_file("b", oflags::CREAT, RW).unwrap();
    g.write(a, b"from a").unwrap();
    g.call("fd_renumber", &[a.into(), b.into()]).unwrap();
    assert_eq!(g.fdstat(a), Err(Errno::Badf));
    g.write(b, b"!").unwrap();
    assert_eq!(std::fs::read(g.dir.join("a")).unwrap(), b"from a!");
    assert_eq!(g.call("fd_renumber", &[b.into(), 99]), Err(Errno::Badf));
    assert_eq!(g.call("fd_renumber", &[99, b.into()]), Err(Errno::Badf));
    // Renumbering over the preopen replaces it; stdio can be renumbered.
    g.call("fd_renumber", &[b.into(), ROOT.into()]).unwrap();
    let out = g.alloc(8);
    assert_eq!(
        g.call("fd_prestat_get", &[ROOT.into(), out.into()]),
        Err(Errno::Badf)
    );
    g.call("fd_renumber", &[1, ROOT.into()]).unwrap();
    g.write(ROOT, b"to stdout").unwrap();
    assert_eq!(g.stdout.contents(), b"to stdout");
    g.close(ROOT).unwrap();
    assert_eq!(g.close(ROOT), Err(Errno::Badf));
    // The lowest free fd is reused.
    assert_eq!(g.ctx.open_fds(), vec![0, 2]);
}

#[test]
fn readdir_cookies() {
    let mut g = Guest::new("readdir");
    let d_rights = rights::FD_READDIR | rights::FD_FILESTAT_GET;
    g.mkdir("d").unwrap();
    let d = g
        .open(ROOT, false, "d", oflags::DIRECTORY, d_rights, 0, 0)
        .unwrap();
    let (entries, used) = g.readdir(d, 256, 0).unwrap();
    assert!(used < 256);
    let names: Vec<_> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, [".", ".."]);
    assert_eq!(entries[0].2, g.fd_filestat(d).unwrap().ino);
    assert_eq!(entries[0].3, Filetype::Directory.raw());
    assert_eq!(entries[1].2, g.fd_filestat(ROOT).unwrap().ino);
    for name in ["c", "a", "b"] {
        g.touch(&format!("d/{name}"));
    }
    g.mkdir("d/sub").unwrap();
    let (entries, _) = g.readdir(d, 4096, 0).unwrap();
    let names: Vec<_> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, [".", "..", "a", "b", "c", "sub"]);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.1, i as u64 + 1, "d_next is the next index");
    }
    assert_eq!(entries[2].3, Filetype::RegularFile.raw());
    assert_eq!(entries[5].3, Filetype::Directory.raw());
    // Resume after "b".
    let (rest, _) = g.readdir(d, 4096, entries[3].1).unwrap();
    let names: Vec<_> = rest.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["c", "sub"]);
    // Past the end: nothing.
    assert_eq!(g.readdir(d, 4096, 100).unwrap().1, 0);
    // A small buffer is filled completely, the last entry cut short.
    let (part, used) = g.readdir(d, 30, 0).unwrap();
    assert_eq!(used, 30);
    assert_eq!(part.len(), 1);
    // Without the right, or on a file: refused.
    let f = g.open_file("d/a", 0, rights::FD_READDIR).unwrap();
    assert_eq!(g.readdir(f, 64, 0), Err(Errno::Notcapable));
    let no = g
        .open(
            ROOT,
            false,
            "d",
            oflags::DIRECTORY,
            rights::FD_FILESTAT_GET,
            0,
            0,
        )
        .unwrap();
    assert_eq!(g.readdir(no, 64, 0), Err(Errno::Notcapable));
}

#[test]
fn readdir_many_entries_with_cookies() {
    let mut g = Guest::new("readdirlots");
    for i in 0..300 {
        std::fs::write(g.dir.join(format!("file.{i}")), b"").unwrap();
    }
    let mut total = 0;
    let mut cookie = 0;
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let (entries, used) = g.readdir(ROOT, 256, cookie).unwrap();
        for e in &entries {
            assert!(seen.insert(e.0.clone()), "duplicate {}", e.0);
        }
        total += entries.len();
        if used < 256 {
            break;
        }
        cookie = entries.last().unwrap().1;
    }
    assert_eq!(total, 302);
}

#[test]
fn allocate_set_size_and_times() {
    let mut g = Guest::new("alloc");
    let all =
        RW | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE | rights::FD_FILESTAT_SET_TIMES;
    let fd = g.open_file("f", oflags::CREAT, all).unwrap();
    g.call("fd_allocate", &[fd.into(), 0, 100]).unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().size, 100);
    g.call("fd_allocate", &[fd.into(), 10, 10]).unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().size, 100);
    g.call("fd_allocate", &[fd.into(), 90, 20]).unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().size, 110);
    g.call("fd_filestat_set_size", &[fd.into(), 5]).unwrap();
    assert_eq!(g.fd_filestat(fd).unwrap().size, 5);
    use hypha_wasi::types::fstflags::{ATIM, ATIM_NOW, MTIM, MTIM_NOW};
    g.call(
        "fd_filestat_set_times",
        &[
            fd.into(),
            1_000_000_123,
            2_000_000_456,
            (ATIM | MTIM).into(),
        ],
    )
    .unwrap();
    let st = g.fd_filestat(fd).unwrap();
    assert_eq!((st.atim, st.mtim), (1_000_000_123, 2_000_000_456));
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[fd.into(), 1, 2, (MTIM | MTIM_NOW).into()]
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        g.call(
            "fd_filestat_set_times",
            &[fd.into(), 1, 2, (ATIM | ATIM_NOW).into()]
        ),
        Err(Errno::Inval)
    );
    assert_eq!(
        g.fd_filestat(fd).unwrap().mtim,
        2_000_000_456,
        "failed call changed nothing"
    );
    g.call("fd_filestat_set_times", &[fd.into(), 0, 0, MTIM_NOW.into()])
        .unwrap();
    assert!(g.fd_filestat(fd).unwrap().mtim > 1_600_000_000_000_000_000);
    let ro = g.open_file("f", 0, rights::FD_READ).unwrap();
    assert_eq!(
        g.call("fd_allocate", &[ro.into(), 0, 1]),
        Err(Errno::Notcapable)
    );
    assert_eq!(
        g.call("fd_filestat_set_size", &[ro.into(), 0]),
        Err(Errno::Notcapable)
    );
}

#[test]
fn advise_sync_and_stdio() {
    let mut g = Guest::new("advise");
    let fd = g
        .open_file(
            "f",
            oflags::CREAT,
            RW | rights::FD_ADVISE | rights::FD_SYNC | rights::FD_DATASYNC,
        )
        .unwrap();
    g.call("fd_advise", &[fd.into(), 0, 100, 2]).unwrap();
    assert_eq!(
        g.call("fd_advise", &[fd.into(), 0, 100, 9]),
        Err(Errno::Inval)
    );
    g.call("fd_sync", &[fd.into()]).unwrap();
    g.call("fd_datasync", &[fd.into()]).unwrap();
    let ro = g.open_file("f", 0, rights::FD_READ).unwrap();
    assert_eq!(g.call("fd_sync", &[ro.into()]), Err(Errno::Notcapable));
    // stdio: streams, not seekable, and stdout captured.
    let st = g.fdstat(1).unwrap();
    assert_eq!(st.rights_base & (rights::FD_SEEK | rights::FD_TELL), 0);
    assert_eq!(g.write(1, b"out").unwrap(), 3);
    assert_eq!(g.write(2, b"err").unwrap(), 3);
    assert_eq!(g.stdout.contents(), b"out");
    assert_eq!(g.stderr.contents(), b"err");
    assert_eq!(g.read(1, 1), Err(Errno::Notcapable));
    assert_eq!(g.call("fd_close", &[77]), Err(Errno::Badf));
}

#[test]
fn stdin_reads_until_eof() {
    let mut g = Guest::with_stdin("stdin", b"line one\n");
    assert_eq!(g.read(0, 4).unwrap(), b"line");
    assert_eq!(g.read(0, 100).unwrap(), b" one\n");
    assert_eq!(g.read(0, 100).unwrap(), b"");
    assert_eq!(g.write(0, b"x"), Err(Errno::Notcapable));
}
