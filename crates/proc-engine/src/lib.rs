//! The engine configuration Hypha's kernel runs processes with
//! ([`process_config`]) and where the initrd keeps the code precompiled
//! for it ([`artifact_path`]).
//!
//! Shared by the kernel (`kernel/src/proc`: the process engine and the
//! module cache) and the host tool `hypha-precompile` that xtask runs
//! while building the initrd, so both compute the engine fingerprint from
//! the same [`Config`] and a precompiled artifact is found and accepted
//! exactly when it was compiled for the running kernel's engine.
//!
//! Not here: the artifact format and its checks (`hypha_wasm::artifact`),
//! the kernel's fallback to compiling (`kernel/src/proc/cache.rs`), the
//! initrd writer (`xtask/src/initrd.rs`).
#![no_std]

extern crate alloc;

use alloc::string::String;
use core::fmt::Write as _;

use hypha_wasm::{Config, Features, MemoryStrategy};

/// Directory of the precompiled code in the initrd (absolute).
pub const CACHE_DIR: &str = "/lib/hypha/cache";

/// What the machine decides about the process engine at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine {
    /// The harts have the V extension (compiled SIMD needs it); without
    /// it SIMD modules are rejected.
    pub vector: bool,
    /// Guard pages (Sv48 or larger address space) or explicit bounds
    /// checks (Sv39).
    pub strategy: MemoryStrategy,
}

/// The code-shaping part of the process engine's configuration for
/// `machine`: riscv64, epoch interruption (the scheduler's time slices),
/// SIMD only with the V extension. The kernel adds stack sizes and its
/// compile executor, which do not change the code (nor the fingerprint).
#[must_use]
pub fn process_config(machine: Machine) -> Config {
    Config {
        features: Features { simd: machine.vector, ..Features::default() },
        memory_strategy: machine.strategy,
        target: "riscv64gc-unknown-none-elf".parse().ok(),
        epoch_interruption: true,
        ..Config::default()
    }
}

/// Every machine variant the kernel can meet: with and without V, guard
/// pages and bounds checks.
pub const ALL_MACHINES: [Machine; 4] = [
    Machine { vector: true, strategy: MemoryStrategy::GuardPages },
    Machine { vector: true, strategy: MemoryStrategy::BoundsChecks },
    Machine { vector: false, strategy: MemoryStrategy::GuardPages },
    Machine { vector: false, strategy: MemoryStrategy::BoundsChecks },
];

impl Machine {
    /// The variant's name on the `hypha-precompile` command line:
    /// `vector-guard`, `vector-bounds`, `scalar-guard`, `scalar-bounds`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match (self.vector, self.strategy) {
            (true, MemoryStrategy::GuardPages) => "vector-guard",
            (true, MemoryStrategy::BoundsChecks) => "vector-bounds",
            (false, MemoryStrategy::GuardPages) => "scalar-guard",
            (false, MemoryStrategy::BoundsChecks) => "scalar-bounds",
        }
    }

    /// The variant called `name` (see [`Machine::name`]).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Machine> {
        ALL_MACHINES.into_iter().find(|m| m.name() == name)
    }
}

/// Where the artifact of wasm bytes with SHA-256 `wasm_sha256`, compiled by
/// an engine with `fingerprint`, lives in the initrd:
/// `/lib/hypha/cache/<first 16 hex digits of the fingerprint>/<sha256 hex>`.
/// The directory only sorts artifacts by engine; the full fingerprint
/// inside each artifact is what is checked.
#[must_use]
pub fn artifact_path(fingerprint: &[u8; 32], wasm_sha256: &[u8; 32]) -> String {
    let mut path = String::with_capacity(CACHE_DIR.len() + 2 + 16 + 64);
    path.push_str(CACHE_DIR);
    path.push('/');
    for b in &fingerprint[..8] {
        let _ = write!(path, "{b:02x}");
    }
    path.push('/');
    for b in wasm_sha256 {
        let _ = write!(path, "{b:02x}");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::sync::Arc;
    use hypha_wasm::Engine;

    #[test]
    fn paths_are_hex_under_the_cache_dir() {
        let path = artifact_path(&[0xab; 32], &[0x01; 32]);
        assert_eq!(path, alloc::format!("/lib/hypha/cache/{}/{}", "ab".repeat(8), "01".repeat(32)));
    }

    #[test]
    fn machine_names_round_trip() {
        for m in ALL_MACHINES {
            assert_eq!(Machine::from_name(m.name()), Some(m));
        }
        assert_eq!(Machine::from_name("vector"), None);
    }

    #[test]
    fn every_machine_has_its_own_fingerprint() {
        let platform: Arc<dyn hypha_wasm::Platform> = Arc::new(hypha_wasm::platform::HostPlatform);
        let prints: alloc::vec::Vec<[u8; 32]> = ALL_MACHINES
            .iter()
            .map(|m| Engine::new(process_config(*m), platform.clone()).unwrap().fingerprint())
            .collect();
        for (i, a) in prints.iter().enumerate() {
            for b in &prints[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // The kernel's extra settings (stack sizes, threads) keep it.
        let kernel = Config { max_wasm_stack: 128 << 10, async_stack_size: 256 << 10, parallel_compilation: true, ..process_config(ALL_MACHINES[0]) };
        assert_eq!(Engine::new(kernel, platform).unwrap().fingerprint(), prints[0]);
    }
}
