//! A fake guest for driving the syscalls: a `Vec<u8>` linear memory, a
//! scratch temp directory preopened as `/` at fd 3, captured stdio, and
//! helpers that go through the same `call` entry point the runtime uses.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use hypha_wasi::host::{HostClock, HostFs, HostRandom, MemoryInput, MemoryOutput, host_ctx};
use hypha_wasi::memfs::MemFs;
use hypha_wasi::types::{Errno, Fdstat, Filestat};
use hypha_wasi::{CallError, FileSystem, WasiCtx, call};

/// One decoded dirent: (name, d_next, d_ino, d_type).
pub type Entry = (String, u64, u64, u8);

pub const MEM_SIZE: usize = 1 << 16;
/// Scratch allocations start here and wrap before the end of memory.
const HEAP_START: u32 = 1024;
pub const ROOT: u32 = 3;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub struct Guest<F: FileSystem = HostFs> {
    pub ctx: WasiCtx<F>,
    pub mem: Vec<u8>,
    pub dir: PathBuf,
    pub stdout: MemoryOutput,
    pub stderr: MemoryOutput,
    next: u32,
}

fn realtime_ns() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    u64::try_from(d.as_nanos()).unwrap()
}

impl Guest<MemFs> {
    /// A guest over an in-memory file system (root preopened as `/`).
    pub fn memfs(capacity: u64) -> Guest<MemFs> {
        let fs = MemFs::with_capacity(Box::new(realtime_ns), capacity);
        let root = fs.root();
        let mut ctx = WasiCtx::new(
            fs,
            Box::new(HostClock::new()),
            Box::new(HostRandom::default()),
        );
        assert_eq!(ctx.preopen_dir(root, "/").unwrap(), ROOT);
        let stdout = MemoryOutput::new();
        let stderr = MemoryOutput::new();
        ctx.set_stdin(Box::new(MemoryInput::new(Vec::new())));
        ctx.set_stdout(Box::new(stdout.clone()));
        ctx.set_stderr(Box::new(stderr.clone()));
        Guest {
            ctx,
            mem: vec![0; MEM_SIZE],
            dir: PathBuf::new(),
            stdout,
            stderr,
            next: HEAP_START,
        }
    }
}

impl Guest<HostFs> {
    pub fn new(tag: &str) -> Guest {
        Self::with_stdin(tag, b"")
    }

    pub fn with_stdin(tag: &str, stdin: &[u8]) -> Guest {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hypha-wasi-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        let mut ctx = host_ctx(&dir).expect("host ctx");
        let stdout = MemoryOutput::new();
        let stderr = MemoryOutput::new();
        ctx.set_stdin(Box::new(MemoryInput::new(stdin.to_vec())));
        ctx.set_stdout(Box::new(stdout.clone()));
        ctx.set_stderr(Box::new(stderr.clone()));
        Guest {
            ctx,
            mem: vec![0; MEM_SIZE],
            dir,
            stdout,
            stderr,
            next: HEAP_START,
        }
    }
}

impl<F: FileSystem> Guest<F> {
    /// Raw import call; errno as `Errno`.
    pub fn raw(&mut self, name: &str, args: &[u64]) -> Result<Errno, CallError> {
        let r = call(&mut self.ctx, &mut self.mem, name, args)?;
        let code = u16::try_from(r).expect("errno fits u16");
        Ok(Errno::from_raw(code).expect("known errno"))
    }

    /// Import call that must not exit; `Ok(())` for success.
    pub fn call(&mut self, name: &str, args: &[u64]) -> Result<(), Errno> {
        match self.raw(name, args).expect("no exit") {
            Errno::Success => Ok(()),
            e => Err(e),
        }
    }

    /// Scratch space of `len` bytes (8-aligned).
    pub fn alloc(&mut self, len: u32) -> u32 {
        let len = (len + 7) & !7;
        if self.next + len > u32::try_from(MEM_SIZE).unwrap() - 64 {
            self.next = HEAP_START;
        }
        let p = self.next;
        self.next += len;
        p
    }

    pub fn put(&mut self, data: &[u8]) -> (u64, u64) {
        let len = u32::try_from(data.len()).unwrap();
        let p = self.alloc(len.max(1));
        self.mem[p as usize..p as usize + data.len()].copy_from_slice(data);
        (u64::from(p), u64::from(len))
    }

    pub fn u32_at(&self, p: u32) -> u32 {
        u32::from_le_bytes(self.mem[p as usize..p as usize + 4].try_into().unwrap())
    }

    pub fn u64_at(&self, p: u32) -> u64 {
        u64::from_le_bytes(self.mem[p as usize..p as usize + 8].try_into().unwrap())
    }

    pub fn bytes(&self, p: u32, len: usize) -> Vec<u8> {
        self.mem[p as usize..p as usize + len].to_vec()
    }

    // === helpers over the syscalls ===

    #[expect(clippy::too_many_arguments, reason = "mirrors path_open")]
    pub fn open(
        &mut self,
        dir: u32,
        follow: bool,
        path: &str,
        oflags: u16,
        base: u64,
        inh: u64,
        fdflags: u16,
    ) -> Result<u32, Errno> {
        let (pp, pl) = self.put(path.as_bytes());
        let out = self.alloc(4);
        self.call(
            "path_open",
            &[
                dir.into(),
                u64::from(follow),
                pp,
                pl,
                oflags.into(),
                base,
                inh,
                fdflags.into(),
                out.into(),
            ],
        )?;
        Ok(self.u32_at(out))
    }

    pub fn open_file(&mut self, path: &str, oflags: u16, base: u64) -> Result<u32, Errno> {
        self.open(ROOT, false, path, oflags, base, 0, 0)
    }

    pub fn path1(&mut self, name: &str, dir: u32, path: &str) -> Result<(), Errno> {
        let (pp, pl) = self.put(path.as_bytes());
        self.call(name, &[dir.into(), pp, pl])
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_create_directory", ROOT, path)
    }

    pub fn rmdir(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_remove_directory", ROOT, path)
    }

    pub fn unlink(&mut self, path: &str) -> Result<(), Errno> {
        self.path1("path_unlink_file", ROOT, path)
    }

    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), Errno> {
        let (a, al) = self.put(from.as_bytes());
        let (b, bl) = self.put(to.as_bytes());
        self.call("path_rename", &[ROOT.into(), a, al, ROOT.into(), b, bl])
    }

    pub fn symlink(&mut self, target: &str, path: &str) -> Result<(), Errno> {
        let (a, al) = self.put(target.as_bytes());
        let (b, bl) = self.put(path.as_bytes());
        self.call("path_symlink", &[a, al, ROOT.into(), b, bl])
    }

    pub fn touch(&mut self, path: &str) {
        let fd = self
            .open_file(path, hypha_wasi::types::oflags::CREAT, 0)
            .expect("create");
        self.close(fd).expect("close");
    }

    pub fn close(&mut self, fd: u32) -> Result<(), Errno> {
        self.call("fd_close", &[fd.into()])
    }

    pub fn write(&mut self, fd: u32, data: &[u8]) -> Result<u32, Errno> {
        let (p, l) = self.put(data);
        let iov = self.alloc(8);
        self.mem[iov as usize..iov as usize + 4]
            .copy_from_slice(&u32::try_from(p).unwrap().to_le_bytes());
        self.mem[iov as usize + 4..iov as usize + 8]
            .copy_from_slice(&u32::try_from(l).unwrap().to_le_bytes());
        let out = self.alloc(4);
        self.call("fd_write", &[fd.into(), iov.into(), 1, out.into()])?;
        Ok(self.u32_at(out))
    }

    pub fn read(&mut self, fd: u32, len: u32) -> Result<Vec<u8>, Errno> {
        let buf = self.alloc(len.max(1));
        let iov = self.alloc(8);
        self.mem[iov as usize..iov as usize + 4].copy_from_slice(&buf.to_le_bytes());
        self.mem[iov as usize + 4..iov as usize + 8].copy_from_slice(&len.to_le_bytes());
        let out = self.alloc(4);
        self.call("fd_read", &[fd.into(), iov.into(), 1, out.into()])?;
        let n = self.u32_at(out) as usize;
        Ok(self.bytes(buf, n))
    }

    pub fn seek(&mut self, fd: u32, delta: i64, whence: u8) -> Result<u64, Errno> {
        let out = self.alloc(8);
        self.call(
            "fd_seek",
            &[
                fd.into(),
                u64::from_le_bytes(delta.to_le_bytes()),
                whence.into(),
                out.into(),
            ],
        )?;
        Ok(self.u64_at(out))
    }

    pub fn tell(&mut self, fd: u32) -> Result<u64, Errno> {
        let out = self.alloc(8);
        self.call("fd_tell", &[fd.into(), out.into()])?;
        Ok(self.u64_at(out))
    }

    pub fn fdstat(&mut self, fd: u32) -> Result<Fdstat, Errno> {
        let out = self.alloc(24);
        self.call("fd_fdstat_get", &[fd.into(), out.into()])?;
        Ok(Fdstat {
            filetype: self.mem[out as usize],
            flags: u16::from_le_bytes([self.mem[out as usize + 2], self.mem[out as usize + 3]]),
            rights_base: self.u64_at(out + 8),
            rights_inheriting: self.u64_at(out + 16),
        })
    }

    fn decode_filestat(&self, out: u32) -> Filestat {
        Filestat {
            dev: self.u64_at(out),
            ino: self.u64_at(out + 8),
            filetype: self.mem[out as usize + 16],
            nlink: self.u64_at(out + 24),
            size: self.u64_at(out + 32),
            atim: self.u64_at(out + 40),
            mtim: self.u64_at(out + 48),
            ctim: self.u64_at(out + 56),
        }
    }

    pub fn fd_filestat(&mut self, fd: u32) -> Result<Filestat, Errno> {
        let out = self.alloc(64);
        self.call("fd_filestat_get", &[fd.into(), out.into()])?;
        Ok(self.decode_filestat(out))
    }

    pub fn path_filestat(&mut self, follow: bool, path: &str) -> Result<Filestat, Errno> {
        let (pp, pl) = self.put(path.as_bytes());
        let out = self.alloc(64);
        self.call(
            "path_filestat_get",
            &[ROOT.into(), u64::from(follow), pp, pl, out.into()],
        )?;
        Ok(self.decode_filestat(out))
    }

    /// `fd_readdir` into a buffer of `buf_len`: (entries as (name, d_next,
    /// ino, type), bufused).
    pub fn readdir(
        &mut self,
        fd: u32,
        buf_len: u32,
        cookie: u64,
    ) -> Result<(Vec<Entry>, u32), Errno> {
        let buf = self.alloc(buf_len);
        let out = self.alloc(4);
        self.call(
            "fd_readdir",
            &[fd.into(), buf.into(), buf_len.into(), cookie, out.into()],
        )?;
        let used = self.u32_at(out);
        let mut entries = Vec::new();
        let mut at = 0usize;
        let raw = self.bytes(buf, used as usize);
        while at + 24 <= raw.len() {
            let d_next = u64::from_le_bytes(raw[at..at + 8].try_into().unwrap());
            let ino = u64::from_le_bytes(raw[at + 8..at + 16].try_into().unwrap());
            let namlen = u32::from_le_bytes(raw[at + 16..at + 20].try_into().unwrap()) as usize;
            let ty = raw[at + 20];
            if at + 24 + namlen > raw.len() {
                break;
            }
            let name = String::from_utf8(raw[at + 24..at + 24 + namlen].to_vec()).unwrap();
            entries.push((name, d_next, ino, ty));
            at += 24 + namlen;
        }
        Ok((entries, used))
    }
}

impl<F: FileSystem> Drop for Guest<F> {
    fn drop(&mut self) {
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
