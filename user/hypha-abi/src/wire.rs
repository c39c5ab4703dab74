//! The byte layouts shared with the kernel: packed string lists for
//! `spawn`, and the fixed-size records `wait`, `ps`, `meminfo` and
//! `sysinfo` write. Pure functions, tested on the host.
//!
//! All integers are little-endian (WebAssembly's byte order).

use crate::Errno;

/// Size of one `ps` record in bytes.
pub const PROC_RECORD_SIZE: usize = 64;
/// Size of the `wait` status record in bytes.
pub const WAIT_STATUS_SIZE: usize = 16;
/// Size of the `meminfo` record in bytes.
pub const MEMINFO_SIZE: usize = 32;
/// Size of the `sysinfo` record in bytes.
pub const SYSINFO_SIZE: usize = 176;
/// Bytes reserved for a process name in a `ps` record.
pub const PROC_NAME_SIZE: usize = 32;

// === packed string lists ===

/// Packs strings as the `spawn` import expects: each one followed by a NUL.
///
/// # Errors
/// `Errno::INVAL` if a string contains a NUL byte (it could not be told
/// apart from the separator).
pub fn pack_strings<S: AsRef<str>>(items: &[S]) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for s in items {
        let s = s.as_ref();
        if s.as_bytes().contains(&0) {
            return Err(Errno::INVAL);
        }
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    Ok(out)
}

/// Unpacks a NUL-terminated list (the kernel's side of [`pack_strings`];
/// here so the format is tested from both ends).
///
/// # Errors
/// `Errno::INVAL` if the buffer is non-empty and does not end in NUL, or an
/// item is not UTF-8.
pub fn unpack_strings(buf: &[u8]) -> Result<Vec<String>, Errno> {
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    let Some((&0, body)) = buf.split_last() else {
        return Err(Errno::INVAL);
    };
    body.split(|&b| b == 0)
        .map(|item| String::from_utf8(item.to_vec()).map_err(|_| Errno::INVAL))
        .collect()
}

// === little-endian field readers ===

fn u32_at(buf: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[off..off + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(buf: &[u8], off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[off..off + 8]);
    u64::from_le_bytes(b)
}

/// A NUL-padded text field: bytes up to the first NUL, lossy UTF-8.
fn text_at(buf: &[u8], off: usize, len: usize) -> String {
    let field = &buf[off..off + len];
    let end = field.iter().position(|&b| b == 0).unwrap_or(len);
    String::from_utf8_lossy(&field[..end]).into_owned()
}

// === wait status ===

/// How a process ended, as `wait` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// It called `proc_exit(code)` or returned from `_start` (code 0).
    Exited(u32),
    /// It trapped. `code` is a [`TrapCode`]; `message` is the kernel's
    /// description (possibly with a backtrace, one frame per line).
    Trapped {
        /// What kind of trap.
        code: TrapCode,
        /// The kernel's message, truncated to the buffer `wait` was given.
        message: String,
    },
    /// It was ended by `kill`.
    Killed,
}

impl ExitStatus {
    /// A shell-style status number: the exit code, 128+6 (134, "aborted")
    /// for a trap, 128+9 (137) for a kill.
    #[must_use]
    pub fn shell_code(&self) -> u32 {
        match self {
            Self::Exited(c) => *c,
            Self::Trapped { .. } => 134,
            Self::Killed => 137,
        }
    }

    /// Whether it exited with code 0.
    #[must_use]
    pub fn success(&self) -> bool {
        matches!(self, Self::Exited(0))
    }
}

/// The kind of trap that ended a process (`code` in the wait record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapCode {
    /// `unreachable` executed (also Rust panics with `panic = "abort"`).
    Unreachable,
    /// Out-of-bounds linear memory access.
    MemoryOutOfBounds,
    /// Call stack exhausted.
    StackOverflow,
    /// Integer division by zero.
    DivisionByZero,
    /// Integer overflow (`i32.div_s` of MIN by -1, ...).
    IntegerOverflow,
    /// Float-to-int conversion of NaN or an out-of-range value.
    BadConversion,
    /// `call_indirect` signature mismatch.
    IndirectCallTypeMismatch,
    /// Table access out of bounds or a null/uninitialised element.
    TableOutOfBounds,
    /// Over its CPU budget (epoch deadline / fuel) and not allowed to go on.
    Interrupted,
    /// A code this crate does not know (newer kernel); the raw value.
    Other(u32),
}

impl TrapCode {
    /// Decodes the raw code.
    #[must_use]
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            1 => Self::Unreachable,
            2 => Self::MemoryOutOfBounds,
            3 => Self::StackOverflow,
            4 => Self::DivisionByZero,
            5 => Self::IntegerOverflow,
            6 => Self::BadConversion,
            7 => Self::IndirectCallTypeMismatch,
            8 => Self::TableOutOfBounds,
            9 => Self::Interrupted,
            other => Self::Other(other),
        }
    }

    /// A short default description, used when the kernel sent no message.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable executed",
            Self::MemoryOutOfBounds => "out-of-bounds memory access",
            Self::StackOverflow => "call stack exhausted",
            Self::DivisionByZero => "integer divide by zero",
            Self::IntegerOverflow => "integer overflow",
            Self::BadConversion => "invalid conversion to integer",
            Self::IndirectCallTypeMismatch => "indirect call type mismatch",
            Self::TableOutOfBounds => "undefined table element",
            Self::Interrupted => "interrupted",
            Self::Other(_) => "trap",
        }
    }
}

/// Decodes a `wait` status record plus the message bytes the kernel wrote
/// into the message buffer (`msg_buf`, of which the first
/// `min(message_len, msg_buf.len())` bytes are valid).
///
/// # Errors
/// `Errno::INVAL` for a short record or an unknown kind.
pub fn decode_wait(record: &[u8], msg_buf: &[u8]) -> Result<ExitStatus, Errno> {
    if record.len() < WAIT_STATUS_SIZE {
        return Err(Errno::INVAL);
    }
    let kind = u32_at(record, 0);
    let code = u32_at(record, 4);
    let msg_len = usize::try_from(u32_at(record, 8)).unwrap_or(usize::MAX);
    match kind {
        0 => Ok(ExitStatus::Exited(code)),
        1 => {
            let code = TrapCode::from_raw(code);
            let valid = &msg_buf[..msg_len.min(msg_buf.len())];
            let message = String::from_utf8_lossy(valid).into_owned();
            let message = if message.is_empty() { code.describe().to_owned() } else { message };
            Ok(ExitStatus::Trapped { code, message })
        }
        2 => Ok(ExitStatus::Killed),
        _ => Err(Errno::INVAL),
    }
}

// === ps records ===

/// Scheduling state of a process in a `ps` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    /// On a CPU right now.
    Running,
    /// Runnable, waiting for a CPU.
    Ready,
    /// Suspended in a host call (read, sleep, wait, ...).
    Blocked,
    /// Ended, not yet waited for by its parent.
    Zombie,
    /// A state this crate does not know; the raw value.
    Other(u32),
}

impl ProcState {
    /// Decodes the raw state.
    #[must_use]
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            0 => Self::Running,
            1 => Self::Ready,
            2 => Self::Blocked,
            3 => Self::Zombie,
            other => Self::Other(other),
        }
    }

    /// A short name for listings.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "run",
            Self::Ready => "ready",
            Self::Blocked => "blocked",
            Self::Zombie => "zombie",
            Self::Other(_) => "?",
        }
    }
}

/// One process, as `ps` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRecord {
    /// Process id (≥ 1).
    pub pid: u32,
    /// Parent's pid; 0 for a process the kernel started (init).
    pub parent: u32,
    /// Scheduling state.
    pub state: ProcState,
    /// Linear memory size in 64 KiB WebAssembly pages.
    pub memory_pages: u32,
    /// CPU time used so far, in nanoseconds.
    pub cpu_ns: u64,
    /// Uptime (ns since boot) when it was spawned.
    pub started_ns: u64,
    /// Its name (the spawned path's last component), at most 32 bytes.
    pub name: String,
}

/// Decodes the records `ps` wrote into `buf` (`count` of them).
///
/// # Errors
/// `Errno::INVAL` if `buf` is shorter than `count` records.
pub fn decode_ps(buf: &[u8], count: usize) -> Result<Vec<ProcessRecord>, Errno> {
    let need = count.checked_mul(PROC_RECORD_SIZE).ok_or(Errno::INVAL)?;
    if buf.len() < need {
        return Err(Errno::INVAL);
    }
    Ok(buf[..need]
        .chunks_exact(PROC_RECORD_SIZE)
        .map(|r| ProcessRecord {
            pid: u32_at(r, 0),
            parent: u32_at(r, 4),
            state: ProcState::from_raw(u32_at(r, 8)),
            memory_pages: u32_at(r, 12),
            cpu_ns: u64_at(r, 16),
            started_ns: u64_at(r, 24),
            name: text_at(r, 32, PROC_NAME_SIZE),
        })
        .collect())
}

// === meminfo / sysinfo ===

/// System memory, as `meminfo` reports it (all in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// All RAM the kernel manages.
    pub total: u64,
    /// Not allocated to anything.
    pub free: u64,
    /// Used by the kernel itself (heap, compiled code, page tables, stacks).
    pub kernel: u64,
    /// Committed linear memory of all processes.
    pub processes: u64,
}

/// Decodes a `meminfo` record.
///
/// # Errors
/// `Errno::INVAL` for a short record.
pub fn decode_meminfo(buf: &[u8]) -> Result<MemInfo, Errno> {
    if buf.len() < MEMINFO_SIZE {
        return Err(Errno::INVAL);
    }
    Ok(MemInfo {
        total: u64_at(buf, 0),
        free: u64_at(buf, 8),
        kernel: u64_at(buf, 16),
        processes: u64_at(buf, 24),
    })
}

/// System identity and uptime, as `sysinfo` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysInfo {
    /// Nanoseconds since boot.
    pub uptime_ns: u64,
    /// Harts (CPUs) running the scheduler.
    pub cpus: u32,
    /// Processes alive (including zombies).
    pub processes: u32,
    /// Operating system name (`"Hypha"`).
    pub sysname: String,
    /// Host name.
    pub nodename: String,
    /// Kernel release (`"0.1.0"`).
    pub release: String,
    /// Kernel build description (e.g. commit and build date).
    pub version: String,
    /// Machine (`"riscv64"`).
    pub machine: String,
}

/// Decodes a `sysinfo` record.
///
/// # Errors
/// `Errno::INVAL` for a short record.
pub fn decode_sysinfo(buf: &[u8]) -> Result<SysInfo, Errno> {
    if buf.len() < SYSINFO_SIZE {
        return Err(Errno::INVAL);
    }
    Ok(SysInfo {
        uptime_ns: u64_at(buf, 0),
        cpus: u32_at(buf, 8),
        processes: u32_at(buf, 12),
        sysname: text_at(buf, 16, 16),
        nodename: text_at(buf, 32, 32),
        release: text_at(buf, 64, 32),
        version: text_at(buf, 96, 64),
        machine: text_at(buf, 160, 16),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put_u32(buf: &mut [u8], off: usize, v: u32) {
        buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u64(buf: &mut [u8], off: usize, v: u64) {
        buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn put_text(buf: &mut [u8], off: usize, s: &str) {
        buf[off..off + s.len()].copy_from_slice(s.as_bytes());
    }

    #[test]
    fn strings_round_trip() {
        let packed = pack_strings(&["ls", "-l", "", "ünï"]).expect("no NULs");
        assert_eq!(&packed[..6], b"ls\0-l\0");
        assert_eq!(unpack_strings(&packed).expect("valid"), vec!["ls", "-l", "", "ünï"]);
        assert_eq!(pack_strings::<&str>(&[]).expect("empty"), Vec::<u8>::new());
        assert_eq!(unpack_strings(b"").expect("empty"), Vec::<String>::new());
    }

    #[test]
    fn strings_reject_nul_and_missing_terminator() {
        assert_eq!(pack_strings(&["a\0b"]), Err(Errno::INVAL));
        assert_eq!(unpack_strings(b"abc"), Err(Errno::INVAL));
        assert_eq!(unpack_strings(b"a\0\xff\0"), Err(Errno::INVAL));
    }

    #[test]
    fn wait_exit_trap_kill() {
        let mut rec = [0u8; WAIT_STATUS_SIZE];
        put_u32(&mut rec, 4, 3);
        assert_eq!(decode_wait(&rec, &[]), Ok(ExitStatus::Exited(3)));

        put_u32(&mut rec, 0, 1);
        put_u32(&mut rec, 4, 1);
        put_u32(&mut rec, 8, 11);
        let msg = b"unreachable at main+0x12";
        let st = decode_wait(&rec, msg).expect("valid");
        assert_eq!(
            st,
            ExitStatus::Trapped { code: TrapCode::Unreachable, message: "unreachable".into() }
        );
        assert_eq!(st.shell_code(), 134);
        assert!(!st.success());

        put_u32(&mut rec, 0, 2);
        assert_eq!(decode_wait(&rec, &[]), Ok(ExitStatus::Killed));
        put_u32(&mut rec, 0, 9);
        assert_eq!(decode_wait(&rec, &[]), Err(Errno::INVAL));
        assert_eq!(decode_wait(&rec[..8], &[]), Err(Errno::INVAL));
    }

    #[test]
    fn wait_trap_without_message_uses_default_and_truncates() {
        let mut rec = [0u8; WAIT_STATUS_SIZE];
        put_u32(&mut rec, 0, 1);
        put_u32(&mut rec, 4, 3);
        let st = decode_wait(&rec, &[0; 8]).expect("valid");
        assert_eq!(
            st,
            ExitStatus::Trapped { code: TrapCode::StackOverflow, message: "call stack exhausted".into() }
        );
        // message_len larger than the buffer: only the buffer is used.
        put_u32(&mut rec, 8, 1000);
        let st = decode_wait(&rec, b"abc").expect("valid");
        assert!(matches!(st, ExitStatus::Trapped { ref message, .. } if message == "abc"));
        assert_eq!(TrapCode::from_raw(77), TrapCode::Other(77));
    }

    #[test]
    fn ps_records_decode() {
        let mut buf = vec![0u8; 2 * PROC_RECORD_SIZE];
        put_u32(&mut buf, 0, 1);
        put_u32(&mut buf, 8, 2);
        put_u32(&mut buf, 12, 17);
        put_u64(&mut buf, 16, 1_500_000);
        put_text(&mut buf, 32, "sh");
        let r2 = PROC_RECORD_SIZE;
        put_u32(&mut buf, r2, 7);
        put_u32(&mut buf, r2 + 4, 1);
        put_u32(&mut buf, r2 + 8, 0);
        put_u64(&mut buf, r2 + 24, 99);
        put_text(&mut buf, r2 + 32, &"x".repeat(32));
        let recs = decode_ps(&buf, 2).expect("valid");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].name, "sh");
        assert_eq!(recs[0].state, ProcState::Blocked);
        assert_eq!(recs[0].memory_pages, 17);
        assert_eq!(recs[0].cpu_ns, 1_500_000);
        assert_eq!(recs[1].parent, 1);
        assert_eq!(recs[1].state.name(), "run");
        assert_eq!(recs[1].started_ns, 99);
        assert_eq!(recs[1].name.len(), 32);
        assert_eq!(decode_ps(&buf, 3), Err(Errno::INVAL));
        assert_eq!(decode_ps(&buf, 0).expect("empty"), vec![]);
        assert_eq!(decode_ps(&buf, usize::MAX), Err(Errno::INVAL));
    }

    #[test]
    fn meminfo_and_sysinfo_decode() {
        let mut m = [0u8; MEMINFO_SIZE];
        put_u64(&mut m, 0, 512 << 20);
        put_u64(&mut m, 8, 400 << 20);
        put_u64(&mut m, 16, 100 << 20);
        put_u64(&mut m, 24, 12 << 20);
        let mi = decode_meminfo(&m).expect("valid");
        assert_eq!(mi.total, 512 << 20);
        assert_eq!(mi.processes, 12 << 20);
        assert_eq!(decode_meminfo(&m[..31]), Err(Errno::INVAL));

        let mut s = [0u8; SYSINFO_SIZE];
        put_u64(&mut s, 0, 5_000_000_000);
        put_u32(&mut s, 8, 4);
        put_u32(&mut s, 12, 3);
        put_text(&mut s, 16, "Hypha");
        put_text(&mut s, 32, "hypha");
        put_text(&mut s, 64, "0.1.0");
        put_text(&mut s, 96, "#1 abc123");
        put_text(&mut s, 160, "riscv64");
        let si = decode_sysinfo(&s).expect("valid");
        assert_eq!(si.uptime_ns, 5_000_000_000);
        assert_eq!((si.cpus, si.processes), (4, 3));
        assert_eq!(si.sysname, "Hypha");
        assert_eq!(si.version, "#1 abc123");
        assert_eq!(si.machine, "riscv64");
        assert_eq!(decode_sysinfo(&s[..100]), Err(Errno::INVAL));
    }
}
