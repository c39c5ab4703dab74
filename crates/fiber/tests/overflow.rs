//! Stack overflow inside a fiber hits its guard page.
//!
//! Each test re-executes this test binary for itself with an environment
//! variable set; the child overflows a fiber stack and the parent checks how
//! it died.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use hypha_fiber::{Fiber, FiberStack, Suspend};

const CHILD_ENV: &str = "HYPHA_FIBER_OVERFLOW_CHILD";
/// Exit code of the child when its SIGSEGV handler saw a fault in the guard.
const GUARD_HIT: i32 = 42;
/// Exit code of the child when the fault was somewhere else.
const OTHER_FAULT: i32 = 43;

/// Recurses without bound; the array keeps each frame big and the
/// `black_box` keeps the recursion from being turned into a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[usize::try_from(depth % 64).unwrap_or(0)]
}

fn overflow_in_a_fiber() {
    let mut fiber = Fiber::new(FiberStack::new(64 * 1024).unwrap(), |(), _: &Suspend<(), (), u64>| {
        recurse(0)
    })
    .unwrap();
    let _ = fiber.resume(());
    // Not reached: the fiber faults.
    std::process::exit(0);
}

/// Cargo's runner for a cross-compiled test binary (e.g. `qemu-riscv64 -L
/// /usr/riscv64-linux-gnu`); the child must be started through it too, as
/// the host cannot exec the binary itself.
const RUNNER_ENV: Option<&str> = if cfg!(target_arch = "riscv64") {
    Some("CARGO_TARGET_RISCV64GC_UNKNOWN_LINUX_GNU_RUNNER")
} else {
    None
};

/// Runs this very test in a child process and returns its exit status.
fn run_child(test: &str, mode: &str) -> std::process::ExitStatus {
    let exe = std::env::current_exe().unwrap();
    let runner = RUNNER_ENV.and_then(|name| std::env::var(name).ok()).unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut command = match runner.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(runner).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let out = command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .output()
        .unwrap();
    eprintln!("child stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out.status
}

#[test]
fn overflow_dies_with_sigsegv() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("plain") {
        overflow_in_a_fiber();
        return;
    }
    let status = run_child("overflow_dies_with_sigsegv", "plain");
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "child status: {status:?}");
}

extern "C" fn on_segv(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let info = unsafe { &*info };
    // SAFETY: for SIGSEGV the kernel fills in `si_addr`.
    let addr = unsafe { info.si_addr() }.addr();
    let (code, msg): (i32, &[u8]) = if hypha_fiber::is_guard_address(addr) {
        (GUARD_HIT, b"fault in the fiber guard page\n")
    } else {
        (OTHER_FAULT, b"fault outside the fiber guard page\n")
    };
    // SAFETY: write(2) and _exit(2) are async-signal-safe; `msg` is a static buffer.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    // SAFETY: as above.
    unsafe { libc::_exit(code) };
}

fn install_guard_handler() {
    const ALT_STACK: usize = 64 * 1024;
    let alt = Box::leak(vec![0_u8; ALT_STACK].into_boxed_slice());
    let ss = libc::stack_t {
        ss_sp: alt.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: ALT_STACK,
    };
    // SAFETY: `alt` is leaked, so the alternate stack outlives the thread.
    let rc = unsafe { libc::sigaltstack(&raw const ss, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
    // SAFETY: an all-zero sigaction is a valid starting point.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_segv as *const () as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: installs an async-signal-safe handler for SIGSEGV.
    let rc = unsafe { libc::sigaction(libc::SIGSEGV, &raw const action, std::ptr::null_mut()) };
    assert_eq!(rc, 0);
}

#[test]
fn overflow_fault_address_is_in_the_guard_page() {
    if std::env::var(CHILD_ENV).as_deref() == Ok("handler") {
        install_guard_handler();
        overflow_in_a_fiber();
        return;
    }
    let status = run_child("overflow_fault_address_is_in_the_guard_page", "handler");
    assert_eq!(status.code(), Some(GUARD_HIT), "child status: {status:?}");
}
