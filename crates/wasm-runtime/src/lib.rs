//! Hypha's WebAssembly runtime: validate, translate to Cranelift IR,
//! compile, link, instantiate, run, and turn faults into traps.
//!
//! `no_std` + `alloc`. The `std` feature adds [`platform::HostPlatform`]
//! (mmap/mprotect/sigaction on Unix) and parallel compilation; the kernel
//! provides its own [`Platform`].
//!
//! Not here: WASI (the `hypha-wasi` crate), processes, fibers and
//! scheduling (the kernel), the spec-test runner (`hypha-wasm-spec`).
//!
//! # Pipeline
//!
//! 1. `compile::info` runs wasmparser's validator over the module and
//!    collects types, imports, exports, segments and names. Disabled
//!    [`Features`] are rejected here. Errors carry the byte offset.
//! 2. `compile::translate` (+ `compile::simd`) is our own translator from
//!    wasm operators to Cranelift IR, validating each operator as it goes.
//! 3. `compile` runs Cranelift (in parallel threads with `std`), lays out
//!    all functions and the host-to-wasm trampolines in one image and
//!    patches call relocations (x86-64, riscv64, aarch64 forms).
//! 4. `vm::code` copies the image into memory that is written, then
//!    flipped to read+execute — never both.
//!
//! # Calling convention and `vmctx`
//!
//! Every wasm function uses Cranelift's `tail` convention with signature
//! `(callee_vmctx, caller_vmctx, params...) -> results`, so `return_call`
//! works everywhere. The `vmctx` is a flat array of pointer slots (layout in
//! `vm::layout`): store, stack-limit record, libcall table, instance, then
//! pointers to each memory / table / global definition, each function's
//! `VMFuncRef` `{code, vmctx, type_id, array_call}` and each type's
//! store-wide signature id. Calls to defined functions are direct;
//! imported calls and `call_indirect` go through a `VMFuncRef`.
//! `call_indirect` checks bounds (`undefined element`), null
//! (`uninitialized element`) and the signature id. Host functions get a
//! generated wasm-convention trampoline that spills arguments to a stack
//! array and calls a Rust shim.
//!
//! # Linear memory
//!
//! [`MemoryStrategy::GuardPages`] reserves 8 GiB + 64 KiB per 32-bit
//! memory (index space + static-offset guard) and commits pages on grow;
//! compiled code does no bounds checks. [`MemoryStrategy::BoundsChecks`]
//! reserves only the maximum size and compares every access with the
//! current length. Either way the base never moves, and `memory.grow`
//! returns -1 past the module maximum or the store's page limit.
//!
//! # Traps
//!
//! Compiled code traps with Cranelift trap instructions (recorded per
//! offset in the module's trap table) or by faulting on a guard page. The
//! platform's fault handler calls [`platform::handle_fault`], which finds
//! the pc in the store's code objects, records the [`TrapCode`] and a
//! frame-pointer backtrace in the current activation, and redirects the pc
//! to `hypha_wasm_resume` — a longjmp we wrote (`vm::arch`) back to the
//! host-to-wasm entry, which returns [`Error::Trap`]. Libcalls and host
//! functions record a full [`Trap`] and return a status that the compiled
//! code turns into a "pending" trap. Stack overflow is caught by a
//! prologue check against the store's stack limit (set to
//! `entry sp - Config::max_wasm_stack`). The store stays usable after any trap.
//!
//! # Not supported yet
//!
//! Epoch interruption and fuel (switches reserved in [`Config`]), fibers /
//! async host calls, GC, exceptions, memory64, function references,
//! relaxed SIMD, threads, custom page sizes, components. Externrefs are
//! never collected: they live as long as their store.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod compile;
mod config;
mod engine;
mod error;
mod externs;
mod func;
mod func_async;
mod instance;
mod linker;
mod module;
pub mod platform;
mod store;
mod trap;
mod types;
mod values;
mod vm;

#[cfg(test)]
mod tests;

pub use config::{ASYNC_HOST_RESERVE, Config, Features, MemoryStrategy};
pub use engine::Engine;
pub use error::{Error, Result};
pub use externs::{Extern, Global, Memory, Table};
pub use func::{Caller, Func, HostFn, TypedFunc, WasmParams, WasmResults, WasmTy};
pub use func_async::{CallFuture, HostFuture};
pub use instance::Instance;
pub use linker::Linker;
pub use module::Module;
pub use platform::Platform;
pub use store::{AsContextMut, Store, StoreContext};
pub use trap::{FrameInfo, Trap, TrapCode};
pub use types::{ExternType, FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
pub use values::{ExternRef, Val};
