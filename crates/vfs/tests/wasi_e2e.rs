//! End to end: real WebAssembly programs (WAT) run by hypha-wasm with
//! WASI (hypha-wasm-wasi) over a `WasiCtx<Vfs>`: a tar root, `/tmp`,
//! `/dev` and `/proc`, opened, read, written and listed across mounts.

mod common;

use common::{BIG, world};
use hypha_vfs::Vfs;
use hypha_wasi::host::{HostClock, HostRandom, MemoryOutput};
use hypha_wasi::types::{Errno, rights};
use hypha_wasi::{FileSystem, OpenOptions, WasiCtx};
use hypha_wasm::{Config, Engine, Linker, Module, Store};

fn ctx(vfs: &Vfs) -> (WasiCtx<Vfs>, MemoryOutput, MemoryOutput) {
    let mut ctx = WasiCtx::new(vfs.clone(), Box::new(HostClock::new()), Box::new(HostRandom::default()));
    assert_eq!(ctx.preopen_root(vfs.root(), "/").unwrap(), 3);
    let out = MemoryOutput::new();
    let err = MemoryOutput::new();
    ctx.set_stdout(Box::new(out.clone()));
    ctx.set_stderr(Box::new(err.clone()));
    (ctx, out, err)
}

/// Runs `wat` to completion, returning its exit status.
fn run(wat: &str, ctx: WasiCtx<Vfs>) -> i32 {
    let engine = Engine::host(Config::default()).unwrap();
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut linker = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx<Vfs>| c);
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    hypha_wasm_wasi::run_command(&mut store, instance).unwrap()
}

/// WAT helpers shared by the programs: `$open`, `$cat`, `$puts`, `$check`.
/// A failing call exits with `100 + errno` so the test names the errno.
fn program(body: &str, data: &str) -> String {
    let rd = rights::FD_READ | rights::FD_SEEK | rights::FD_TELL | rights::FD_FILESTAT_GET | rights::FD_READDIR;
    let wr = rd | rights::FD_WRITE;
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  {data}
  (func $check (param $e i32)
    (if (local.get $e) (then (call $exit (i32.add (i32.const 100) (local.get $e))))))
  ;; open path (ptr,len) under the preopen with oflags; $w: 1 = writable
  (func $open (param $p i32) (param $l i32) (param $oflags i32) (param $w i32) (result i32)
    (call $check (call $path_open (i32.const 3) (i32.const 1) (local.get $p) (local.get $l)
      (local.get $oflags)
      (if (result i64) (local.get $w) (then (i64.const {wr})) (else (i64.const {rd})))
      (i64.const 0) (i32.const 0) (i32.const 0x24)))
    (i32.load (i32.const 0x24)))
  ;; write (ptr,len) to fd
  (func $puts (param $fd i32) (param $p i32) (param $l i32)
    (i32.store (i32.const 0x10) (local.get $p))
    (i32.store (i32.const 0x14) (local.get $l))
    (call $check (call $fd_write (local.get $fd) (i32.const 0x10) (i32.const 1) (i32.const 0x20))))
  ;; copy fd to stdout until end of file
  (func $cat (param $fd i32)
    (loop $more
      (i32.store (i32.const 0x10) (i32.const 0x1000))
      (i32.store (i32.const 0x14) (i32.const 7))
      (call $check (call $fd_read (local.get $fd) (i32.const 0x10) (i32.const 1) (i32.const 0x20)))
      (if (i32.load (i32.const 0x20)) (then
        (call $puts (i32.const 1) (i32.const 0x1000) (i32.load (i32.const 0x20)))
        (br $more)))))
  (func (export "_start") (local $fd i32)
    {body}))"#
    )
}

#[test]
fn a_program_reads_writes_and_lists_across_mounts() {
    let w = world(BIG);
    let (ctx, out, err) = ctx(&w.vfs);
    let data = r#"
  (data (i32.const 0x100) "etc/greeting")
  (data (i32.const 0x120) "tmp/out")
  (data (i32.const 0x140) "hello tmp\n")
  (data (i32.const 0x160) "tmp/../etc/../tmp/out")
  (data (i32.const 0x180) "dev/console")
  (data (i32.const 0x1a0) "console!")
  (data (i32.const 0x1c0) "proc/uptime")
  (data (i32.const 0x1e0) "etc/out")
  (data (i32.const 0x200) "proc/7/status")
  (data (i32.const 0x220) "etc/abs")"#;
    let body = r#"
    ;; a symlink in the initrd
    (local.set $fd (call $open (i32.const 0x100) (i32.const 12) (i32.const 0) (i32.const 0)))
    (call $cat (local.get $fd))
    (call $check (call $fd_close (local.get $fd)))
    ;; an absolute symlink, followed from the root preopen
    (call $cat (call $open (i32.const 0x220) (i32.const 7) (i32.const 0) (i32.const 0)))
    ;; create and write in /tmp
    (local.set $fd (call $open (i32.const 0x120) (i32.const 7) (i32.const 1) (i32.const 1)))
    (call $puts (local.get $fd) (i32.const 0x140) (i32.const 10))
    (call $check (call $fd_close (local.get $fd)))
    ;; read it back through .. across two mount boundaries
    (local.set $fd (call $open (i32.const 0x160) (i32.const 21) (i32.const 0) (i32.const 0)))
    (call $cat (local.get $fd))
    ;; the console device
    (local.set $fd (call $open (i32.const 0x180) (i32.const 11) (i32.const 0) (i32.const 1)))
    (call $puts (local.get $fd) (i32.const 0x1a0) (i32.const 8))
    ;; procfs
    (local.set $fd (call $open (i32.const 0x1c0) (i32.const 11) (i32.const 0) (i32.const 0)))
    (call $cat (local.get $fd))
    (local.set $fd (call $open (i32.const 0x200) (i32.const 13) (i32.const 0) (i32.const 0)))
    (call $cat (local.get $fd))
    ;; rename across mounts is xdev (75)
    (if (i32.ne (call $path_rename (i32.const 3) (i32.const 0x120) (i32.const 7)
                                   (i32.const 3) (i32.const 0x1e0) (i32.const 7)) (i32.const 75))
      (then (call $exit (i32.const 1))))
    ;; writing into the initrd is rofs (69)
    (if (i32.ne (call $path_open (i32.const 3) (i32.const 1) (i32.const 0x1e0) (i32.const 7)
                  (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 0x24)) (i32.const 69))
      (then (call $exit (i32.const 2))))
    ;; list / into stderr (raw dirents)
    (call $check (call $fd_readdir (i32.const 3) (i32.const 0x2000) (i32.const 4096) (i64.const 0) (i32.const 0x20)))
    (call $puts (i32.const 2) (i32.const 0x2000) (i32.load (i32.const 0x20)))"#;
    let status = run(&program(body, data), ctx);
    assert_eq!(status, 0, "exit status (100 + errno on a failed call)");
    assert_eq!(
        String::from_utf8(out.contents()).unwrap(),
        "welcome to hypha\nwelcome to hypha\nhello tmp\n12.34\nName:\tcat\nState:\tR (running)\nPid:\t7\nPPid:\t1\nMemory:\t2048 kB\nCommitted:\t256 kB\nCpuTimeNs:\t1500000\nStartNs:\t84000000\n"
    );
    assert_eq!(*w.console.output.lock().unwrap(), b"console!");
    assert_eq!(w.vfs.read_file("/tmp/out").unwrap(), b"hello tmp\n");
    // Parse the dirents: 24-byte header (next, ino, namlen u32, type u8) + name.
    let raw = err.contents();
    let mut names = Vec::new();
    let mut at = 0;
    while at + 24 <= raw.len() {
        let len = u32::from_le_bytes(raw[at + 16..at + 20].try_into().unwrap()) as usize;
        names.push(String::from_utf8(raw[at + 24..at + 24 + len].to_vec()).unwrap());
        at += 24 + len;
    }
    assert_eq!(names, [".", "..", "bin", "dev", "etc", "proc", "tmp"]);
}

#[test]
fn quota_errors_reach_the_program() {
    let w = world(hypha_vfs::Quota { bytes: 8, inodes: 16 });
    let (ctx, _, _) = ctx(&w.vfs);
    let data = r#"
  (data (i32.const 0x120) "tmp/big")
  (data (i32.const 0x140) "0123456789")"#;
    let body = r#"
    (local.set $fd (call $open (i32.const 0x120) (i32.const 7) (i32.const 1) (i32.const 1)))
    (call $puts (local.get $fd) (i32.const 0x140) (i32.const 4))
    (call $puts (local.get $fd) (i32.const 0x140) (i32.const 10))"#;
    let nospc = 100 + i32::from(Errno::Nospc as u16);
    assert_eq!(run(&program(body, data), ctx), nospc);
    assert_eq!(w.vfs.read_file("/tmp/big").unwrap(), b"0123", "nothing written is lost");
}

#[test]
fn a_child_shares_the_parents_open_file_as_stdin() {
    let w = world(BIG);
    let tmp = w.vfs.resolve("/tmp").unwrap();
    let rw = OpenOptions {
        read: true,
        write: true,
        truncate: false,
    };
    let (_, mut f) = w.vfs.create(&tmp, "input", true, rw).unwrap();
    w.vfs.write_at(&mut f, b"first line\nsecond line\n", 0).unwrap();
    w.vfs.close(f);

    // The "parent" opens the file and reads the first 6 bytes.
    let (mut parent, _, _) = ctx(&w.vfs);
    let mut mem = vec![0u8; 4096];
    let path = b"tmp/input";
    mem[0x100..0x100 + path.len()].copy_from_slice(path);
    let rd = rights::FD_READ | rights::FD_SEEK | rights::FD_TELL;
    let args = [3, 1, 0x100, path.len() as u64, 0, rd, 0, 0, 0x24];
    assert_eq!(hypha_wasi::call(&mut parent, &mut mem, "path_open", &args), Ok(0));
    let fd = u32::from_le_bytes(mem[0x24..0x28].try_into().unwrap());
    mem[0x10..0x14].copy_from_slice(&0x200u32.to_le_bytes());
    mem[0x14..0x18].copy_from_slice(&6u32.to_le_bytes());
    assert_eq!(hypha_wasi::call(&mut parent, &mut mem, "fd_read", &[u64::from(fd), 0x10, 1, 0x20]), Ok(0));
    assert_eq!(&mem[0x200..0x206], b"first ");

    // The "child": a separate context over a clone of the VFS, with the
    // parent's description as fd 0; it copies stdin to stdout.
    let (mut child, out, _) = ctx(&w.vfs);
    child.install_shared(0, parent.share_fd(fd).unwrap()).unwrap();
    let body = r#"(call $cat (i32.const 0))"#;
    assert_eq!(run(&program(body, ""), child), 0);
    assert_eq!(out.contents(), b"line\nsecond line\n", "continues at the parent's offset");

    // The child is gone; the parent's fd still works and sees the offset
    // the child left: end of file.
    assert_eq!(hypha_wasi::call(&mut parent, &mut mem, "fd_read", &[u64::from(fd), 0x10, 1, 0x20]), Ok(0));
    assert_eq!(u32::from_le_bytes(mem[0x20..0x24].try_into().unwrap()), 0);
}

#[test]
fn contexts_on_two_threads_share_one_offset() {
    let w = world(BIG);
    // 400 distinct 10-byte chunks: chunk k starts with k (u32 LE).
    let data: Vec<u8> = (0..400u32)
        .flat_map(|k| {
            let mut c = k.to_le_bytes().to_vec();
            c.extend_from_slice(&[0xAB; 6]);
            c
        })
        .collect();
    let tmp = w.vfs.resolve("/tmp").unwrap();
    let rw = OpenOptions {
        read: true,
        write: true,
        truncate: false,
    };
    let (_, mut f) = w.vfs.create(&tmp, "shared", true, rw).unwrap();
    w.vfs.write_at(&mut f, &data, 0).unwrap();
    w.vfs.close(f);

    let (mut a, _, _) = ctx(&w.vfs);
    let mut mem = vec![0u8; 4096];
    mem[0x100..0x10b].copy_from_slice(b"tmp/shared\0");
    let rd = rights::FD_READ | rights::FD_SEEK | rights::FD_TELL;
    let args = [3, 1, 0x100, 10, 0, rd, 0, 0, 0x24];
    assert_eq!(hypha_wasi::call(&mut a, &mut mem, "path_open", &args), Ok(0));
    let fd = u32::from_le_bytes(mem[0x24..0x28].try_into().unwrap());
    let (mut b, _, _) = ctx(&w.vfs);
    b.install_shared(fd, a.share_fd(fd).unwrap()).unwrap();

    // Both read 10-byte chunks until EOF; each chunk is read exactly once.
    let reader = |mut c: WasiCtx<Vfs>| {
        std::thread::spawn(move || {
            let mut mem = vec![0u8; 256];
            mem[0..4].copy_from_slice(&64u32.to_le_bytes());
            mem[4..8].copy_from_slice(&10u32.to_le_bytes());
            let mut chunks = Vec::new();
            loop {
                assert_eq!(hypha_wasi::call(&mut c, &mut mem, "fd_read", &[u64::from(fd), 0, 1, 16]), Ok(0));
                let n = u32::from_le_bytes(mem[16..20].try_into().unwrap()) as usize;
                if n == 0 {
                    return chunks;
                }
                chunks.push(mem[64..64 + n].to_vec());
            }
        })
    };
    let ta = reader(a);
    let tb = reader(b);
    let mut all = ta.join().unwrap();
    all.extend(tb.join().unwrap());
    assert_eq!(all.len(), 400, "4000 bytes in 10-byte reads, none twice");
    all.sort_by_key(|c| u32::from_le_bytes(c[..4].try_into().unwrap()));
    let got: Vec<u8> = all.concat();
    assert!(got == data, "the two readers together read the file exactly once");
}
