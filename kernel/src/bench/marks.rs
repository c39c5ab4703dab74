//! The `hypha_bench` import module of benchmark builds: `mark(tag: i32,
//! arg: i32)` records the `cycle` and `time` counters at the moment a
//! process calls it, with the process's pid and when this hart's last
//! periodic tick was due, in a fixed log the benchmark driver reads.
//!
//! Only benchmark programs (`programs/*.wat`) import it; it exists in test
//! builds (feature `ktest`) only.

extern crate alloc;

use hypha_wasm::{Caller, Linker, Trap};

use crate::proc::ProcData;
use crate::sync::SpinLock;

/// The import module name.
pub const MODULE: &str = "hypha_bench";
/// Marks kept until [`take`]; later ones are counted and dropped.
const CAPACITY: usize = 256;

/// One `mark` call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mark {
    pub tag: u32,
    pub arg: u32,
    pub pid: u32,
    /// `cycle` CSR at the call.
    pub cycle: u64,
    /// `time` CSR at the call.
    pub time: u64,
    /// When the calling hart's last periodic tick was due (`time` ticks).
    pub tick_due: u64,
}

struct Log {
    marks: [Mark; CAPACITY],
    len: usize,
    dropped: usize,
}

static LOG: SpinLock<Log> = SpinLock::new(Log { marks: [Mark { tag: 0, arg: 0, pid: 0, cycle: 0, time: 0, tick_due: 0 }; CAPACITY], len: 0, dropped: 0 });

fn bits(value: i32) -> u32 {
    u32::from_le_bytes(value.to_le_bytes())
}

/// Registers `hypha_bench.mark`.
pub fn add_to_linker(linker: &mut Linker<ProcData>) {
    linker.func_wrap(MODULE, "mark", |caller: Caller<'_, ProcData>, tag: i32, arg: i32| -> Result<(), Trap> {
        // The counters first: the rest of this call is not measured.
        let cycle = crate::arch::csr::read_cycle();
        let time = crate::time::now_ticks();
        let mark = Mark { tag: bits(tag), arg: bits(arg), pid: caller.data().shared.pid, cycle, time, tick_due: crate::timer::last_tick_due() };
        let mut log = LOG.lock();
        if log.len < CAPACITY {
            let at = log.len;
            log.marks[at] = mark;
            log.len += 1;
        } else {
            log.dropped += 1;
        }
        Ok(())
    });
}

/// Empties the log, returning its marks in call order and how many did
/// not fit.
pub fn take() -> (alloc::vec::Vec<Mark>, usize) {
    let mut log = LOG.lock();
    let marks = log.marks[..log.len].to_vec();
    let dropped = log.dropped;
    log.len = 0;
    log.dropped = 0;
    (marks, dropped)
}
