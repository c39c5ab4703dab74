//! A standard tree for the tests: a tar root, `/tmp`, `/dev`, `/proc`
//! with fakes for the kernel's console, randomness and process table.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::sync::{Arc, Mutex};

use hypha_vfs::{
    CharDevice, DevFs, MemInfo, ProcFs, ProcInfo, ProcSource, ProcState, Quota, TarBuilder,
    TarFs, TmpFs, Vfs,
};
use hypha_wasi::Random;
use hypha_wasi::types::Errno;

/// A console that records what is written and serves scripted input.
#[derive(Debug, Default)]
pub struct FakeConsole {
    pub output: Mutex<Vec<u8>>,
    pub input: Mutex<Vec<u8>>,
}

impl CharDevice for FakeConsole {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut input = self.input.lock().unwrap();
        if input.is_empty() {
            return Err(Errno::Again);
        }
        let n = buf.len().min(input.len());
        buf[..n].copy_from_slice(&input[..n]);
        input.drain(..n);
        Ok(n)
    }
    fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.output.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
}

/// Deterministic "random" bytes: 1, 2, 3, …
#[derive(Debug, Default)]
pub struct CountingRandom(u8);

impl Random for CountingRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Errno> {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

/// A process table the test edits.
#[derive(Debug, Default)]
pub struct FakeProcs {
    pub procs: Mutex<Vec<ProcInfo>>,
    pub mem: MemInfo,
    pub uptime: u64,
}

impl ProcSource for FakeProcs {
    fn processes(&self) -> Vec<ProcInfo> {
        self.procs.lock().unwrap().clone()
    }
    fn meminfo(&self) -> MemInfo {
        self.mem
    }
    fn uptime_ns(&self) -> u64 {
        self.uptime
    }
}

pub fn proc_info(pid: u32, parent: u32, name: &str, state: ProcState) -> ProcInfo {
    ProcInfo {
        pid,
        parent,
        name: name.to_string(),
        state,
        memory_bytes: 2 << 20,
        committed_bytes: 256 << 10,
        cpu_time_ns: 1_500_000,
        start_ns: 84_000_000,
    }
}

pub struct World {
    pub vfs: Vfs,
    pub tmp: TmpFs,
    pub console: Arc<FakeConsole>,
    pub procs: Arc<FakeProcs>,
}

pub fn initrd() -> Vec<u8> {
    TarBuilder::new()
        .dir("bin", 0o755)
        .file("bin/hello", 0o755, b"hello program")
        .file("etc/motd", 0o644, b"welcome to hypha\n")
        .symlink("etc/greeting", "motd")
        .symlink("etc/abs", "/etc/motd")
        .symlink("etc/tmplink", "../tmp")
        .dir("tmp", 0o1777)
        .file("tmp/hidden", 0o644, b"covered by the mount")
        .finish()
}

pub fn world(quota: Quota) -> World {
    let vfs = Vfs::new(Arc::new(TarFs::new(initrd()).unwrap()));
    let tmp = TmpFs::new(Box::new(|| 1_000), quota);
    vfs.mount("/tmp", Arc::new(tmp.clone())).unwrap();
    let console = Arc::new(FakeConsole::default());
    let dev = DevFs::new(Box::new(CountingRandom::default()), console.clone(), 7);
    vfs.mount("/dev", Arc::new(dev)).unwrap();
    let procs = Arc::new(FakeProcs {
        procs: Mutex::new(vec![
            proc_info(1, 0, "sh", ProcState::Blocked),
            proc_info(7, 1, "cat", ProcState::Running),
        ]),
        mem: MemInfo {
            total_bytes: 512 << 20,
            free_bytes: 400 << 20,
            kernel_bytes: 64 << 20,
            user_bytes: 48 << 20,
        },
        uptime: 12_345_678_901,
    });
    vfs.mount("/proc", Arc::new(ProcFs::new(procs.clone()))).unwrap();
    World {
        vfs,
        tmp,
        console,
        procs,
    }
}

pub const BIG: Quota = Quota {
    bytes: 1 << 20,
    inodes: 1024,
};
