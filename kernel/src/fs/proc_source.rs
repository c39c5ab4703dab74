//! What `/proc` shows: memory figures from the frame allocator, the
//! uptime, and the processes.

extern crate alloc;

use alloc::vec::Vec;
use hypha_vfs::{MemInfo, ProcInfo, ProcSource};

/// The kernel's [`ProcSource`]. The process list is empty until the
/// process table exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelProcSource;

impl ProcSource for KernelProcSource {
    fn processes(&self) -> Vec<ProcInfo> {
        Vec::new()
    }

    fn meminfo(&self) -> MemInfo {
        let stats = crate::mem::stats();
        let bytes = |frames: usize| u64::try_from(frames).unwrap_or(u64::MAX).saturating_mul(4096);
        MemInfo {
            total_bytes: bytes(stats.frames_total),
            free_bytes: bytes(stats.frames_free),
            kernel_bytes: bytes(stats.frames_used),
            user_bytes: 0,
        }
    }

    fn uptime_ns(&self) -> u64 {
        crate::time::uptime_us().saturating_mul(1000)
    }
}
