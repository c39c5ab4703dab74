//! Runs the `hypha-run` binary on small WASI programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("hypha-run-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }

    fn module(&self, wat: &str) -> PathBuf {
        let p = self.0.join("m.wasm");
        std::fs::write(&p, wat::parse_str(wat).unwrap()).unwrap();
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hypha_run(args: &[&str], module: Option<&Path>, after: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hypha-run"));
    c.args(args);
    if let Some(m) = module {
        c.arg(m);
    }
    c.args(after);
    c.output().unwrap()
}

/// Prints argv[1..] and the value of env `K` to stdout, then exits with argc.
const ECHO: &str = r#"(module
    (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "args_get" (func $aget (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (drop (call $asz (i32.const 0) (i32.const 4)))
      (drop (call $aget (i32.const 100) (i32.const 1000)))
      ;; write argv[1] (first 3 bytes) to stdout
      (i32.store (i32.const 16) (i32.load (i32.const 104)))
      (i32.store (i32.const 20) (i32.const 3))
      (drop (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 32)))
      (call $exit (i32.load (i32.const 0)))))"#;

#[test]
fn runs_a_command_with_args_and_exit_status() {
    let s = Scratch::new("echo");
    let m = s.module(ECHO);
    let out = hypha_run(&[], Some(&m), &["abc", "x"]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"abc");
}

#[test]
fn preopened_dir_is_visible_under_its_guest_name() {
    let s = Scratch::new("dir");
    let data = s.0.join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("f"), b"xyz").unwrap();
    // Open "f" in fd 3, read it, write it to stdout.
    let m = s.module(
        r#"(module
        (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "f")
        (func (export "_start")
          (local $e i32)
          (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 1)
              (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 0)))
          (if (local.get $e) (then (call $exit (local.get $e))))
          (i32.store (i32.const 16) (i32.const 200))
          (i32.store (i32.const 20) (i32.const 10))
          (drop (call $r (i32.load (i32.const 0)) (i32.const 16) (i32.const 1) (i32.const 24)))
          (i32.store (i32.const 20) (i32.load (i32.const 24)))
          (drop (call $w (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))))"#,
    );
    let dir_arg = format!("{}::/sandbox", data.display());
    let out = hypha_run(&["--dir", &dir_arg], Some(&m), &[]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"xyz");
    // Without the preopen, fd 3 is not there: EBADF (8).
    let out = hypha_run(&[], Some(&m), &[]);
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn trap_prints_backtrace_and_exits_134() {
    let s = Scratch::new("trap");
    let m = s.module(
        r#"(module (memory (export "memory") 1)
        (func $inner (unreachable))
        (func (export "_start") (call $inner)))"#,
    );
    let out = hypha_run(&[], Some(&m), &[]);
    assert_eq!(out.status.code(), Some(134));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wasm trap: unreachable"), "{err}");
    assert!(err.contains("<inner>") || err.contains("func[0]"), "{err}");
}

#[test]
fn fuel_stops_an_infinite_loop() {
    let s = Scratch::new("fuel");
    let m = s.module(r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#);
    let out = hypha_run(&["--fuel", "100000"], Some(&m), &[]);
    assert_eq!(out.status.code(), Some(134), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fuel"));
}

#[test]
fn env_is_passed() {
    let s = Scratch::new("env");
    let m = s.module(
        r#"(module
        (import "wasi_snapshot_preview1" "environ_sizes_get" (func $esz (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (drop (call $esz (i32.const 0) (i32.const 4))) (call $exit (i32.load (i32.const 0)))))"#,
    );
    let out = hypha_run(&["--env", "A=1", "--env=B=2"], Some(&m), &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn usage_and_load_errors() {
    let out = hypha_run(&["--bogus"], None, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option"));
    let out = hypha_run(&[], Some(Path::new("/nonexistent/x.wasm")), &[]);
    assert_eq!(out.status.code(), Some(1));
    let s = Scratch::new("bad");
    let bad = s.0.join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x05").unwrap();
    let out = hypha_run(&[], Some(&bad), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid module"));
    let no_start = s.module("(module)");
    let out = hypha_run(&[], Some(&no_start), &[]);
    assert_eq!(out.status.code(), Some(1));
}
