//! [`Config`]: what an [`Engine`](crate::Engine) compiles for and accepts.

use target_lexicon::Triple;

/// WebAssembly proposals the engine accepts. A module using a disabled
/// feature fails validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[expect(clippy::struct_excessive_bools, reason = "one switch per proposal, like the spec")]
pub struct Features {
    /// Import/export of mutable globals (2.0).
    pub mutable_global: bool,
    /// `i32.extend8_s` and friends (2.0).
    pub sign_extension: bool,
    /// `*.trunc_sat_*` (2.0).
    pub saturating_float_to_int: bool,
    /// Multiple results and block parameters (2.0).
    pub multi_value: bool,
    /// `memory.copy`/`fill`/`init`, passive segments (2.0).
    pub bulk_memory: bool,
    /// funcref/externref values, multiple tables, table ops (2.0).
    pub reference_types: bool,
    /// Fixed-width 128-bit SIMD (2.0).
    pub simd: bool,
    /// `return_call`, `return_call_indirect` (3.0).
    pub tail_call: bool,
    /// Arithmetic in constant expressions (3.0).
    pub extended_const: bool,
    /// Several memories per module (3.0).
    pub multi_memory: bool,
    /// Typed function references (3.0): non-nullable and concrete
    /// reference types, `call_ref`, `return_call_ref`, `ref.as_non_null`,
    /// `br_on_null`, `br_on_non_null`, tables with initialiser expressions.
    /// Together with `extended_const` it also enables 3.0's constant
    /// expressions reading any earlier immutable global. The rest of GC is
    /// not supported: GC types and instructions are rejected.
    pub function_references: bool,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            mutable_global: true,
            sign_extension: true,
            saturating_float_to_int: true,
            multi_value: true,
            bulk_memory: true,
            reference_types: true,
            simd: true,
            tail_call: true,
            extended_const: true,
            multi_memory: true,
            function_references: true,
        }
    }
}

impl Features {
    pub(crate) fn to_wasmparser(self) -> wasmparser::WasmFeatures {
        use wasmparser::WasmFeatures as W;
        let mut f = W::FLOATS | W::GC_TYPES;
        let pairs = [
            (self.mutable_global, W::MUTABLE_GLOBAL),
            (self.sign_extension, W::SIGN_EXTENSION),
            (self.saturating_float_to_int, W::SATURATING_FLOAT_TO_INT),
            (self.multi_value, W::MULTI_VALUE),
            (self.bulk_memory, W::BULK_MEMORY),
            (self.reference_types, W::REFERENCE_TYPES),
            (self.simd, W::SIMD),
            (self.tail_call, W::TAIL_CALL),
            (self.extended_const, W::EXTENDED_CONST),
            (self.multi_memory, W::MULTI_MEMORY),
            (self.function_references, W::FUNCTION_REFERENCES),
            // wasmparser ties `global.get` of a module-defined global in a
            // constant expression to its GC feature; the GC types and
            // instructions it would also admit are rejected by our own
            // checks (`gc_free` in compile/info.rs and the translator).
            (self.function_references && self.extended_const, W::GC),
        ];
        for (on, flag) in pairs {
            if on {
                f |= flag;
            }
        }
        f
    }
}

/// How linear memory accesses are kept in bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemoryStrategy {
    /// Reserve 8 GiB of address space per 32-bit memory (4 GiB of index
    /// space plus a 4 GiB guard covering any static offset) and commit pages
    /// on grow. Compiled code does no bounds checks; an out-of-bounds access
    /// faults and becomes a trap.
    #[default]
    GuardPages,
    /// Compiled code compares every access against the current length.
    /// Reserves only the memory's maximum size.
    BoundsChecks,
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted proposals.
    pub features: Features,
    /// Linear memory strategy.
    pub memory_strategy: MemoryStrategy,
    /// Bytes of native stack wasm code may use below the point where the
    /// host first called into it.
    pub max_wasm_stack: usize,
    /// Target to compile for; `None` means the host.
    pub target: Option<Triple>,
    /// Let Cranelift optimise (`speed`); otherwise `none`.
    pub optimize: bool,
    /// Compile functions on several threads (std only).
    pub parallel_compilation: bool,
    /// Compile an epoch check into every function entry and loop header:
    /// one load of [`Engine::increment_epoch`](crate::Engine::increment_epoch)'s
    /// counter and a compare with the store's deadline. No code is emitted
    /// when off.
    pub epoch_interruption: bool,
    /// Meter fuel: every executed wasm operator costs one unit, counted per
    /// basic block and checked at function entry and loop headers. No code
    /// is emitted when off.
    pub consume_fuel: bool,
    /// Bytes of the guard-paged stack each [`Func::call_async`](crate::Func::call_async)
    /// runs on. Wasm may use up to `max_wasm_stack` of it; the last
    /// [`ASYNC_HOST_RESERVE`] bytes are kept for host functions.
    pub async_stack_size: usize,
    /// Idle `async_stack_size` stacks the engine keeps, still committed,
    /// for later calls of any of its stores instead of releasing them when
    /// a store drops (saves reserving, committing — zeroing — and releasing
    /// the whole stack per store). Reused stacks are not cleared. 0: none
    /// kept. [`Engine::release_idle_stacks`](crate::Engine::release_idle_stacks)
    /// gives them back.
    pub async_stack_pool: usize,
    /// Runs compilation jobs in parallel on the embedder's own workers
    /// (e.g. the kernel's executor on every hart). When set it replaces the
    /// `std` thread pool of [`Config::parallel_compilation`] (which must
    /// also be on); `None` compiles on the calling thread (or std threads).
    pub compile_executor: Option<alloc::sync::Arc<dyn CompileExecutor>>,
}

/// Runs a batch of independent compilation jobs, possibly in parallel.
/// Cranelift needs deep stacks: each job should run on a stack of at least
/// 1 MiB.
pub trait CompileExecutor: Send + Sync + core::fmt::Debug {
    /// How many jobs are worth running at once (e.g. the number of CPUs).
    fn parallelism(&self) -> usize;
    /// Runs `job(0)`, `job(1)`, …, `job(jobs - 1)`, each exactly once, in
    /// any order and on any CPUs, and returns only when all have returned.
    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync));
}

/// Bytes at the bottom of an async call's fiber stack that wasm code may
/// not use, so host functions called from the deepest wasm frame still have
/// room to run.
pub const ASYNC_HOST_RESERVE: usize = 128 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            features: Features::default(),
            memory_strategy: MemoryStrategy::default(),
            max_wasm_stack: 1 << 20,
            target: None,
            optimize: true,
            parallel_compilation: true,
            epoch_interruption: false,
            consume_fuel: false,
            async_stack_size: 2 << 20,
            async_stack_pool: 0,
            compile_executor: None,
        }
    }
}
