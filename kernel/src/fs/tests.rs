//! The file tree as a process sees it: initrd found and reserved, programs
//! readable, `/tmp` writable within its quota, devices, `/proc`.

extern crate alloc;

use crate::ktest;
use hypha_boot_info::MemoryKind;
use hypha_wasi::{Errno, FileSystem as _, OpenOptions};

const READ: OpenOptions = OpenOptions { read: true, write: false, truncate: false };
const WRITE: OpenOptions = OpenOptions { read: true, write: true, truncate: true };

ktest! {
    fn initrd_is_found_and_reserved() {
        let info = crate::boot::info().expect("boot info");
        let (start, len) = info.initrd().expect("xtask boots the tests with -initrd");
        let bytes = super::initrd().expect("the kernel kept the initrd");
        assert_eq!(bytes.len() as u64, len);
        // A ustar archive: the first header names itself so.
        assert_eq!(&bytes[257..263], b"ustar\0");
        // Its pages are INITRD in the memory map (so never handed out or
        // reclaimed), and the frame allocator agrees: a fresh frame never
        // lands inside it.
        let first_page = start & !0xfff;
        let end = (start + len).div_ceil(4096) * 4096;
        assert!(info.memory_map.regions().iter().any(|region| {
            region.kind == MemoryKind::INITRD && region.start <= first_page && end <= region.end()
        }));
        let frame = crate::mem::alloc_frames(0).expect("a frame");
        assert!(frame.as_u64() + 4096 <= first_page || frame.as_u64() >= end);
        // SAFETY: the frame was just allocated and nothing else refers to it.
        unsafe { crate::mem::free_frames(frame, 0) }.expect("free");
    }
}

ktest! {
    fn initrd_files_carry_their_true_sha256_and_are_not_copied() {
        use sha2::Digest as _;
        // Every regular file of the initrd, walked on the archive's own
        // file system; xtask records each one's SHA-256, which the module
        // cache takes on trust: check every record against the bytes.
        let vfs = super::root();
        let tar = vfs.mount_fs(hypha_vfs::ROOT_MOUNT).expect("the root mount");
        let mut dirs = alloc::vec![tar.root()];
        let (mut files, mut checked) = (0, 0);
        while let Some(dir) = dirs.pop() {
            for entry in tar.readdir(dir).expect("readdir") {
                match entry.filetype {
                    hypha_wasi::types::Filetype::Directory => dirs.push(entry.ino),
                    hypha_wasi::types::Filetype::RegularFile => {
                        files += 1;
                        let file = tar.static_file(entry.ino).expect("initrd files stay in memory");
                        let digest: [u8; 32] = sha2::Sha256::digest(file.bytes).into();
                        assert_eq!(file.sha256, Some(digest), "{}", entry.name);
                        checked += 1;
                    }
                    _ => {}
                }
            }
        }
        assert!(files > 10 && checked == files, "{checked} of {files} files checked");
        // What spawning reads: the initrd's bytes themselves, with the record.
        let sh = super::load_file("/bin/sh").expect("/bin/sh");
        let initrd = super::initrd().expect("the initrd");
        let inside = initrd.as_ptr_range();
        assert!(matches!(sh.bytes, alloc::borrow::Cow::Borrowed(b) if inside.contains(&b.as_ptr())));
        assert!(sh.sha256.is_some());
        // A /tmp file is copied and has no record.
        let tmp = vfs.resolve("/tmp").expect("/tmp");
        let (_, mut file) = vfs.create(&tmp, "sha-ktest", true, WRITE).expect("create");
        assert_eq!(vfs.write_at(&mut file, b"\0asm", 0), Ok(4));
        vfs.close(file);
        let copy = super::load_file("/tmp/sha-ktest").expect("load");
        assert!(matches!(copy.bytes, alloc::borrow::Cow::Owned(_)) && copy.sha256.is_none());
        vfs.unlink(&tmp, "sha-ktest").expect("unlink");
    }
}

ktest! {
    fn bin_sh_is_a_wasm_module() {
        let sh = super::read_file("/bin/sh").expect("/bin/sh");
        assert_eq!(&sh[..8], b"\0asm\x01\0\0\0", "wasm magic and version 1");
        assert!(sh.len() > 1024);
        let motd = super::read_file("/etc/motd").expect("/etc/motd");
        assert!(motd.starts_with(b"Welcome to Hypha"));
        assert_eq!(super::read_file("/bin"), Err(Errno::Isdir));
        assert_eq!(super::read_file("/bin/no-such-program"), Err(Errno::Noent));
        // Every program xtask packs is there, including the test programs.
        let vfs = super::root();
        let bin = vfs.resolve("/bin").expect("/bin");
        let names: alloc::vec::Vec<_> = vfs.readdir(&bin).expect("readdir").into_iter().map(|entry| entry.name).collect();
        for program in ["sh", "ls", "cat", "echo", "trap", "forkbomb"] {
            assert!(names.iter().any(|name| name == program), "/bin/{program} missing from {names:?}");
        }
    }
}

ktest! {
    fn initrd_is_read_only() {
        let vfs = super::root();
        let bin = vfs.resolve("/bin").expect("/bin");
        assert_eq!(vfs.create(&bin, "new", true, WRITE).map(|_| ()), Err(Errno::Rofs));
        assert_eq!(vfs.unlink(&bin, "sh"), Err(Errno::Rofs));
    }
}

ktest! {
    fn tmp_is_writable_within_its_quota() {
        let vfs = super::root();
        let tmp = vfs.resolve("/tmp").expect("/tmp");
        let quota = super::tmp_quota();
        assert!(quota.bytes >= 1 << 20 && quota.bytes <= super::TMP_MAX_BYTES);
        let before = super::tmp_used_bytes();
        let (_, mut file) = vfs.create(&tmp, "ktest-quota", true, WRITE).expect("create in /tmp");
        assert_eq!(vfs.write_at(&mut file, b"hello", 0), Ok(5));
        assert_eq!(super::tmp_used_bytes(), before + 5);
        // A write that would pass the byte quota fails and stores nothing.
        assert_eq!(vfs.write_at(&mut file, b"x", quota.bytes), Err(Errno::Nospc));
        vfs.close(file);
        assert_eq!(super::read_file("/tmp/ktest-quota").expect("read back"), b"hello");
        assert_eq!(super::tmp_used_bytes(), before + 5);
        vfs.unlink(&tmp, "ktest-quota").expect("unlink");
        assert_eq!(super::tmp_used_bytes(), before);
        assert_eq!(super::read_file("/tmp/ktest-quota"), Err(Errno::Noent));
    }
}

ktest! {
    fn tmp_inode_quota_stops_creation() {
        let vfs = super::root();
        let tmp = vfs.resolve("/tmp").expect("/tmp");
        vfs.create_dir(&tmp, "ktest-inodes").expect("mkdir");
        let dir = vfs.resolve("/tmp/ktest-inodes").expect("dir");
        let mut created = 0;
        let refused = loop {
            let name = alloc::format!("f{created}");
            match vfs.create(&dir, &name, true, WRITE) {
                Ok((_, file)) => {
                    vfs.close(file);
                    created += 1;
                }
                Err(error) => break error,
            }
            assert!(created <= super::TMP_INODES, "the inode quota never stopped creation");
        };
        assert_eq!(refused, Errno::Nospc);
        assert!(created > super::TMP_INODES / 2, "only {created} files fitted");
        for index in 0..created {
            vfs.unlink(&dir, &alloc::format!("f{index}")).expect("unlink");
        }
        vfs.remove_dir(&tmp, "ktest-inodes").expect("rmdir");
        // Room again.
        let (_, file) = vfs.create(&tmp, "ktest-after", true, WRITE).expect("create after cleanup");
        vfs.close(file);
        vfs.unlink(&tmp, "ktest-after").expect("unlink");
    }
}

ktest! {
    fn dev_zero_null_and_random() {
        let vfs = super::root();
        let mut zero = vfs.open_path("/dev/zero", READ).expect("/dev/zero");
        let mut buf = [0xa5u8; 64];
        assert_eq!(vfs.read_at(&mut zero, &mut buf, 0), Ok(64));
        assert_eq!(buf, [0; 64]);
        vfs.close(zero);
        let mut null = vfs.open_path("/dev/null", WRITE).expect("/dev/null");
        assert_eq!(vfs.write_at(&mut null, b"discarded", 0), Ok(9));
        assert_eq!(vfs.read_at(&mut null, &mut buf, 0), Ok(0), "null reads end at once");
        vfs.close(null);
        let mut random = vfs.open_path("/dev/random", READ).expect("/dev/random");
        let (mut first, mut second) = ([0u8; 32], [0u8; 32]);
        assert_eq!(vfs.read_at(&mut random, &mut first, 0), Ok(32));
        assert_eq!(vfs.read_at(&mut random, &mut second, 0), Ok(32));
        assert_ne!(first, second);
        vfs.close(random);
        let dev = vfs.resolve("/dev").expect("/dev");
        let names: alloc::vec::Vec<_> = vfs.readdir(&dev).expect("readdir").into_iter().map(|entry| entry.name).collect();
        for device in ["console", "null", "random", "zero"] {
            assert!(names.iter().any(|name| name == device), "/dev/{device} missing");
        }
    }
}

ktest! {
    fn proc_meminfo_parses() {
        let text = super::read_file("/proc/meminfo").expect("/proc/meminfo");
        let text = core::str::from_utf8(&text).expect("UTF-8");
        let value = |key: &str| -> u64 {
            let line = text.lines().find(|line| line.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {text}"));
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some(key));
            let number = words.next().and_then(|word| word.parse().ok()).unwrap_or_else(|| panic!("bad line {line}"));
            assert_eq!(words.next(), Some("kB"));
            number
        };
        let total = value("MemTotal:");
        let free = value("MemFree:");
        let stats = crate::mem::stats();
        assert_eq!(total, stats.frames_total as u64 * 4);
        assert!(free > 0 && free < total);
        assert!(value("KernelUsed:") > 0);
        let uptime = super::read_file("/proc/uptime").expect("/proc/uptime");
        let uptime = core::str::from_utf8(&uptime).expect("UTF-8").trim();
        let seconds: f64 = uptime.parse().unwrap_or_else(|_| panic!("uptime {uptime:?}"));
        assert!(seconds > 0.0);
    }
}

ktest! {
    #[timeout_ms = 30_000]
    async fn proc_lists_the_process_table() {
        use alloc::string::String;
        // A built-in program (kernel/programs/hello.wat): small, so the
        // test compiles fast in debug builds too. Programs from the initrd
        // take the same path (proc::spawn over fs::read_file).
        let bytes = crate::proc::programs::load("hello").expect("built-in hello");
        let pid = crate::proc::spawn(crate::proc::Spawn {
            name: "/bin/fs-ktest-hello",
            bytes,
            sha256: None,
            args: alloc::vec![String::from("fs-ktest-hello")],
            env: alloc::vec::Vec::new(),
            stdio: [None, None, None],
            parent: 0,
            limits: crate::proc::Limits::default(),
            stopped: true,
            detached: false,
        })
        .expect("spawn");
        // Held before its first instruction: /proc lists it.
        let vfs = super::root();
        let proc_dir = vfs.resolve("/proc").expect("/proc");
        let names: alloc::vec::Vec<_> = vfs.readdir(&proc_dir).expect("readdir").into_iter().map(|entry| entry.name).collect();
        assert!(names.contains(&alloc::format!("{pid}")), "pid {pid} not in {names:?}");
        let status = super::read_file(&alloc::format!("/proc/{pid}/status")).expect("its /proc status");
        let status = core::str::from_utf8(&status).expect("UTF-8");
        assert!(status.contains("Name:\tfs-ktest-hello\n"), "{status}");
        assert!(status.contains(&alloc::format!("Pid:\t{pid}\n")), "{status}");
        assert!(status.contains("PPid:\t0\n"), "{status}");
        assert!(status.contains("State:\tR (ready)\n"), "{status}");
        crate::proc::resume(pid);
        let ended = crate::proc::wait(0, pid).await.expect("wait");
        assert_eq!(ended, crate::proc::ExitStatus::Exited(0));
        // Reaped: gone from /proc.
        assert_eq!(super::read_file(&alloc::format!("/proc/{pid}/status")), Err(Errno::Noent));
    }
}
