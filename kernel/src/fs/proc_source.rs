//! What `/proc` shows: the process table (`proc::table`), memory figures
//! from the frame allocator (split as the `hypha` `meminfo` import splits
//! them), and the uptime.

extern crate alloc;

use alloc::vec::Vec;
use hypha_vfs::{MemInfo, ProcInfo, ProcSource, ProcState};

use crate::proc::RunState;

/// Bytes of one WebAssembly page.
const WASM_PAGE: u64 = 64 << 10;

/// The kernel's [`ProcSource`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelProcSource;

impl ProcSource for KernelProcSource {
    fn processes(&self) -> Vec<ProcInfo> {
        crate::proc::table::list()
            .into_iter()
            .map(|process| ProcInfo {
                pid: process.pid,
                parent: process.parent,
                name: process.name,
                state: match process.state {
                    RunState::Running => ProcState::Running,
                    RunState::Ready => ProcState::Ready,
                    RunState::Blocked => ProcState::Blocked,
                    RunState::Zombie => ProcState::Zombie,
                },
                memory_bytes: process.memory_pages.saturating_mul(WASM_PAGE),
                committed_bytes: process.committed_bytes,
                cpu_time_ns: process.cpu_ns,
                start_ns: process.started_ns,
            })
            .collect()
    }

    fn meminfo(&self) -> MemInfo {
        let stats = crate::mem::stats();
        let bytes = |frames: usize| u64::try_from(frames).unwrap_or(u64::MAX).saturating_mul(4096);
        // Linear memories are committed from frames too (page by page, on
        // first touch): the kernel's own share is what is used beyond them.
        let user_bytes = crate::proc::table::committed_memory_bytes();
        MemInfo {
            total_bytes: bytes(stats.frames_total),
            free_bytes: bytes(stats.frames_free),
            kernel_bytes: bytes(stats.frames_used).saturating_sub(user_bytes),
            user_bytes,
        }
    }

    fn uptime_ns(&self) -> u64 {
        crate::time::uptime_us().saturating_mul(1000)
    }
}
