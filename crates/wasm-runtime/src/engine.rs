//! [`Engine`]: configuration, the Cranelift compiler and the platform,
//! shared by modules and stores.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::compile::Compiler;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::types::FuncType;
use crate::vm::code::CodeObject;

/// A compilation and execution environment. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    /// The epoch counter compiled code loads (see [`Engine::increment_epoch`]).
    epoch: AtomicU64,
    config: Config,
    compiler: Compiler,
    platform: Arc<dyn Platform>,
    /// Wasm-to-host trampolines by signature, shared by every store.
    trampolines: TrampolineCache,
    /// Signature ids, shared by every module and store.
    types: crate::vm::registry::TypeRegistry,
    /// What precompiled artifacts must match (see [`Engine::fingerprint`]).
    fingerprint: [u8; 32],
    /// Where `call_async` fiber stacks come from (with the idle pool of
    /// [`Config::async_stack_pool`]).
    fiber_stacks: Arc<crate::vm::fiber::PlatformStacks>,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field("compiler", &self.inner.compiler)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with `config` running on `platform`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for an unknown target or an
    /// `async_stack_size` too small to hold the host reserve plus 64 KiB;
    /// [`Error::Compile`] if Cranelift rejects the settings.
    pub fn new(config: Config, platform: Arc<dyn Platform>) -> Result<Self> {
        if config.async_stack_size < crate::config::ASYNC_HOST_RESERVE + (64 << 10) {
            return Err(Error::Unsupported(alloc::format!(
                "async_stack_size {} is below the minimum {}",
                config.async_stack_size,
                crate::config::ASYNC_HOST_RESERVE + (64 << 10)
            )));
        }
        let compiler = Compiler::new(&config)?;
        let fingerprint = fingerprint(&config, &*compiler.isa);
        let fiber_stacks = Arc::new(crate::vm::fiber::PlatformStacks::new(platform.clone(), config.async_stack_pool));
        Ok(Engine {
            inner: Arc::new(EngineInner {
                epoch: AtomicU64::new(0),
                config,
                compiler,
                platform,
                trampolines: TrampolineCache::default(),
                types: crate::vm::registry::TypeRegistry::default(),
                fingerprint,
                fiber_stacks,
            }),
        })
    }

    /// The engine-wide signature ids.
    pub(crate) fn types(&self) -> &crate::vm::registry::TypeRegistry {
        &self.inner.types
    }

    /// The shared wasm-to-host trampoline for `(ty, direct)`, if one was compiled.
    pub(crate) fn cached_trampoline(&self, key: &(FuncType, bool)) -> Option<Arc<CodeObject>> {
        self.inner.trampolines.with(|m| m.get(key).cloned())
    }

    /// Share `code` as the trampoline for `ty`; if another store got there
    /// first, theirs is kept and returned.
    pub(crate) fn cache_trampoline(&self, key: &(FuncType, bool), code: Arc<CodeObject>) -> Arc<CodeObject> {
        self.inner.trampolines.with(|m| m.entry(key.clone()).or_insert(code).clone())
    }

    /// Advance the epoch by one. Cheap (one atomic add) and callable from
    /// any thread or a timer interrupt. Code compiled with
    /// [`Config::epoch_interruption`] notices at its next function entry or
    /// loop iteration whether its store's deadline has passed.
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Relaxed);
    }

    /// The current epoch (starts at 0).
    #[must_use]
    pub fn current_epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Relaxed)
    }

    /// Where the epoch counter lives, for the stores' limits records.
    pub(crate) fn epoch_ptr(&self) -> *const AtomicU64 {
        &raw const self.inner.epoch
    }

    /// An engine for the host platform.
    ///
    /// # Errors
    /// As [`Engine::new`].
    #[cfg(all(feature = "std", unix))]
    pub fn host(config: Config) -> Result<Self> {
        Self::new(config, Arc::new(crate::platform::HostPlatform))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The platform.
    #[must_use]
    pub fn platform(&self) -> &Arc<dyn Platform> {
        &self.inner.platform
    }

    /// The allocator of `call_async` fiber stacks.
    pub(crate) fn fiber_stacks(&self) -> Arc<dyn hypha_fiber::StackAllocator> {
        self.inner.fiber_stacks.clone()
    }

    /// Releases the idle fiber stacks kept by [`Config::async_stack_pool`]
    /// (e.g. before measuring memory); returns how many.
    pub fn release_idle_stacks(&self) -> usize {
        self.inner.fiber_stacks.release_idle()
    }

    /// The target triple code is compiled for.
    #[must_use]
    pub fn target(&self) -> alloc::string::String {
        self.inner.compiler.triple_name()
    }

    pub(crate) fn compiler(&self) -> &Compiler {
        &self.inner.compiler
    }

    pub(crate) fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Validate and compile `bytes` without loading the code: returns the
    /// size of the machine code. Works for any target, e.g. riscv64 on an
    /// x86-64 host.
    ///
    /// # Errors
    /// As [`crate::Module::new`].
    pub fn precompile(&self, bytes: &[u8]) -> Result<usize> {
        let (info, pending) = crate::compile::info::parse(bytes, self.inner.config.features)?;
        let image = crate::compile::compile_module(&*self.inner.compiler.isa, &self.inner.config, &info, pending)?;
        Ok(image.bytes.len())
    }

    /// Validate and compile `bytes` into a precompiled artifact (format in
    /// [`crate::artifact`]; it includes the wasm-to-host trampolines of the
    /// imported functions' types, array kind) that [`Module::deserialize`](crate::Module::deserialize)
    /// loads without compiling, on any engine with the same
    /// [`fingerprint`](Engine::fingerprint). Works for any target, e.g.
    /// riscv64 on an x86-64 host.
    ///
    /// # Errors
    /// As [`crate::Module::new`].
    pub fn precompile_artifact(&self, bytes: &[u8]) -> Result<alloc::vec::Vec<u8>> {
        let (info, pending) = crate::compile::info::parse(bytes, self.inner.config.features)?;
        let mut image = crate::compile::compile_module(&*self.inner.compiler.isa, &self.inner.config, &info, pending)?;
        image.host_trampolines = crate::compile::compile_import_trampolines(&*self.inner.compiler.isa, &info)?;
        crate::artifact::write(&self.inner.fingerprint, &crate::artifact::wasm_digest(bytes), &image)
    }

    /// The SHA-256 identifying everything that shapes this engine's
    /// machine code: the artifact format, this runtime's build (a hash of
    /// its source and compiler crate versions), the target triple, every
    /// Cranelift flag and ISA flag, and the code-changing
    /// [`Config`] fields (features, memory strategy, epoch interruption,
    /// fuel, optimisation). Two engines with the same fingerprint compile
    /// the same wasm to the same code.
    #[must_use]
    pub fn fingerprint(&self) -> [u8; 32] {
        self.inner.fingerprint
    }
}

/// See [`Engine::fingerprint`]. Stack sizes, parallel compilation, the
/// compile executor and Cranelift's IR verifier (on in debug builds) do not
/// change the generated code and are left out.
fn fingerprint(config: &Config, isa: &dyn cranelift_codegen::isa::TargetIsa) -> [u8; 32] {
    use core::fmt::Write as _;
    use sha2::Digest as _;
    let mut text = alloc::string::String::new();
    let _ = writeln!(text, "format {}", crate::artifact::FORMAT_VERSION);
    let _ = writeln!(text, "runtime {} build {}", env!("CARGO_PKG_VERSION"), env!("HYPHA_WASM_BUILD_ID"));
    let _ = writeln!(text, "triple {}", isa.triple());
    for flag in isa.flags().iter() {
        if flag.name != "enable_verifier" {
            let _ = writeln!(text, "flag {} = {}", flag.name, flag.value_string());
        }
    }
    for flag in isa.isa_flags() {
        let _ = writeln!(text, "isa {} = {}", flag.name, flag.value_string());
    }
    let _ = writeln!(text, "features {:?}", config.features);
    let _ = writeln!(text, "memory {:?}", config.memory_strategy);
    let _ = writeln!(text, "epoch {} fuel {} optimize {}", config.epoch_interruption, config.consume_fuel, config.optimize);
    sha2::Sha256::digest(text.as_bytes()).into()
}

// === impl TrampolineCache ===

/// A map behind a spin lock (no_std: no OS mutex). The lock is held only
/// for one map lookup or insertion, never while compiling.
#[derive(Default)]
struct TrampolineCache {
    locked: AtomicBool,
    map: UnsafeCell<BTreeMap<(FuncType, bool), Arc<CodeObject>>>,
}

// SAFETY: `map` is only reached through `with`, which holds `locked`, so at
// most one thread touches it at a time; its contents (FuncType, Arc of an
// immutable published code object) may move between threads.
unsafe impl Sync for TrampolineCache {}

impl TrampolineCache {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<(FuncType, bool), Arc<CodeObject>>) -> R) -> R {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            core::hint::spin_loop();
        }
        // SAFETY: we hold `locked` (acquired above, released below), so this
        // is the only reference to the map; `f` is a map lookup or insert
        // that does not re-enter the cache.
        let r = f(unsafe { &mut *self.map.get() });
        self.locked.store(false, Ordering::Release);
        r
    }
}
