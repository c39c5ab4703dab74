//! Guest-side bindings of Hypha's `hypha` import module.
//!
//! What it is: safe Rust wrappers over the imports Hypha adds to WASI
//! preview 1 — process management ([`Spawn`], [`wait`], [`kill`], [`getpid`],
//! [`ps`]), kernel pipes ([`pipe`]), scheduling ([`yield_now`], [`sleep`]) and
//! system information ([`meminfo`], [`sysinfo`], [`shutdown`]) — plus the
//! byte layouts they exchange ([`wire`]). The ABI itself (every import's
//! arguments, results and errors) is specified in `docs/host-abi.md`.
//!
//! What it is not: a replacement for WASI. Files, directories, stdio, clocks,
//! randomness, arguments and environment go through `std` as in any
//! `wasm32-wasip1` program; this crate only covers what WASI lacks.
//!
//! On targets other than `wasm32` + WASI the imports are replaced by stubs
//! that fail with [`Errno::NOSYS`], so programs using this crate still build
//! and unit-test on the host; those stubs are never part of a Hypha program.

mod errno;
mod sys;
pub mod wire;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

pub use errno::Errno;
pub use wire::{ExitStatus, MemInfo, ProcState, ProcessRecord, SysInfo, TrapCode};

/// A process id (≥ 1 on Hypha).
pub type Pid = u32;

/// Bytes of trap message `wait` asks the kernel for.
const TRAP_MESSAGE_MAX: usize = 1024;

// === argument helpers ===

/// A linear-memory address as the `i32` an import takes. On wasm32 every
/// address fits; elsewhere (host stubs, which ignore it) an address that
/// does not fit becomes -1.
fn addr<T: ?Sized>(p: *const T) -> i32 {
    u32::try_from(p.cast::<u8>().addr()).map_or(-1, |a| i32::from_ne_bytes(a.to_ne_bytes()))
}

/// A buffer length as an import's `i32`.
fn len_arg(len: usize) -> Result<i32, Errno> {
    i32::try_from(len).map_err(|_| Errno::TOO_BIG)
}

/// A raw `u32` pid or fd as the `i32` an import takes (bit pattern).
fn u32_arg(v: u32) -> i32 {
    i32::from_ne_bytes(v.to_ne_bytes())
}

// === spawn ===

/// Where a child's stdin, stdout or stderr comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's own fd 0, 1 or 2 respectively.
    Inherit,
    /// A file descriptor of the caller (a file, a pipe end, the console);
    /// the child gets its own fd sharing the same open file description.
    Fd(u32),
    /// Nothing: reads see end-of-file, writes are discarded.
    Null,
}

impl Stdio {
    fn raw(self, own: u32) -> u32 {
        match self {
            Self::Inherit => own,
            Self::Fd(fd) => fd,
            Self::Null => u32::MAX,
        }
    }

    /// The fd of an open Rust handle (`File`, `OwnedFd`, ...).
    ///
    /// # Errors
    /// `Errno::BADF` for a negative fd (not an open descriptor).
    pub fn from_fd(fd: &impl AsRawFd) -> Result<Self, Errno> {
        u32::try_from(fd.as_raw_fd()).map(Self::Fd).map_err(|_| Errno::BADF)
    }
}

/// A process to start: a builder for the `spawn` import.
///
/// ```no_run
/// use hypha_abi::{Spawn, wait};
/// let pid = Spawn::new("/bin/ls").arg("-l").arg("/tmp").spawn()?;
/// let status = wait(pid)?;
/// # Ok::<(), hypha_abi::Errno>(())
/// ```
#[derive(Debug, Clone)]
pub struct Spawn {
    path: String,
    argv: Vec<String>,
    env: Option<Vec<String>>,
    stdio: [Stdio; 3],
}

impl Spawn {
    /// A process running the module at absolute `path`, with `argv[0]` set
    /// to `path`, the caller's environment and the caller's stdio.
    #[must_use]
    pub fn new(path: impl Into<String>) -> Self {
        let path = path.into();
        Self { argv: vec![path.clone()], path, env: None, stdio: [Stdio::Inherit; 3] }
    }

    /// Replaces `argv[0]` (the name the program sees for itself).
    #[must_use]
    pub fn arg0(mut self, name: impl Into<String>) -> Self {
        self.argv[0] = name.into();
        self
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.argv.push(a.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the child's whole environment (instead of the caller's).
    #[must_use]
    pub fn env_clear_and_set<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        self.env =
            Some(vars.into_iter().map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref())).collect());
        self
    }

    /// Sets the child's stdin.
    #[must_use]
    pub fn stdin(mut self, s: Stdio) -> Self {
        self.stdio[0] = s;
        self
    }

    /// Sets the child's stdout.
    #[must_use]
    pub fn stdout(mut self, s: Stdio) -> Self {
        self.stdio[1] = s;
        self
    }

    /// Sets the child's stderr.
    #[must_use]
    pub fn stderr(mut self, s: Stdio) -> Self {
        self.stdio[2] = s;
        self
    }

    /// The argument vector (including `argv[0]`).
    #[must_use]
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Starts the process; returns its pid.
    ///
    /// # Errors
    /// See `spawn` in `docs/host-abi.md`: `NOENT` (no such file), `NOEXEC`
    /// (not a valid module or unresolvable imports), `AGAIN` (process quota
    /// reached), `NOMEM`, `BADF` (a stdio fd is not open), `INVAL` (a NUL
    /// inside an argument), `TOO_BIG`; `NOSYS` on host builds.
    pub fn spawn(&self) -> Result<Pid, Errno> {
        let argv = wire::pack_strings(&self.argv)?;
        let env = match &self.env {
            Some(env) => wire::pack_strings(env)?,
            None => {
                let vars: Vec<String> =
                    std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
                wire::pack_strings(&vars)?
            }
        };
        let stdio: [u32; 3] =
            [self.stdio[0].raw(0), self.stdio[1].raw(1), self.stdio[2].raw(2)];
        let mut pid: u32 = 0;
        // SAFETY: every pointer/length pair describes a live buffer owned by
        // this frame (`self.path`, `argv`, `env`, `stdio`) that the kernel
        // only reads; `pid` is a writable, aligned u32 the kernel writes once.
        let rc = unsafe {
            sys::spawn(
                addr(self.path.as_ptr()),
                len_arg(self.path.len())?,
                addr(argv.as_ptr()),
                len_arg(argv.len())?,
                addr(env.as_ptr()),
                len_arg(env.len())?,
                addr(stdio.as_ptr()),
                addr(&raw mut pid),
            )
        };
        Errno::check(rc)?;
        Ok(pid)
    }
}

// === wait / kill / getpid ===

/// Waits until child `pid` ends, reaps it, and says how it ended.
///
/// # Errors
/// `SRCH` (no such process), `CHILD` (not the caller's child), `NOSYS` on
/// host builds.
pub fn wait(pid: Pid) -> Result<ExitStatus, Errno> {
    let mut record = [0u8; wire::WAIT_STATUS_SIZE];
    let mut msg = vec![0u8; TRAP_MESSAGE_MAX];
    // SAFETY: `record` and `msg` are writable buffers of exactly the lengths
    // passed, alive for the whole call; the kernel writes only inside them.
    let rc = unsafe {
        sys::wait(u32_arg(pid), addr(record.as_mut_ptr()), addr(msg.as_mut_ptr()), len_arg(msg.len())?)
    };
    Errno::check(rc)?;
    wire::decode_wait(&record, &msg)
}

/// Ends process `pid` (its waiter sees [`ExitStatus::Killed`]).
///
/// # Errors
/// `SRCH` (no such process), `PERM` (e.g. pid 1 or a kernel task), `NOSYS`
/// on host builds.
pub fn kill(pid: Pid) -> Result<(), Errno> {
    Errno::check(sys::kill(u32_arg(pid)))
}

/// The caller's pid (0 on host builds, where there is no Hypha process).
#[must_use]
pub fn getpid() -> Pid {
    u32::try_from(sys::getpid()).unwrap_or(0)
}

// === pipe ===

/// The two ends of a kernel pipe.
#[derive(Debug)]
pub struct Pipe {
    /// Read end: reads block until data arrives or every write end is closed.
    pub read: OwnedFd,
    /// Write end: writes fail with `PIPE` once every read end is closed.
    pub write: OwnedFd,
}

/// Creates a pipe.
///
/// # Errors
/// `MFILE` (fd table full), `NOMEM`, `NOSYS` on host builds.
pub fn pipe() -> Result<Pipe, Errno> {
    let mut fds = [0u32; 2];
    // SAFETY: `fds` is a writable, aligned [u32; 2] the kernel fills.
    let rc = unsafe { sys::pipe(addr(fds.as_mut_ptr())) };
    Errno::check(rc)?;
    let read = i32::try_from(fds[0]).map_err(|_| Errno::BADF)?;
    let write = i32::try_from(fds[1]).map_err(|_| Errno::BADF)?;
    // SAFETY: on success the kernel returned two fresh descriptors that
    // nothing else in this process owns; each is wrapped exactly once.
    let read = unsafe { OwnedFd::from_raw_fd(read) };
    // SAFETY: as above, for the write end.
    let write = unsafe { OwnedFd::from_raw_fd(write) };
    Ok(Pipe { read, write })
}

// === ps ===

/// Lists every process, ordered by pid.
///
/// # Errors
/// `NOSYS` on host builds; `INVAL` if the kernel's answer is malformed.
pub fn ps() -> Result<Vec<ProcessRecord>, Errno> {
    let mut capacity = 32usize;
    loop {
        let mut buf = vec![0u8; capacity * wire::PROC_RECORD_SIZE];
        let mut total: u32 = 0;
        // SAFETY: `buf` is writable for the length passed and `total` is an
        // aligned u32; both outlive the call.
        let rc = unsafe { sys::ps(addr(buf.as_mut_ptr()), len_arg(buf.len())?, addr(&raw mut total)) };
        Errno::check(rc)?;
        let total = usize::try_from(total).map_err(|_| Errno::INVAL)?;
        if total <= capacity {
            return wire::decode_ps(&buf, total);
        }
        // More processes than room: grow and ask again (the count may
        // change between calls, hence the loop).
        capacity = total + 8;
    }
}

// === scheduling ===

/// Gives up the CPU to other ready processes.
pub fn yield_now() {
    // Documented never to fail on Hypha; on host builds there is nothing to yield to.
    let _ = sys::yield_now();
}

/// Suspends the caller for at least `d`.
///
/// # Errors
/// `NOSYS` on host builds.
pub fn sleep(d: Duration) -> Result<(), Errno> {
    let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    Errno::check(sys::sleep(ns))
}

// === system information ===

/// System memory usage.
///
/// # Errors
/// `NOSYS` on host builds.
pub fn meminfo() -> Result<MemInfo, Errno> {
    let mut buf = [0u8; wire::MEMINFO_SIZE];
    // SAFETY: `buf` is writable for exactly the length passed.
    let rc = unsafe { sys::meminfo(addr(buf.as_mut_ptr()), len_arg(buf.len())?) };
    Errno::check(rc)?;
    wire::decode_meminfo(&buf)
}

/// System identity, uptime and counts.
///
/// # Errors
/// `NOSYS` on host builds.
pub fn sysinfo() -> Result<SysInfo, Errno> {
    let mut buf = [0u8; wire::SYSINFO_SIZE];
    // SAFETY: `buf` is writable for exactly the length passed.
    let rc = unsafe { sys::sysinfo(addr(buf.as_mut_ptr()), len_arg(buf.len())?) };
    Errno::check(rc)?;
    wire::decode_sysinfo(&buf)
}

/// What [`shutdown`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownMode {
    /// Stop every process and power the machine off.
    PowerOff,
    /// Stop every process and restart the machine.
    Reboot,
}

/// Shuts the system down. Does not return on success.
///
/// # Errors
/// `PERM` if the caller may not shut down, `NOSYS` on host builds.
pub fn shutdown(mode: ShutdownMode) -> Result<(), Errno> {
    let raw = match mode {
        ShutdownMode::PowerOff => 0,
        ShutdownMode::Reboot => 1,
    };
    Errno::check(sys::shutdown(raw))
}

// === linear memory and environment conventions ===

/// Grows the caller's linear memory by `pages` 64 KiB pages (WebAssembly
/// `memory.grow`, not an import); returns the old size in pages, or `None`
/// when the kernel refuses (quota or memory exhausted) — and always `None`
/// on host builds.
#[must_use]
pub fn grow_memory(pages: usize) -> Option<usize> {
    #[cfg(target_arch = "wasm32")]
    {
        let old = core::arch::wasm32::memory_grow(0, pages);
        if old == usize::MAX { None } else { Some(old) }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = pages;
        None
    }
}

/// Applies the `PWD` environment variable as the working directory.
///
/// WASI preview 1 has no working directory of its own: wasi-libc keeps one
/// inside the program, starting at `/`. Hypha's convention (see
/// `docs/host-abi.md`) is that a parent passes the directory to start in as
/// `PWD`; programs call this first thing in `main`.
///
/// # Errors
/// The `chdir` error if `PWD` names a directory that cannot be entered.
pub fn inherit_cwd() -> std::io::Result<()> {
    match std::env::var("PWD") {
        Ok(pwd) if pwd.starts_with('/') => std::env::set_current_dir(pwd),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_stubs_report_nosys() {
        assert_eq!(Spawn::new("/bin/ls").spawn(), Err(Errno::NOSYS));
        assert_eq!(wait(1), Err(Errno::NOSYS));
        assert_eq!(kill(1), Err(Errno::NOSYS));
        assert!(matches!(pipe(), Err(Errno::NOSYS)));
        assert_eq!(ps(), Err(Errno::NOSYS));
        assert_eq!(meminfo(), Err(Errno::NOSYS));
        assert_eq!(sysinfo(), Err(Errno::NOSYS));
        assert_eq!(sleep(Duration::from_millis(1)), Err(Errno::NOSYS));
        assert_eq!(shutdown(ShutdownMode::PowerOff), Err(Errno::NOSYS));
        assert_eq!(getpid(), 0);
        assert_eq!(grow_memory(1), None);
    }

    #[test]
    fn spawn_rejects_nul_before_calling() {
        assert_eq!(Spawn::new("/bin/echo").arg("a\0b").spawn(), Err(Errno::INVAL));
    }

    #[test]
    fn builder_sets_argv_and_stdio() {
        let s = Spawn::new("/bin/grep").arg0("grep").args(["-i", "x"]).stdout(Stdio::Fd(7));
        assert_eq!(s.argv(), ["grep", "-i", "x"]);
        assert_eq!(s.stdio[1].raw(1), 7);
        assert_eq!(s.stdio[0].raw(0), 0);
        assert_eq!(Stdio::Null.raw(2), u32::MAX);
    }

    #[test]
    fn arg_helpers() {
        assert_eq!(u32_arg(u32::MAX), -1);
        assert_eq!(u32_arg(5), 5);
        assert!(len_arg(usize::MAX).is_err());
    }
}
