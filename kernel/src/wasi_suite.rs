//! The wasi-testsuite inside the kernel: booted with `wasi.suite` in the
//! bootargs (test builds only), the kernel runs every test xtask packed
//! into the initrd under [`SUITES_DIR`]`/SUITE/` (`NAME.wasm`, an optional
//! `NAME.spec`, and the fixture directories the specs name) as an
//! ordinary process, with the host runner's rules (`crates/run`,
//! `testsuite.rs`):
//!
//! - xtask reads each test's `NAME.json` on the host (with
//!   `crates/wasi-testsuite-spec`, the parser the host runner uses too)
//!   and packs it as `NAME.spec`, a line format the
//!   kernel reads without a JSON parser ([`parse_spec`]). The legacy keys: `args` (argv\[1..\], argv\[0\] is `NAME.wasm`),
//!   `env` (exactly the guest environment), `root` (a fixture directory,
//!   relative to the test's, preopened as `/`), `exit_code` (default 0),
//!   `stdout`/`stderr` (expected prefixes of what the program wrote); the
//!   operation-based format is refused;
//! - the fixture is copied into a fresh directory of `/tmp` for every test
//!   (so what one test leaves behind, `*.cleanup` included, never reaches
//!   the next), its `*.cleanup` entries removed before the run, and the
//!   whole copy removed after it (a copy that cannot be removed fails the
//!   test: it would eat the `/tmp` quota);
//! - stdin is empty, stdout and stderr are captured ([`Capture`]), and a
//!   test still running after [`TEST_TIMEOUT`] is killed and failed.
//!
//! Each test is spawned with [`proc::spawn_in`], so epoch preemption, the
//! process quotas and the module cache apply as to any program. Prints
//! `PASS`/`FAIL NAME (T ms, spawn S ms)[: reason]` per test, then per suite
//! `wasi-testsuite[kernel] SUITE: P/T passed`, and last
//! `wasi: P passed, F failed`; exits QEMU with 0 only if all passed.
//!
//! Not here: packing the tests (xtask, `xtask/src/kernel/wasi.rs`), WASI
//! itself (`crates/wasi`, wired up in `proc/wasi.rs`).

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use hypha_vfs::{Vfs, VfsNode};
use hypha_wasi::types::Filetype;
use hypha_wasi::{Errno, FileSystem, OpenOptions, OutputStream, SharedFd};

use crate::proc::{self, ExitStatus};
use crate::sync::SpinLock;

mod spec;
use spec::{Spec, parse_spec};

/// Where xtask puts the suites (one directory each) in the initrd.
pub const SUITES_DIR: &str = "/wasi-tests";
/// Where each test's fixture copy is made.
const SCRATCH_PARENT: &str = "/tmp";
/// A test running longer than this (after it was compiled and started)
/// is killed and failed.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of stdout (and of stderr) kept per test; the rest is counted
/// but dropped.
const CAPTURE_LIMIT: usize = 256 << 10;
/// Characters of guest stderr shown with a failure.
const STDERR_SHOWN: usize = 400;

/// Runs every suite and exits QEMU (0 when every test passed).
pub fn run() -> ! {
    let code = match crate::sched::block_on(run_all()) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(why) => {
            crate::println!("wasi-testsuite: cannot run: {why}");
            crate::println!("wasi: 0 passed, 1 failed");
            2
        }
    };
    crate::drivers::sifive_test::exit(code)
}

async fn run_all() -> Result<bool, String> {
    let vfs = crate::fs::root();
    let suites_dir = vfs.resolve(SUITES_DIR).map_err(|e| format!("{SUITES_DIR}: {} (is this the wasi initrd?)", errno(e)))?;
    let mut suites: Vec<String> =
        vfs.readdir(&suites_dir).map_err(|e| format!("{SUITES_DIR}: {}", errno(e)))?.into_iter().filter(|e| e.filetype == Filetype::Directory).map(|e| e.name).collect();
    suites.sort();
    if suites.is_empty() {
        return Err(format!("{SUITES_DIR} holds no suite"));
    }
    let started = crate::time::uptime_us();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut total_spawn_us = 0;
    let mut lines = Vec::new();
    for suite in &suites {
        let dir = format!("{SUITES_DIR}/{suite}");
        let tests = discover(&vfs, &dir)?;
        let mut suite_passed = 0;
        for (index, name) in tests.iter().enumerate() {
            let test_started = crate::time::uptime_us();
            let mut spawn_us = 0;
            let verdict = run_test(&vfs, &dir, name, index, &mut spawn_us).await;
            let ms = (crate::time::uptime_us() - test_started) / 1000;
            let spawn_ms = spawn_us / 1000;
            match verdict {
                Ok(()) => {
                    suite_passed += 1;
                    crate::println!("PASS {name} ({ms} ms, spawn {spawn_ms} ms)");
                }
                Err(why) => {
                    crate::println!("FAIL {name} ({ms} ms, spawn {spawn_ms} ms): {why}");
                }
            }
            total_spawn_us += spawn_us;
        }
        passed += suite_passed;
        failed += tests.len() - suite_passed;
        lines.push(format!("wasi-testsuite[kernel] {suite}: {suite_passed}/{} passed", tests.len()));
    }
    for line in &lines {
        crate::println!("{line}");
    }
    crate::println!(
        "wasi-testsuite: finished in {} ms ({} ms of it spawning: compiling and instantiating)",
        (crate::time::uptime_us() - started) / 1000,
        total_spawn_us / 1000
    );
    crate::println!("wasi: {passed} passed, {failed} failed");
    Ok(failed == 0 && passed > 0)
}

/// The tests of one suite directory: every `NAME.wasm`, sorted.
fn discover(vfs: &Vfs, dir: &str) -> Result<Vec<String>, String> {
    let node = vfs.resolve(dir).map_err(|e| format!("{dir}: {}", errno(e)))?;
    let mut names: Vec<String> = vfs
        .readdir(&node)
        .map_err(|e| format!("{dir}: {}", errno(e)))?
        .into_iter()
        .filter(|e| e.filetype == Filetype::RegularFile)
        .filter_map(|e| e.name.strip_suffix(".wasm").filter(|stem| !stem.is_empty()).map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

// === one test ===

/// Runs test `name` of suite directory `dir`; `Err` says what differed.
/// `spawn_us` gets the time [`proc::spawn_in`] took (compiling the module
/// unless cached, instantiating it).
async fn run_test(vfs: &Vfs, dir: &str, name: &str, index: usize, spawn_us: &mut u64) -> Result<(), String> {
    let wasm_path = format!("{dir}/{name}.wasm");
    let bytes = vfs.read_file(&wasm_path).map_err(|e| format!("reading {wasm_path}: {}", errno(e)))?;
    let spec = match vfs.read_file(&format!("{dir}/{name}.spec")) {
        Ok(text) => {
            let text = core::str::from_utf8(&text).map_err(|_| format!("{name}.spec is not UTF-8"))?;
            parse_spec(text).map_err(|e| format!("{name}.spec: {e}"))?
        }
        Err(Errno::Noent) => Spec::default(),
        Err(e) => return Err(format!("reading {name}.spec: {}", errno(e))),
    };
    let scratch = match &spec.root {
        Some(root) => Some(Scratch::copy_of(vfs, &format!("{dir}/{root}"), index)?),
        None => None,
    };
    let outcome = run_program(&bytes, name, &spec, scratch.as_ref(), spawn_us).await;
    let removed = scratch.map_or(Ok(()), |s| s.remove(vfs));
    let seen = outcome?;
    removed?;
    check(&spec, &seen)
}

/// What the program did.
struct Observed {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

async fn run_program(bytes: &[u8], name: &str, spec: &Spec, scratch: Option<&Scratch>, spawn_us: &mut u64) -> Result<Observed, String> {
    let stdout = Capture::new();
    let stderr = Capture::new();
    let mut args = vec![format!("{name}.wasm")];
    args.extend(spec.args.iter().cloned());
    let request = proc::Spawn {
        name,
        bytes,
        sha256: None,
        args,
        env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        stdio: [None, Some(SharedFd::output(Box::new(stdout.clone()))), Some(SharedFd::output(Box::new(stderr.clone())))],
        parent: 0,
        limits: proc::Limits::default(),
        stopped: false,
        detached: false,
    };
    let preopen = match scratch {
        Some(scratch) => proc::wasi::Preopen::Dir { node: scratch.node, name: String::from("/") },
        None => proc::wasi::Preopen::Root,
    };
    let spawn_started = crate::time::uptime_us();
    let spawned = proc::spawn_in(request, preopen);
    *spawn_us = crate::time::uptime_us() - spawn_started;
    let pid = spawned.map_err(|e| format!("spawn: {e}"))?;
    let status = match crate::sched::timeout(TEST_TIMEOUT, proc::wait(0, pid)).await {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => return Err(format!("wait: {error:?}")),
        Err(_) => {
            // Killed at its next safe point; reap it so nothing stays behind.
            let _ = proc::kill(0, pid);
            let _ = proc::wait(0, pid).await;
            return Err(format!("timed out after {} s (killed)", TEST_TIMEOUT.as_secs()));
        }
    };
    Ok(Observed { status, stdout: stdout.contents(), stderr: stderr.contents() })
}

/// Compares what happened with `spec` (the host runner's rules).
fn check(spec: &Spec, seen: &Observed) -> Result<(), String> {
    let mut problems = Vec::new();
    match &seen.status {
        ExitStatus::Exited(code) if *code == u32::from_le_bytes(spec.exit_code.to_le_bytes()) => {}
        ExitStatus::Exited(code) => {
            problems.push(format!("exit code {}, expected {}", i32::from_le_bytes(code.to_le_bytes()), spec.exit_code));
        }
        ExitStatus::Trapped { code, message } => problems.push(format!("trapped (code {code}): {message}")),
        ExitStatus::Killed => problems.push(String::from("killed")),
    }
    for (stream, want, got) in [("stdout", &spec.stdout, &seen.stdout), ("stderr", &spec.stderr, &seen.stderr)] {
        if !got.starts_with(want.as_bytes()) {
            problems.push(format!("{stream} {:?} does not start with {want:?}", String::from_utf8_lossy(got)));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if !seen.stderr.is_empty() {
        let said: String = String::from_utf8_lossy(&seen.stderr).chars().take(STDERR_SHOWN).collect();
        problems.push(format!("guest stderr: {said:?}"));
    }
    Err(problems.join("; "))
}

fn errno(e: Errno) -> String {
    format!("errno {} ({e:?})", e.raw())
}

// === impl Capture ===

/// An output stream that keeps what is written (up to [`CAPTURE_LIMIT`]
/// bytes) for the runner to read after the process ended.
#[derive(Debug, Clone)]
struct Capture {
    bytes: Arc<SpinLock<Vec<u8>>>,
}

impl Capture {
    fn new() -> Self {
        Self { bytes: Arc::new(SpinLock::new(Vec::new())) }
    }

    fn contents(&self) -> Vec<u8> {
        self.bytes.lock().clone()
    }
}

impl OutputStream for Capture {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        let mut bytes = self.bytes.lock();
        let keep = buf.len().min(CAPTURE_LIMIT.saturating_sub(bytes.len()));
        bytes.try_reserve(keep).map_err(|_| Errno::Nomem)?;
        bytes.extend_from_slice(&buf[..keep]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Errno> {
        Ok(())
    }
}

// === impl Scratch ===

/// A test's writable copy of its fixture directory, under `/tmp`.
#[derive(Debug)]
struct Scratch {
    /// `/tmp` itself.
    parent: VfsNode,
    /// Its name there.
    name: String,
    /// The copy.
    node: VfsNode,
}

impl Scratch {
    /// Copies the tree at `fixture` into a fresh `/tmp/wasi-suite-INDEX`
    /// and removes the copy's `*.cleanup` entries.
    fn copy_of(vfs: &Vfs, fixture: &str, index: usize) -> Result<Self, String> {
        let source = match vfs.resolve_path(fixture, true) {
            Ok((node, Filetype::Directory)) => node,
            Ok(_) => return Err(format!("fixture {fixture} is not a directory")),
            Err(e) => return Err(format!("fixture {fixture}: {}", errno(e))),
        };
        let parent = vfs.resolve(SCRATCH_PARENT).map_err(|e| format!("{SCRATCH_PARENT}: {}", errno(e)))?;
        let name = format!("wasi-suite-{index}");
        // A leftover of an earlier run of this index (cannot happen within
        // one boot, but stay correct): start from nothing.
        if let Ok((_, ty)) = vfs.lookup(&parent, &name) {
            remove_entry(vfs, &parent, &name, ty).map_err(|e| format!("removing a stale {SCRATCH_PARENT}/{name}: {}", errno(e)))?;
        }
        vfs.create_dir(&parent, &name).map_err(|e| format!("creating {SCRATCH_PARENT}/{name}: {}", errno(e)))?;
        let (node, _) = vfs.lookup(&parent, &name).map_err(|e| format!("{SCRATCH_PARENT}/{name}: {}", errno(e)))?;
        let scratch = Scratch { parent, name, node };
        let copied = copy_tree(vfs, &source, &scratch.node).and_then(|()| remove_cleanup(vfs, &scratch.node));
        if let Err(e) = copied {
            let _ = scratch.remove(vfs);
            return Err(format!("copying the fixture {fixture}: {}", errno(e)));
        }
        Ok(scratch)
    }

    /// Removes the copy and everything the test left in it.
    fn remove(self, vfs: &Vfs) -> Result<(), String> {
        remove_entry(vfs, &self.parent, &self.name, Filetype::Directory)
            .map_err(|e| format!("removing {SCRATCH_PARENT}/{}: {}", self.name, errno(e)))
    }
}

/// Copies the contents of directory `from` into directory `to`:
/// directories, regular files and symlinks (as symlinks).
fn copy_tree(vfs: &Vfs, from: &VfsNode, to: &VfsNode) -> Result<(), Errno> {
    for entry in vfs.readdir(from)? {
        let (source, ty) = vfs.lookup(from, &entry.name)?;
        match ty {
            Filetype::Directory => {
                vfs.create_dir(to, &entry.name)?;
                let (target, _) = vfs.lookup(to, &entry.name)?;
                copy_tree(vfs, &source, &target)?;
            }
            Filetype::SymbolicLink => vfs.symlink(to, &entry.name, &vfs.readlink(&source)?)?,
            Filetype::RegularFile => copy_file(vfs, &source, to, &entry.name)?,
            _ => return Err(Errno::Notsup),
        }
    }
    Ok(())
}

fn copy_file(vfs: &Vfs, source: &VfsNode, dir: &VfsNode, name: &str) -> Result<(), Errno> {
    let mut input = vfs.open(source, OpenOptions { read: true, ..OpenOptions::default() })?;
    let (_, mut output) = vfs.create(dir, name, true, OpenOptions { write: true, ..OpenOptions::default() })?;
    let result = copy_contents(vfs, &mut input, &mut output);
    vfs.close(input);
    vfs.close(output);
    result
}

fn copy_contents(vfs: &Vfs, input: &mut hypha_vfs::VfsFile, output: &mut hypha_vfs::VfsFile) -> Result<(), Errno> {
    let mut buf = vec![0u8; 16 << 10];
    let mut offset = 0u64;
    loop {
        let n = vfs.read_at(input, &mut buf, offset)?;
        if n == 0 {
            return Ok(());
        }
        let mut written = 0;
        while written < n {
            match vfs.write_at(output, &buf[written..n], offset + len64(written))? {
                0 => return Err(Errno::Io),
                w => written += w,
            }
        }
        offset += len64(n);
    }
}

/// Removes every `*.cleanup` entry under `dir` (whole trees for
/// directories), never following symlinks.
fn remove_cleanup(vfs: &Vfs, dir: &VfsNode) -> Result<(), Errno> {
    for entry in vfs.readdir(dir)? {
        let (node, ty) = vfs.lookup(dir, &entry.name)?;
        if entry.name.ends_with(".cleanup") {
            remove_entry(vfs, dir, &entry.name, ty)?;
        } else if ty == Filetype::Directory {
            remove_cleanup(vfs, &node)?;
        }
    }
    Ok(())
}

/// Removes `dir/name`, a whole tree if it is a directory (symlinks are
/// removed, not followed).
fn remove_entry(vfs: &Vfs, dir: &VfsNode, name: &str, ty: Filetype) -> Result<(), Errno> {
    if ty != Filetype::Directory {
        return vfs.unlink(dir, name);
    }
    let (node, _) = vfs.lookup(dir, name)?;
    for entry in vfs.readdir(&node)? {
        let (_, child_ty) = vfs.lookup(&node, &entry.name)?;
        remove_entry(vfs, &node, &entry.name, child_ty)?;
    }
    vfs.remove_dir(dir, name)
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
