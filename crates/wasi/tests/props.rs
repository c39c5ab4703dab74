//! Property tests: no import panics on arbitrary arguments and memory, and
//! no path, however built, reaches outside the directory it is resolved
//! against.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hypha_wasi::host::{HostRandom, MemoryInput, MemoryOutput};
use hypha_wasi::memfs::MemFs;
use hypha_wasi::types::{ClockId, Errno, rights};
use hypha_wasi::{CallError, Clock, FileSystem, IMPORTS, WasiCtx, call};
use proptest::prelude::*;

/// A virtual clock: `sleep` advances time instantly, so `poll_oneoff` with
/// any timeout finishes at once.
#[derive(Debug, Clone, Default)]
struct FakeClock(Arc<AtomicU64>);

impl Clock for FakeClock {
    fn now(&self, id: ClockId) -> Result<u64, Errno> {
        match id {
            ClockId::Realtime | ClockId::Monotonic => Ok(self.0.load(Ordering::Relaxed)),
            _ => Err(Errno::Notsup),
        }
    }
    fn resolution(&self, _id: ClockId) -> Result<u64, Errno> {
        Ok(1)
    }
    fn sleep(&self, nanos: u64) {
        let now = self.0.load(Ordering::Relaxed);
        self.0
            .store(now.saturating_add(nanos.max(1)), Ordering::Relaxed);
    }
}

/// A MemFs whose preopen is `/sandbox`, with `/secret` beside it and a few
/// entries (including symlinks that point up and out) inside.
fn sandboxed() -> (WasiCtx<MemFs>, u64) {
    let fs = MemFs::new(Box::new(|| 1_000));
    let root = fs.root();
    fs.create_dir(&root, "sandbox").unwrap();
    let (secret, _) = fs
        .create(&root, "secret", true, hypha_wasi::OpenOptions::default())
        .unwrap();
    let (sb, _) = fs.lookup(&root, "sandbox").unwrap();
    fs.create_dir(&sb, "a").unwrap();
    let (a, _) = fs.lookup(&sb, "a").unwrap();
    fs.create_dir(&a, "b").unwrap();
    fs.create(&a, "file", true, hypha_wasi::OpenOptions::default())
        .unwrap();
    fs.symlink(&sb, "up", "..").unwrap();
    fs.symlink(&a, "upup", "../..").unwrap();
    fs.symlink(&a, "to_secret", "../../secret").unwrap();
    fs.symlink(&sb, "inside", "a/b").unwrap();
    fs.symlink(&sb, "loop", "loop").unwrap();
    let mut ctx = WasiCtx::new(
        fs,
        Box::new(FakeClock::default()),
        Box::new(HostRandom::default()),
    );
    ctx.preopen_dir(sb, "/").unwrap();
    ctx.set_stdin(Box::new(MemoryInput::new(b"input".to_vec())));
    ctx.set_stdout(Box::new(MemoryOutput::new()));
    ctx.set_stderr(Box::new(MemoryOutput::new()));
    (ctx, secret)
}

fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "file",
        "..",
        ".",
        "",
        "up",
        "upup",
        "to_secret",
        "inside",
        "loop",
        "secret",
        "sandbox",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn paths_never_escape(parts in prop::collection::vec(component(), 1..8), lead in any::<bool>(), follow in any::<bool>()) {
        let (mut ctx, secret) = sandboxed();
        let mut path = parts.join("/");
        if lead {
            path.insert(0, '/');
        }
        let mut mem = vec![0u8; 4096];
        mem[100..100 + path.len()].copy_from_slice(path.as_bytes());
        let len = u64::try_from(path.len()).unwrap();
        let r = call(&mut ctx, &mut mem, "path_open", &[3, u64::from(follow), 100, len, 0, rights::FD_FILESTAT_GET, 0, 0, 0]).unwrap();
        if r == 0 {
            let fd = u32::from_le_bytes(mem[0..4].try_into().unwrap());
            let r = call(&mut ctx, &mut mem, "fd_filestat_get", &[u64::from(fd), 200]).unwrap();
            prop_assert_eq!(r, 0);
            let ino = u64::from_le_bytes(mem[208..216].try_into().unwrap());
            prop_assert_ne!(ino, secret, "opened the secret via {}", path);
            prop_assert_ne!(ino, ctx.fs().root(), "opened the fs root via {}", path);
        }
        // Creating through the same path never lands outside either.
        let r = call(&mut ctx, &mut mem, "path_create_directory", &[3, 100, len]).unwrap();
        let root = ctx.fs().root();
        let outside: Vec<_> = ctx.fs().readdir(&root).unwrap().into_iter().map(|e| e.name).collect();
        prop_assert_eq!(outside, vec!["sandbox".to_string(), "secret".to_string()], "{} -> {}", path, r);
    }

    #[test]
    fn no_import_panics(
        which in 0..IMPORTS.len(),
        args in prop::collection::vec(prop_oneof![0u64..5000, any::<u64>(), Just(3u64), Just(u64::from(u32::MAX))], 9),
        junk in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let (mut ctx, _) = sandboxed();
        let mut mem = vec![0u8; 4096];
        mem[64..64 + junk.len()].copy_from_slice(&junk);
        let sig = &IMPORTS[which];
        let args = &args[..sig.params.len()];
        match call(&mut ctx, &mut mem, sig.name, args) {
            Ok(errno) => prop_assert!(Errno::from_raw(u16::try_from(errno).unwrap()).is_some()),
            Err(CallError::Exit(_)) => prop_assert_eq!(sig.name, "proc_exit"),
            Err(e) => prop_assert!(false, "{}: {:?}", sig.name, e),
        }
        // The context stays usable.
        prop_assert!(call(&mut ctx, &mut mem, "fd_fdstat_get", &[1, 0]).is_ok());
    }
}

#[test]
fn fake_clock_poll_with_huge_timeout_finishes() {
    let (mut ctx, _) = sandboxed();
    let mut mem = vec![0u8; 4096];
    // One relative monotonic clock subscription of u64::MAX ns.
    mem[8] = 0;
    mem[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    let r = call(&mut ctx, &mut mem, "poll_oneoff", &[0, 1024, 1, 2048]).unwrap();
    assert_eq!(r, 0);
    assert_eq!(u32::from_le_bytes(mem[2048..2052].try_into().unwrap()), 1);
}
