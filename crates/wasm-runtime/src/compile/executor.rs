//! Compiling a module's functions on an embedder's [`CompileExecutor`]
//! (the kernel: executor tasks on every hart).
//!
//! Functions are handed out one at a time from a shared counter, so every
//! job keeps busy until none are left (function sizes differ a lot, a fixed
//! split would leave workers idle). Function `i` is taken by exactly the
//! job that claimed `i` from the counter, and its result is written to slot
//! `i` by that job only; the caller reads the slots after
//! [`CompileExecutor::run`] returned, which happens after every job.

use alloc::string::ToString;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cranelift_codegen::Context;
use cranelift_codegen::isa::TargetIsa;
use cranelift_frontend::FunctionBuilderContext;

use super::info::PendingFunc;
use super::translate::TranslateEnv;
use super::{CompiledFunc, compile_body};
use crate::config::CompileExecutor;
use crate::error::{Error, Result};

/// One function's input and output, owned by whichever job claimed it.
struct Slot<'a> {
    input: UnsafeCell<Option<PendingFunc<'a>>>,
    output: UnsafeCell<Option<Result<CompiledFunc>>>,
}

/// The slots, shared by the jobs.
struct Slots<'a>(Vec<Slot<'a>>);

// SAFETY: slot `i` is only touched by the job that claimed index `i` from
// the shared counter (a unique claim) and, after `run` returned (every job
// finished), by the caller alone. `PendingFunc` and `CompiledFunc` are
// `Send` (the std thread pool moves them between threads too).
unsafe impl Sync for Slots<'_> {}

/// Compile `pending` in parallel on `executor`; results in input order.
pub(super) fn compile_with(
    executor: &dyn CompileExecutor,
    isa: &dyn TargetIsa,
    env: &TranslateEnv<'_>,
    pending: Vec<PendingFunc<'_>>,
) -> Result<Vec<CompiledFunc>> {
    let total = pending.len();
    let slots = Slots(
        pending
            .into_iter()
            .map(|f| Slot { input: UnsafeCell::new(Some(f)), output: UnsafeCell::new(None) })
            .collect(),
    );
    let next = AtomicUsize::new(0);
    // Set by the first job whose function fails: the others stop claiming.
    let failed = AtomicBool::new(false);
    let jobs = executor.parallelism().clamp(1, total.max(1));
    let shared = &slots;
    let job = |_: usize| {
        let mut fctx = FunctionBuilderContext::new();
        let mut ctx = Context::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = shared.0.get(i) else { break };
            // SAFETY: index `i` was claimed by this job alone (above).
            let input = unsafe { (*slot.input.get()).take() };
            let result = match input {
                Some(f) => compile_body(isa, env, f, &mut fctx, &mut ctx),
                None => Err(Error::Compile("function claimed twice".to_string())),
            };
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
                // A failed translation leaves the builder context dirty.
                fctx = FunctionBuilderContext::new();
            }
            // SAFETY: as above: only this job writes slot `i`.
            unsafe { *slot.output.get() = Some(result) };
        }
    };
    executor.run(jobs, &job);
    let outputs: Vec<Option<Result<CompiledFunc>>> = slots.0.into_iter().map(|slot| slot.output.into_inner()).collect();
    // The first real error wins over "not compiled" (functions left
    // unclaimed after a failure).
    if let Some(first) = outputs.iter().position(|o| matches!(o, Some(Err(_)))) {
        if let Some(Some(Err(e))) = outputs.into_iter().nth(first) {
            return Err(e);
        }
        return Err(Error::Compile("compile error lost".to_string()));
    }
    outputs.into_iter().map(|o| o.unwrap_or_else(|| Err(Error::Compile("a compile job did not run".to_string())))).collect()
}
