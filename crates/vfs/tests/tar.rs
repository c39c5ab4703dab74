//! The ustar parser: formats it accepts, typed errors for what it refuses,
//! and proptests (round trip against a model; arbitrary and mutated
//! archives never panic).

use std::collections::BTreeMap;

use hypha_vfs::{MountFs, TarBuilder, TarError, TarFs};
use hypha_wasi::OpenOptions;
use hypha_wasi::types::{Errno, Filetype};
use proptest::prelude::*;

const READ: OpenOptions = OpenOptions {
    read: true,
    write: false,
    truncate: false,
};

/// Inode of `path` (relative, `/`-separated), not following symlinks.
fn walk(fs: &TarFs, path: &str) -> Result<(u64, Filetype), Errno> {
    let mut cur = (fs.root(), Filetype::Directory);
    for c in path.split('/').filter(|c| !c.is_empty()) {
        cur = fs.lookup(cur.0, c)?;
    }
    Ok(cur)
}

fn read(fs: &TarFs, path: &str) -> Vec<u8> {
    let (ino, _) = walk(fs, path).unwrap();
    let mut f = fs.open(ino, READ).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 100];
    loop {
        let n = f.read_at(&mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn fix_checksum(h: &mut [u8]) {
    h[148..156].fill(b' ');
    let sum: u32 = h[..512].iter().map(|&c| u32::from(c)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

#[test]
fn files_dirs_symlinks_links_and_modes() {
    let data = TarBuilder::new()
        .dir("./bin/", 0o750)
        .file("./bin/sh", 0o755, b"#!wasm")
        .file("/usr/share/doc/readme", 0o600, b"implied parents")
        .symlink("bin/shell", "sh")
        .hard_link("bin/sh2", "bin/sh")
        .finish();
    let fs = TarFs::new(data).unwrap();
    assert_eq!(walk(&fs, "bin").unwrap().1, Filetype::Directory);
    assert_eq!(fs.mode(walk(&fs, "bin").unwrap().0).unwrap(), Some(0o750));
    assert_eq!(fs.mode(walk(&fs, "usr/share").unwrap().0).unwrap(), Some(0o755));
    assert_eq!(fs.mode(walk(&fs, "usr/share/doc/readme").unwrap().0).unwrap(), Some(0o600));
    assert_eq!(read(&fs, "bin/sh"), b"#!wasm");
    assert_eq!(read(&fs, "usr/share/doc/readme"), b"implied parents");
    let (link, ty) = walk(&fs, "bin/shell").unwrap();
    assert_eq!(ty, Filetype::SymbolicLink);
    assert_eq!(fs.readlink(link).unwrap(), "sh");
    assert_eq!(fs.stat(link).unwrap().size, 2);
    let (sh, _) = walk(&fs, "bin/sh").unwrap();
    assert_eq!(walk(&fs, "bin/sh2").unwrap().0, sh, "a hard link is the same inode");
    assert_eq!(fs.stat(sh).unwrap().nlink, 2);
    let names: Vec<String> = fs.readdir(walk(&fs, "bin").unwrap().0).unwrap().into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["sh", "sh2", "shell"]);
    assert_eq!(fs.stat(fs.root()).unwrap().nlink, 4, "root has bin and usr");
    assert_eq!(fs.open(sh, OpenOptions { write: true, ..READ }).unwrap_err(), Errno::Rofs);
    assert_eq!(fs.open(walk(&fs, "bin").unwrap().0, READ).unwrap_err(), Errno::Isdir);
    assert_eq!(fs.create_dir(fs.root(), "x"), Err(Errno::Rofs));
    assert_eq!(fs.lookup(sh, "x"), Err(Errno::Notdir));
    assert_eq!(fs.stat(999), Err(Errno::Noent));
    assert_eq!(fs.stat(0), Err(Errno::Noent));
}

#[test]
fn long_names_pax_gnu_and_prefix() {
    let long = format!("{}/{}", "d".repeat(90), "f".repeat(80));
    let long_target = "t".repeat(150);
    let mut b = TarBuilder::new();
    b.file(&long, 0o644, b"pax path");
    b.symlink("ln", &long_target);
    // GNU long name: an `L` member carrying the name of the next one.
    let gnu = format!("gnu/{}", "g".repeat(120));
    b.member("././@LongLink", b'L', 0o644, "", format!("{gnu}\0").as_bytes());
    b.file("truncated-name", 0o644, b"gnu path");
    let mut data = b.finish();
    // A ustar `prefix` field: member "p/q" stored as prefix "p", name "q".
    let mut raw = TarBuilder::new().file("q", 0o644, b"prefixed").finish();
    raw[345] = b'p';
    fix_checksum(&mut raw);
    let end = data.len() - 1024;
    data.truncate(end);
    data.extend_from_slice(&raw);
    let fs = TarFs::new(data).unwrap();
    assert_eq!(read(&fs, &long), b"pax path");
    assert_eq!(fs.readlink(walk(&fs, "ln").unwrap().0).unwrap(), long_target);
    assert_eq!(read(&fs, &gnu), b"gnu path");
    assert_eq!(walk(&fs, "truncated-name"), Err(Errno::Noent));
    assert_eq!(read(&fs, "p/q"), b"prefixed");
}

#[test]
fn later_members_replace_earlier_ones() {
    let data = TarBuilder::new()
        .file("a", 0o644, b"old")
        .file("a", 0o600, b"new")
        .file("d/x", 0o644, b"")
        .dir("d", 0o700)
        .finish();
    let fs = TarFs::new(data).unwrap();
    assert_eq!(read(&fs, "a"), b"new");
    assert_eq!(fs.mode(walk(&fs, "a").unwrap().0).unwrap(), Some(0o600));
    assert_eq!(fs.mode(walk(&fs, "d").unwrap().0).unwrap(), Some(0o700));
    assert!(walk(&fs, "d/x").is_ok(), "a directory member keeps implied contents");
}

#[test]
fn recorded_sha256_comes_with_static_bytes_only() {
    let digest: [u8; 32] = core::array::from_fn(|i| u8::try_from(i * 7).unwrap());
    let archive = TarBuilder::new()
        .file_with_sha256("bin/prog", 0o755, b"\0asm\x01\0\0\0", &digest)
        .file("etc/plain", 0o644, b"no digest")
        .finish();
    // Left in memory for good (the kernel's initrd): borrowed bytes and
    // the recorded digest, which is not checked against them.
    let leaked: &'static [u8] = Box::leak(archive.clone().into_boxed_slice());
    let fs = TarFs::new(leaked).unwrap();
    let (prog, _) = walk(&fs, "bin/prog").unwrap();
    let file = fs.static_file(prog).expect("a static archive's file");
    assert_eq!(file.bytes, b"\0asm\x01\0\0\0");
    assert_eq!(file.sha256, Some(digest));
    assert_eq!(read(&fs, "bin/prog"), b"\0asm\x01\0\0\0");
    let (plain, _) = walk(&fs, "etc/plain").unwrap();
    assert_eq!(fs.static_file(plain).unwrap().sha256, None);
    let (dir, _) = walk(&fs, "bin").unwrap();
    assert!(fs.static_file(dir).is_none(), "a directory has no bytes");
    // A shared copy may be dropped: nothing is handed out as 'static.
    let shared = TarFs::new(archive).unwrap();
    let (prog, _) = walk(&shared, "bin/prog").unwrap();
    assert!(shared.static_file(prog).is_none());
}

#[test]
fn malformed_sha256_records_are_refused() {
    for value in ["abc", &"g".repeat(64), &"0".repeat(63), &"0".repeat(65)] {
        let mut pax = Vec::new();
        let body = format!("HYPHA.sha256={value}\n");
        let mut len = body.len() + 2;
        while format!("{len} {body}").len() != len {
            len += 1;
        }
        pax.extend_from_slice(format!("{len} {body}").as_bytes());
        let archive = TarBuilder::new().member("././@PaxHeader", b'x', 0o644, "", &pax).file("f", 0o644, b"x").finish();
        assert!(matches!(TarFs::new(archive), Err(TarError::BadPax { .. })), "{value:?}");
    }
}

#[test]
fn end_of_archive_forms() {
    let full = TarBuilder::new().file("a", 0o644, b"x").finish();
    // Two zero blocks, one zero block, or none at all.
    for cut in [0, 512, 1024] {
        let fs = TarFs::new(full[..full.len() - cut].to_vec()).unwrap();
        assert_eq!(read(&fs, "a"), b"x");
    }
    assert_eq!(TarFs::new(Vec::new()).unwrap().inode_count(), 1);
    // Trailing garbage after the end marker is ignored.
    let mut tail = full.clone();
    tail.extend_from_slice(b"garbage");
    assert!(TarFs::new(tail).is_ok());
}

#[test]
fn malformed_archives_are_typed_errors() {
    let good = TarBuilder::new().file("a", 0o644, b"contents").finish();
    let err = |data: Vec<u8>| TarFs::new(data).unwrap_err();

    assert_eq!(err(good[..100].to_vec()), TarError::Truncated { offset: 0 });
    assert_eq!(err(good[..515].to_vec()), TarError::Truncated { offset: 0 });
    // Missing padding after the last member is tolerated.
    assert!(TarFs::new(good[..600].to_vec()).is_ok());

    let mut bad = good.clone();
    bad[0] = b'b';
    assert_eq!(err(bad), TarError::BadChecksum { offset: 0 });

    let mut bad = good.clone();
    bad[257..263].copy_from_slice(b"nottar");
    fix_checksum(&mut bad);
    assert_eq!(err(bad), TarError::BadMagic { offset: 0 });

    let mut bad = good.clone();
    bad[124] = b'9';
    fix_checksum(&mut bad);
    assert_eq!(err(bad), TarError::BadNumber { offset: 0, field: "size" });

    let dotdot = TarBuilder::new().file("../escape", 0o644, b"").finish();
    assert_eq!(err(dotdot), TarError::BadPath { offset: 0 });

    let through_file = TarBuilder::new().file("f", 0o644, b"").file("f/g", 0o644, b"").finish();
    assert_eq!(err(through_file), TarError::NotADirectory { offset: 512 });

    let file_over_dir = TarBuilder::new().dir("d", 0o755).file("d", 0o644, b"").finish();
    assert_eq!(err(file_over_dir), TarError::NotADirectory { offset: 512 });

    let dangling = TarBuilder::new().hard_link("l", "missing").finish();
    assert_eq!(err(dangling), TarError::BadLink { offset: 0 });

    let empty_link = TarBuilder::new().symlink("s", "").finish();
    assert_eq!(err(empty_link), TarError::BadPath { offset: 0 });

    let bad_pax = TarBuilder::new().member("pax", b'x', 0o644, "", b"99 path=x\n").finish();
    assert_eq!(err(bad_pax), TarError::BadPax { offset: 0 });

    let mut not_utf8 = good.clone();
    not_utf8[0] = 0xff;
    fix_checksum(&mut not_utf8);
    assert_eq!(err(not_utf8), TarError::BadPath { offset: 0 });

    // Errors print where they are.
    assert_eq!(TarError::BadChecksum { offset: 1024 }.to_string(), "bad header checksum at 1024");
}

/// Walks everything in `fs`, reading every file: never panics.
fn exercise(fs: &TarFs) {
    let mut stack = vec![fs.root()];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        seen += 1;
        assert!(seen <= fs.inode_count(), "cycle in the tree");
        for e in fs.readdir(dir).unwrap() {
            let (ino, ty) = fs.lookup(dir, &e.name).unwrap();
            assert_eq!(ty, e.filetype);
            fs.stat(ino).unwrap();
            match ty {
                Filetype::Directory => stack.push(ino),
                Filetype::SymbolicLink => {
                    fs.readlink(ino).unwrap();
                }
                _ => {
                    let mut f = fs.open(ino, READ).unwrap();
                    let mut buf = [0u8; 64];
                    let _ = f.read_at(&mut buf, 0).unwrap();
                    let _ = f.read_at(&mut buf, u64::MAX).unwrap();
                }
            }
        }
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-z]{1,8}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Files written with the builder read back exactly; directories list
    /// exactly the model's children.
    #[test]
    fn round_trip(files in prop::collection::btree_map(
        prop::collection::vec(name(), 1..4).prop_map(|v| v.join("/")),
        prop::collection::vec(any::<u8>(), 0..1500),
        1..12,
    )) {
        // Drop paths that are a prefix directory of another (a file cannot
        // also be a directory).
        let paths: Vec<&String> = files.keys().collect();
        let files: BTreeMap<&String, &Vec<u8>> = files
            .iter()
            .filter(|(p, _)| !paths.iter().any(|q| q.starts_with(&format!("{p}/"))))
            .collect();
        let mut b = TarBuilder::new();
        for (p, data) in &files {
            b.file(p, 0o644, data);
        }
        let fs = TarFs::new(b.finish()).unwrap();
        for (p, data) in &files {
            prop_assert_eq!(&read(&fs, p), *data);
        }
        let top: std::collections::BTreeSet<&str> =
            files.keys().map(|p| p.split('/').next().unwrap()).collect();
        let listed: std::collections::BTreeSet<String> =
            fs.readdir(fs.root()).unwrap().into_iter().map(|e| e.name).collect();
        prop_assert_eq!(listed, top.into_iter().map(String::from).collect());
        exercise(&fs);
    }

    /// Arbitrary bytes: an error or a usable file system, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        if let Ok(fs) = TarFs::new(data) {
            exercise(&fs);
        }
    }

    /// A valid archive with bytes overwritten and possibly truncated.
    #[test]
    fn mutated_archives_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        fix in any::<bool>(),
    ) {
        let mut data = TarBuilder::new()
            .dir("bin", 0o755)
            .file("bin/a", 0o755, &[7u8; 700])
            .symlink("bin/b", "a")
            .hard_link("c", "bin/a")
            .file(&"long/".repeat(30), 0o644, b"pax")
            .finish();
        for (at, byte) in edits {
            let i = at.index(data.len());
            data[i] = byte;
        }
        if fix {
            // Repair the first header's checksum so the edit reaches the
            // field parsers instead of the checksum test.
            fix_checksum(&mut data);
        }
        if truncate {
            data.truncate(cut.index(data.len()));
        }
        if let Ok(fs) = TarFs::new(data) {
            exercise(&fs);
        }
    }
}
