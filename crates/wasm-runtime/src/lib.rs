//! Hypha's WebAssembly runtime: validate, translate to Cranelift IR,
//! compile, link, instantiate, run, and turn faults into traps.
//!
//! `no_std` + `alloc`. The `std` feature adds [`platform::HostPlatform`]
//! (mmap/mprotect/sigaction on Unix) and parallel compilation; the kernel
//! provides its own [`Platform`].
//!
//! Not here: WASI (the `hypha-wasi` crate), processes and scheduling (the
//! kernel), the fiber stacks and context switch themselves (`hypha-fiber`),
//! the spec-test runner (`hypha-wasm-spec`).
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
//! signature id. Signature ids are engine-wide (one registry per engine,
//! computed once per module at `Module::new`). Calls to defined functions
//! are direct; imported calls and `call_indirect` go through a `VMFuncRef`.
//! `call_indirect` checks bounds (`undefined element`), null
//! (`uninitialized element`) and the signature id.
//!
//! # Host functions and typed calls
//!
//! Host functions get a wasm-convention trampoline, compiled once per
//! engine and signature. Typed ones ([`Func::wrap`], [`Linker::func_wrap`]:
//! a Rust closure `Fn(Caller<'_, T>, A1, ..) -> R`) whose values are
//! scalars or references and that return at most one value get a *direct*
//! trampoline on x86-64: it calls a shim monomorphised for the closure in
//! the C convention, arguments and result in registers, no allocation.
//! Otherwise (dynamic [`Func::new`] / [`Linker::func_new`], v128, several
//! results, other targets) the trampoline spills the arguments to a stack
//! array of 16-byte slots and calls the shim with a pointer to it; the
//! dynamic shim converts to `Val`s on the stack (heap only past 8 values).
//! [`TypedFunc::call`] writes its arguments into a stack array and calls the
//! module's host-to-wasm trampoline for the type: no allocation either.
//!
//! # Instantiation
//!
//! `Module::new` lays each defined memory's active data segments out once
//! into a page-aligned image (when all have constant, in-bounds offsets);
//! instantiation hands it to [`Platform::map_image`] — copy-on-write from a
//! memfd on the host, a copy by default (the kernel). Dropped memories of
//! a module go back to a small per-module pool after
//! [`Platform::discard`] (host: `MADV_DONTNEED`, which also restores the
//! image pages) and the next instance reuses the reservation without a
//! system call; platforms that cannot discard release them instead.
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
//! # Async calls (`call_async`) and fibers
//!
//! [`Func::call_async`] / [`TypedFunc::call_async`] return a [`CallFuture`]
//! that runs the call on a `hypha-fiber` stack of
//! [`Config::async_stack_size`] bytes with a guard page below (allocated
//! through the [`Platform`], reused by the store's next async call). Each
//! poll resumes the fiber with the poll's `Context`; the guest runs until it
//! finishes, traps, or has to wait, and then the fiber switches back and the
//! poll returns `Pending`:
//!
//! - an **async host function** ([`Func::new_async`],
//!   [`Linker::func_new_async`]) returns a future ([`HostFuture`], which
//!   may borrow the [`Caller`] and the argument/result slices). The runtime
//!   polls it on the fiber with the outer task's context, so its waker wakes
//!   the task polling the `CallFuture`; while it is pending the guest is
//!   suspended inside the host call and resumes exactly there. Called from a
//!   synchronous [`Func::call`] it traps.
//! - an **epoch or fuel yield** (below) wakes the task and suspends.
//!
//! Traps work on a fiber exactly as on the main stack. What ties a store to
//! "the call that is running" — the innermost activation with its jump
//! buffer, the stack limit, the async context and the thread's
//! current-activation slot read by the fault handler — is saved and
//! restored by both sides of every switch (`vm::fiber::CallState`), so a
//! fault always resumes on the stack that faulted, and between polls the
//! store is idle. On a fiber the stack limit is the higher of
//! `entry sp - max_wasm_stack` and the fiber's guard plus
//! [`ASYNC_HOST_RESERVE`] (kept for host code), so deep recursion traps
//! with "call stack exhausted", never touching the guard page.
//!
//! Dropping a pending `CallFuture` cancels the call: the fiber is resumed
//! with a cancellation, the suspension point (host future or yield) returns
//! a trap, the guest frames unwind through the normal trap path, the host
//! future is dropped on its own stack, and the store stays usable. A
//! `CallFuture` that is leaked (`mem::forget`) leaks its fiber stack but
//! leaves the store consistent. `CallFuture` is not `Send` (nor is
//! [`Store`]).
//!
//! ```
//! # use hypha_wasm::*;
//! # use core::{future::Future, pin::pin, task::{Context, Poll, Waker}};
//! # fn block_on<F: Future>(f: F) -> F::Output {
//! #     let mut f = pin!(f);
//! #     let mut cx = Context::from_waker(Waker::noop());
//! #     loop { if let Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! let engine = Engine::host(Config::default())?;
//! let wat = r#"(module (import "env" "read" (func $read (result i32)))
//!                      (func (export "run") (result i32) (i32.add (call $read) (i32.const 1))))"#;
//! # let bytes = wat::parse_str(wat).unwrap();
//! let module = Module::new(&engine, &bytes)?;
//! let mut linker = Linker::new();
//! linker.func_new_async("env", "read", FuncType::new([], [ValType::I32]), |_caller, _params, results| {
//!     Box::pin(async move {
//!         // e.g. wait for the console; here: an already-ready future.
//!         results[0] = Val::I32(core::future::ready(41).await);
//!         Ok(())
//!     })
//! });
//! let mut store = Store::new(&engine, ());
//! let instance = linker.instantiate(&mut store, &module)?;
//! let run = instance.get_typed_func::<(), i32, _>(&mut store, "run")?;
//! assert_eq!(block_on(run.call_async(&mut store, ()))?, 42);
//! # Ok::<(), Error>(())
//! ```
//!
//! # Preemption: epochs and fuel
//!
//! Both are off by default and then emit no code at all.
//!
//! **Epochs** ([`Config::epoch_interruption`]). [`Engine::increment_epoch`]
//! is one relaxed atomic add, callable from any thread or a timer
//! interrupt. Compiled code checks at every function entry and loop header
//! (so every back-edge): one load of the engine's counter (its address is
//! loaded once per function from the store's limits record via the
//! vmctx), a compare with the store's deadline (cached in a register,
//! reloaded after calls) and a not-taken branch. When the deadline is
//! reached the code calls into the runtime, which applies the store's
//! policy: [`StoreContext::epoch_deadline_trap`] (the default) traps with
//! [`TrapCode::Interrupt`] (`"interrupt"`);
//! [`StoreContext::epoch_deadline_async_yield_and_update`]`(delta)` inside
//! `call_async` wakes the task, suspends (the future returns `Pending`) and
//! moves the deadline to `now + delta`, and still traps in a synchronous
//! call. [`StoreContext::set_epoch_deadline`]`(ticks)` sets the deadline to
//! `now + ticks`; until it is called the deadline is "never". An infinite
//! loop stops at its next iteration after the tick that reaches the
//! deadline.
//!
//! **Fuel** ([`Config::consume_fuel`]): a deterministic instruction budget.
//! Every operator costs 1 (`nop`, `block`, `loop`, `end`, `else`: 0); the
//! costs of a basic block are added to a counter (held in a register,
//! stored back around calls and returns) once per block, and the counter is
//! checked at function entry and loop headers. With no fuel left the store
//! traps with [`TrapCode::OutOfFuel`] (`"all fuel consumed"`) — at the same
//! instruction on every run. [`StoreContext::set_fuel`] /
//! [`StoreContext::get_fuel`]; [`StoreContext::fuel_async_yield_interval`]
//! hands the fuel out in slices inside `call_async`, yielding after each.
//!
//! **Costs** (x86-64 host, `cargo run --release -p hypha-wasm --example
//! preempt_cost`; indicative): on a 3-operator loop running at 0.5 ns per
//! iteration, epochs add about 0.06 ns (+12 %) and fuel about 0.09 ns
//! (+18 %) per iteration. A suspend + resume of the guest in an async host
//! call (two fiber switches, the call-state swaps, one extra poll) costs
//! about 60 ns; `call_async` of a trivial function costs about 100 ns more
//! than `call` (fiber set-up on the cached stack and two switches).
//! The spec suite passes unchanged with both on:
//! `cargo run --release -p hypha-wasm-spec -- --preempt`.
//!
//! Not yet: a fault on a fiber's guard page is classified like any other
//! wasm fault (wasm never reaches it: the stack limit keeps
//! [`ASYNC_HOST_RESERVE`] above it; host code that overflows it kills the
//! process), and a `CallFuture` cannot move between threads.
//!
//! # Not supported yet
//!
//! GC, exceptions, memory64, function references,
//! relaxed SIMD, threads, custom page sizes, components. Externrefs are
//! never collected: they live as long as their store.
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod artifact;
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
mod suspender;
mod trap;
mod types;
mod values;
mod vm;

#[cfg(test)]
mod tests;

pub use artifact::ArtifactError;
pub use config::{ASYNC_HOST_RESERVE, CompileExecutor, Config, Features, MemoryStrategy};
pub use engine::Engine;
pub use error::{Error, Result};
pub use externs::{Extern, Global, Memory, Table};
pub use func::{Caller, Func, HostDefinition, HostFn, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmRet, WasmTy};
pub use func_async::{CallFuture, HostFuture};
pub use instance::Instance;
pub use linker::Linker;
pub use module::Module;
pub use platform::Platform;
pub use store::{AsContextMut, Store, StoreContext};
pub use suspender::Suspender;
pub use trap::{FrameInfo, Trap, TrapCode};
pub use types::{ExternType, FuncType, GlobalType, MemoryType, RefType, TableType, ValType};
pub use values::{ExternRef, Val};
