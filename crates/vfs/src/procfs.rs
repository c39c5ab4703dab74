//! `/proc`: a read-only view of processes and memory, generated from a
//! [`ProcSource`] the kernel implements.
//!
//! | path | contents |
//! |---|---|
//! | `/proc/uptime` | seconds since boot with two decimals, e.g. `12.34\n` |
//! | `/proc/meminfo` | `Name: value kB` lines: `MemTotal`, `MemFree`, `KernelUsed`, `UserMemory` |
//! | `/proc/<pid>/status` | `Key:\tvalue` lines: `Name`, `State`, `Pid`, `PPid`, `Memory` (size, kB), `Committed` (backed by RAM, kB), `CpuTimeNs`, `StartNs` |
//!
//! `/proc/meminfo` example:
//!
//! ```text
//! MemTotal:       524288 kB
//! MemFree:        400000 kB
//! KernelUsed:      65536 kB
//! UserMemory:      58752 kB
//! ```
//!
//! `/proc/1/status` example; each line is the key, a colon, one tab and the
//! value (shown here as spaces). `State` is `R (running)`, `R (ready)`,
//! `S (blocked)` or `Z (zombie)`:
//!
//! ```text
//! Name:       sh
//! State:      S (blocked)
//! Pid:        1
//! PPid:       0
//! Memory:     1088 kB
//! Committed:  256 kB
//! CpuTimeNs:  1500000
//! StartNs:    84000000
//! ```
//!
//! A file's text is generated when it is opened and stays the same for that
//! open file (so a reader sees one consistent snapshot); path `stat` reports
//! size 0 (as Linux does) and `fd_filestat_get` the snapshot's length.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::{Debug, Write as _};

use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, OpenOptions};

use crate::mount::{MountFs, OpenFile};

/// What a process is doing (the `hypha` ABI's `ps` states).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcState {
    /// On a CPU now.
    Running,
    /// Waiting for a CPU.
    Ready,
    /// Suspended in a host call (I/O, `wait`, `sleep`).
    Blocked,
    /// Ended, not yet reaped by its parent.
    Zombie,
}

impl ProcState {
    /// The `State:` text of `/proc/<pid>/status`.
    #[must_use]
    pub fn as_status(self) -> &'static str {
        match self {
            ProcState::Running => "R (running)",
            ProcState::Ready => "R (ready)",
            ProcState::Blocked => "S (blocked)",
            ProcState::Zombie => "Z (zombie)",
        }
    }
}

/// One process as `/proc` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcInfo {
    /// Process id (≥ 1).
    pub pid: u32,
    /// Parent pid; 0 when started by the kernel.
    pub parent: u32,
    /// Name (module file name without `.wasm`).
    pub name: String,
    /// State.
    pub state: ProcState,
    /// Linear memory size in bytes.
    pub memory_bytes: u64,
    /// Bytes of linear memory backed by RAM (pages touched so far).
    pub committed_bytes: u64,
    /// CPU time used, ns.
    pub cpu_time_ns: u64,
    /// Uptime at spawn, ns.
    pub start_ns: u64,
}

/// Memory figures for `/proc/meminfo` (bytes; shown in kB).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    /// RAM managed by the kernel.
    pub total_bytes: u64,
    /// Free RAM.
    pub free_bytes: u64,
    /// Used by the kernel itself (heap, code, page tables, stacks).
    pub kernel_bytes: u64,
    /// Committed linear memory of all processes.
    pub user_bytes: u64,
}

/// The kernel's side of `/proc`.
pub trait ProcSource: Send + Sync + Debug {
    /// Every process, in any order.
    fn processes(&self) -> Vec<ProcInfo>;
    /// Memory figures.
    fn meminfo(&self) -> MemInfo;
    /// Nanoseconds since boot.
    fn uptime_ns(&self) -> u64;
}

const ROOT: u64 = 1;
const MEMINFO: u64 = 2;
const UPTIME: u64 = 3;
/// Per-process inodes: `PID_BASE + pid * 2` (directory) and `+ 1` (status).
const PID_BASE: u64 = 1 << 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Root,
    Meminfo,
    Uptime,
    PidDir(u32),
    Status(u32),
}

impl Node {
    fn from_ino(ino: u64) -> Option<Node> {
        match ino {
            ROOT => Some(Node::Root),
            MEMINFO => Some(Node::Meminfo),
            UPTIME => Some(Node::Uptime),
            _ => {
                let rel = ino.checked_sub(PID_BASE)?;
                let pid = u32::try_from(rel / 2).ok()?;
                Some(if rel % 2 == 0 {
                    Node::PidDir(pid)
                } else {
                    Node::Status(pid)
                })
            }
        }
    }

    fn ino(self) -> u64 {
        match self {
            Node::Root => ROOT,
            Node::Meminfo => MEMINFO,
            Node::Uptime => UPTIME,
            Node::PidDir(pid) => PID_BASE + u64::from(pid) * 2,
            Node::Status(pid) => PID_BASE + u64::from(pid) * 2 + 1,
        }
    }

    fn filetype(self) -> Filetype {
        match self {
            Node::Root | Node::PidDir(_) => Filetype::Directory,
            _ => Filetype::RegularFile,
        }
    }
}

/// The `/proc` file system.
#[derive(Debug)]
pub struct ProcFs {
    source: Arc<dyn ProcSource>,
}

impl ProcFs {
    /// A view of `source`.
    pub fn new(source: Arc<dyn ProcSource>) -> Self {
        ProcFs { source }
    }

    fn process(&self, pid: u32) -> Option<ProcInfo> {
        self.source.processes().into_iter().find(|p| p.pid == pid)
    }

    /// `node` if it exists now.
    fn node(&self, ino: u64) -> Result<Node, Errno> {
        let node = Node::from_ino(ino).ok_or(Errno::Noent)?;
        if let Node::PidDir(pid) | Node::Status(pid) = node
            && self.process(pid).is_none()
        {
            return Err(Errno::Noent);
        }
        Ok(node)
    }

    /// The text of file `node`.
    fn generate(&self, node: Node) -> Result<String, Errno> {
        match node {
            Node::Uptime => Ok(uptime_text(self.source.uptime_ns())),
            Node::Meminfo => Ok(meminfo_text(&self.source.meminfo())),
            Node::Status(pid) => self
                .process(pid)
                .map(|p| status_text(&p))
                .ok_or(Errno::Noent),
            Node::Root | Node::PidDir(_) => Err(Errno::Isdir),
        }
    }

    fn stat_of(&self, node: Node, size: u64) -> Filestat {
        let now = self.source.uptime_ns();
        Filestat {
            dev: 0,
            ino: node.ino(),
            filetype: node.filetype().raw(),
            nlink: if node.filetype() == Filetype::Directory { 2 } else { 1 },
            size,
            atim: now,
            mtim: now,
            ctim: now,
        }
    }
}

/// `/proc/uptime` text for `ns` since boot.
#[must_use]
pub fn uptime_text(ns: u64) -> String {
    let centis = ns / 10_000_000;
    format!("{}.{:02}\n", centis / 100, centis % 100)
}

/// `/proc/meminfo` text.
#[must_use]
pub fn meminfo_text(m: &MemInfo) -> String {
    let mut s = String::new();
    for (name, bytes) in [
        ("MemTotal:", m.total_bytes),
        ("MemFree:", m.free_bytes),
        ("KernelUsed:", m.kernel_bytes),
        ("UserMemory:", m.user_bytes),
    ] {
        // Writing to a String cannot fail.
        let _ = writeln!(s, "{name:<12}{:>10} kB", bytes / 1024);
    }
    s
}

/// `/proc/<pid>/status` text.
#[must_use]
pub fn status_text(p: &ProcInfo) -> String {
    format!(
        "Name:\t{}\nState:\t{}\nPid:\t{}\nPPid:\t{}\nMemory:\t{} kB\nCommitted:\t{} kB\nCpuTimeNs:\t{}\nStartNs:\t{}\n",
        p.name,
        p.state.as_status(),
        p.pid,
        p.parent,
        p.memory_bytes / 1024,
        p.committed_bytes / 1024,
        p.cpu_time_ns,
        p.start_ns
    )
}

impl MountFs for ProcFs {
    fn root(&self) -> u64 {
        ROOT
    }

    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, Filetype), Errno> {
        let found = match self.node(dir)? {
            Node::Root => match name {
                "meminfo" => Node::Meminfo,
                "uptime" => Node::Uptime,
                _ => {
                    // Only canonical decimal pids ("01" is not a pid).
                    let pid: u32 = name.parse().map_err(|_| Errno::Noent)?;
                    if name.starts_with(['0', '+']) {
                        return Err(Errno::Noent);
                    }
                    self.node(Node::PidDir(pid).ino())?
                }
            },
            Node::PidDir(pid) if name == "status" => Node::Status(pid),
            Node::PidDir(_) => return Err(Errno::Noent),
            _ => return Err(Errno::Notdir),
        };
        Ok((found.ino(), found.filetype()))
    }

    fn stat(&self, node: u64) -> Result<Filestat, Errno> {
        let n = self.node(node)?;
        Ok(self.stat_of(n, 0))
    }

    fn mode(&self, node: u64) -> Result<Option<u32>, Errno> {
        let n = self.node(node)?;
        Ok(Some(if n.filetype() == Filetype::Directory { 0o555 } else { 0o444 }))
    }

    fn readlink(&self, node: u64) -> Result<String, Errno> {
        self.node(node)?;
        Err(Errno::Inval)
    }

    fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno> {
        let entry = |name: String, n: Node| DirEntry {
            name,
            ino: n.ino(),
            filetype: n.filetype(),
        };
        match self.node(dir)? {
            Node::Root => {
                let mut out = alloc::vec![
                    entry(String::from("meminfo"), Node::Meminfo),
                    entry(String::from("uptime"), Node::Uptime),
                ];
                let mut pids: Vec<u32> = self.source.processes().iter().map(|p| p.pid).collect();
                pids.sort_unstable();
                pids.dedup();
                out.extend(pids.into_iter().map(|pid| entry(format!("{pid}"), Node::PidDir(pid))));
                Ok(out)
            }
            Node::PidDir(pid) => Ok(alloc::vec![entry(String::from("status"), Node::Status(pid))]),
            _ => Err(Errno::Notdir),
        }
    }

    fn open(&self, node: u64, opts: OpenOptions) -> Result<Box<dyn OpenFile>, Errno> {
        let n = self.node(node)?;
        let text = self.generate(n)?;
        if opts.write || opts.truncate {
            return Err(Errno::Rofs);
        }
        let stat = self.stat_of(n, u64::try_from(text.len()).unwrap_or(u64::MAX));
        Ok(Box::new(ProcFile {
            text: text.into_bytes(),
            stat,
        }))
    }
}

/// An open `/proc` file: the snapshot taken at open.
#[derive(Debug)]
struct ProcFile {
    text: Vec<u8>,
    stat: Filestat,
}

impl OpenFile for ProcFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.text.len());
        let src = self.text.get(start..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        buf.get_mut(..n)
            .ok_or(Errno::Io)?
            .copy_from_slice(src.get(..n).ok_or(Errno::Io)?);
        Ok(n)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(self.stat)
    }
}
