//! Compiled modules by the SHA-256 of their bytes, so spawning the same
//! program again does not compile it again, and compilation on every hart
//! ([`HartCompiler`], the engine's `CompileExecutor`).
//!
//! The cache keeps at most [`CAPACITY`] modules, evicting the least
//! recently used; a module in use by processes stays alive through their
//! own references after eviction. Two spawns missing on the same bytes at
//! once may both compile; the second result replaces the first.
//!
//! On a miss the initrd's precompiled code is tried first
//! ([`load_precompiled`]): xtask compiles every `/bin` program on the host
//! for each process-engine variant and stores the artifacts at
//! [`hypha_proc_engine::artifact_path`]`(engine fingerprint, SHA-256)`.
//! An artifact is used only when `hypha_wasm` accepts it: magic, format,
//! checksum, the full engine fingerprint and the SHA-256 of these exact
//! bytes must match, and the module-level sections are validated again.
//! Anything else (no artifact, another engine, a corrupted file) falls
//! back to compiling. Trust: the initrd is part of the boot image, as
//! trusted as the kernel, and its artifacts were produced by this same
//! compiler code (the fingerprint includes a hash of the runtime's
//! source) from these bytes; see docs/processes.md.

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use hypha_wasm::{CompileExecutor, Engine, Module};
use sha2::{Digest, Sha256};

use crate::sync::SpinLock;

/// Modules kept.
pub const CAPACITY: usize = 32;

#[derive(Debug)]
struct Cached {
    module: Module,
    last_used: u64,
}

static CACHE: SpinLock<BTreeMap<[u8; 32], Cached>> = SpinLock::new(BTreeMap::new());
static CLOCK: AtomicU64 = AtomicU64::new(0);
/// Compile jobs run by helper tasks (not the compiling caller) and the
/// harts (bit per per-CPU index) any job of the last batch ran on.
pub static HELPER_JOBS: AtomicU64 = AtomicU64::new(0);
pub static LAST_BATCH_HARTS: AtomicU64 = AtomicU64::new(0);
/// Lookups that found / did not find their module.
pub static HITS: AtomicU64 = AtomicU64::new(0);
pub static MISSES: AtomicU64 = AtomicU64::new(0);
/// Misses served by precompiled code from the initrd, and artifacts that
/// were there but refused (then the module was compiled).
pub static PRECOMPILED: AtomicU64 = AtomicU64::new(0);
pub static REFUSED: AtomicU64 = AtomicU64::new(0);

/// The SHA-256 of `bytes`.
#[must_use]
pub fn hash(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The compiled module for `bytes` (whose SHA-256 is `sha256` when the
/// caller knows it from the boot image, else hashed here), loading it from the initrd's
/// precompiled code or compiling it (on a big stack, on every hart) and
/// caching it on a miss; `true` with it when it was compiled now (its
/// first instantiation may compile host trampolines, so it wants a big
/// stack). A precompiled module counts as not compiled: loading it put
/// its imports' host trampolines in the engine's cache, so instantiating
/// it runs no compiler.
///
/// # Errors
/// What [`Module::new`] reports (invalid module, unsupported feature, out
/// of memory), or no stack for the compiler.
pub fn get_or_compile(engine: &Engine, bytes: &[u8], sha256: Option<[u8; 32]>) -> Result<(Module, bool), hypha_wasm::Error> {
    let key = sha256.unwrap_or_else(|| hash(bytes));
    let now = CLOCK.fetch_add(1, Ordering::Relaxed);
    if let Some(cached) = CACHE.lock().get_mut(&key) {
        cached.last_used = now;
        HITS.fetch_add(1, Ordering::Relaxed);
        return Ok((cached.module.clone(), false));
    }
    MISSES.fetch_add(1, Ordering::Relaxed);
    let (module, compiled) = match load_precompiled(engine, bytes, &key) {
        Some(module) => (module, false),
        None => (
            crate::wasm::on_big_stack(crate::wasm::BIG_STACK, || Module::new(engine, bytes))
                .map_err(|e| hypha_wasm::Error::Resource(alloc::format!("{e}")))??,
            true,
        ),
    };
    let evicted = {
        let mut cache = CACHE.lock();
        let evicted = if cache.len() >= CAPACITY {
            let oldest = cache.iter().min_by_key(|(_, c)| c.last_used).map(|(k, _)| *k);
            oldest.and_then(|k| cache.remove(&k))
        } else {
            None
        };
        cache.insert(key, Cached { module: module.clone(), last_used: now });
        evicted
    };
    // Freed outside the lock (releasing code unmaps pages).
    drop(evicted);
    Ok((module, compiled))
}

/// The module for `bytes` (SHA-256 `key`) from the initrd's precompiled
/// code for `engine`, if there is an artifact and `hypha_wasm` accepts it.
pub fn load_precompiled(engine: &Engine, bytes: &[u8], key: &[u8; 32]) -> Option<Module> {
    let path = hypha_proc_engine::artifact_path(&engine.fingerprint(), key);
    let artifact = match crate::fs::read_file(&path) {
        Ok(artifact) => artifact,
        Err(errno) => {
            log::debug!("proc: no precompiled code at {path} (errno {}): compiling", errno.raw());
            return None;
        }
    };
    match Module::deserialize_with_digest(engine, bytes, key, &artifact) {
        Ok(module) => {
            PRECOMPILED.fetch_add(1, Ordering::Relaxed);
            log::debug!("proc: loaded precompiled code from {path}");
            Some(module)
        }
        Err(error) => {
            REFUSED.fetch_add(1, Ordering::Relaxed);
            log::warn!("proc: precompiled code at {path} refused ({error}): compiling");
            None
        }
    }
}

/// Drops every cached module (the memory tests compare usage without it).
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "used by the process tests; the console and host ABI have no caller yet"))]
pub fn clear() {
    let all = core::mem::take(&mut *CACHE.lock());
    drop(all);
}

/// Modules cached now.
pub fn len() -> usize {
    CACHE.lock().len()
}

// === impl HartCompiler ===

/// Runs compile jobs as executor tasks on every hart, each on a big
/// kernel stack; the caller works on jobs too and returns when all are
/// done.
#[derive(Debug)]
pub struct HartCompiler;

/// One batch: the jobs left to claim and the ones finished.
struct Batch {
    /// The caller's job closure, lifetime erased (see `run`'s SAFETY).
    job: *const (dyn Fn(usize) + Sync),
    jobs: usize,
    next: AtomicUsize,
    done: AtomicUsize,
}

// SAFETY: `job` is `Sync` and only called (shared) while the batch's
// caller waits in `run`; the counters are atomics.
unsafe impl Send for Batch {}
// SAFETY: as above.
unsafe impl Sync for Batch {}

impl Batch {
    /// Claims and runs jobs until none are left.
    fn work(&self, helper: bool) {
        loop {
            let i = self.next.fetch_add(1, Ordering::AcqRel);
            if i >= self.jobs {
                return;
            }
            // SAFETY: index `i` < jobs was claimed here, so `done` cannot
            // reach `jobs` (and the caller cannot return from `run`, which
            // keeps the closure alive) before this call returns and we
            // count it below.
            let job = unsafe { &*self.job };
            if helper {
                HELPER_JOBS.fetch_add(1, Ordering::Relaxed);
            }
            LAST_BATCH_HARTS.fetch_or(1 << (crate::percpu::current().index % 64), Ordering::Relaxed);
            if crate::wasm::on_big_stack(COMPILE_STACK, || job(i)).is_err() {
                // No stack: run it here, on the hart's own stack, rather
                // than lose it (Cranelift usually fits in it).
                job(i);
            }
            self.done.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Stack for one compile job: Cranelift alone, no wasm.
const COMPILE_STACK: usize = 1 << 20;

impl CompileExecutor for HartCompiler {
    fn parallelism(&self) -> usize {
        crate::percpu::online_count().max(1)
    }

    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        // SAFETY (lifetime erasure): `run` does not return until `done ==
        // jobs`, and a helper task only calls `job` for an index it claimed
        // below `jobs` (see `Batch::work`), so no call outlives the borrow.
        let job: *const (dyn Fn(usize) + Sync + '_) = job;
        // SAFETY: only the lifetime changes; see above.
        let job: *const (dyn Fn(usize) + Sync + 'static) = unsafe { core::mem::transmute(job) };
        let batch = Arc::new(Batch { job, jobs, next: AtomicUsize::new(0), done: AtomicUsize::new(0) });
        LAST_BATCH_HARTS.store(0, Ordering::Relaxed);
        for _ in 1..jobs {
            let helper = batch.clone();
            // A task that cannot be spawned just leaves its share to us.
            let _ = crate::sched::spawn("compile", async move { helper.work(true) });
        }
        batch.work(false);
        while batch.done.load(Ordering::Acquire) < jobs {
            core::hint::spin_loop();
        }
    }
}

#[cfg(feature = "ktest")]
mod ktests {
    extern crate alloc;

    use alloc::vec::Vec;

    use hypha_wasm::{ArtifactError, Module};

    use crate::ktest;

    /// `/bin/sh`, its SHA-256 and its artifact for the process engine.
    fn sh() -> (Vec<u8>, [u8; 32], Vec<u8>) {
        let engine = crate::proc::engine().unwrap_or_else(|e| panic!("process engine: {e}"));
        let bytes = crate::fs::read_file("/bin/sh").unwrap_or_else(|e| panic!("/bin/sh: errno {}", e.raw()));
        let key = super::hash(&bytes);
        let path = hypha_proc_engine::artifact_path(&engine.fingerprint(), &key);
        let artifact = crate::fs::read_file(&path)
            .unwrap_or_else(|e| panic!("no precompiled code for this engine at {path} (errno {}): xtask and the kernel disagree on the process engine", e.raw()));
        (bytes, key, artifact)
    }

    ktest! {
        fn the_initrd_code_for_sh_loads_on_this_machine() {
            let engine = crate::proc::engine().unwrap_or_else(|e| panic!("process engine: {e}"));
            let (bytes, key, _) = sh();
            let module = super::load_precompiled(engine, &bytes, &key).expect("the precompiled sh was refused");
            assert!(module.exports().any(|(name, _)| name == "_start"));
        }
    }

    ktest! {
        fn damaged_or_foreign_artifacts_are_refused() {
            let engine = crate::proc::engine().unwrap_or_else(|e| panic!("process engine: {e}"));
            let (bytes, key, artifact) = sh();
            let mut damaged = artifact.clone();
            let middle = damaged.len() / 2;
            damaged[middle] ^= 0x10;
            assert!(matches!(Module::deserialize_with_digest(engine, &bytes, &key, &damaged), Err(ArtifactError::Checksum)));
            assert!(matches!(
                Module::deserialize_with_digest(engine, &bytes, &key, &artifact[..artifact.len() - 1]),
                Err(ArtifactError::Checksum | ArtifactError::Truncated)
            ));
            let hello = crate::fs::read_file("/bin/hello").unwrap_or_else(|e| panic!("/bin/hello: errno {}", e.raw()));
            assert!(matches!(Module::deserialize(engine, &hello, &artifact), Err(ArtifactError::WasmMismatch)));
            // No artifact under another digest: the cache compiles instead.
            assert!(super::load_precompiled(engine, &bytes, &[0; 32]).is_none());
        }
    }
}
