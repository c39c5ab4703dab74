//! Epoch and fuel checks compiled into function bodies.
//!
//! Both are off by default; when off nothing here emits any code.
//!
//! **Epochs.** At function entry the translator loads the store's limits
//! record (`vmctx` slot 2), the engine's epoch counter address and the
//! store's deadline (kept in a Cranelift variable). Each check — at entry
//! and at every loop header, which is where every back-edge lands — is one
//! load of the epoch counter, a compare with the cached deadline and a
//! branch to a cold block that calls the `EpochInterrupt` libcall. The
//! runtime re-checks against the real deadline there (the cached one may be
//! stale after a call), applies the store's policy (yield or trap) and the
//! code reloads the deadline. The deadline is also reloaded after calls, as
//! a host function may have moved it.
//!
//! **Fuel.** The store's `fuel_consumed` counter (negative while fuel
//! remains) lives in a variable. Each operator adds its cost (1, or 0 for
//! `nop`/`block`/`loop`/`end`/`else`) to a compile-time sum that is added
//! to the variable once per basic block, when the block ends. The variable
//! is written back before calls, returns and the out-of-fuel libcall, and
//! reloaded after calls. At function entry and loop headers, a counter at
//! or above zero (no fuel left) calls `OutOfFuel`, which traps (or, when configured in async calls,
//! refuels from the reserve and yields). Counting per operator and checking
//! at fixed points makes the trap deterministic: the same program with the
//! same fuel stops at the same place every run.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};
use cranelift_frontend::Variable;
use wasmparser::Operator;

use super::translate::FuncTranslator;
use crate::error::Result;
use crate::vm::layout::{self, Libcall};

/// Per-function state of the epoch and fuel instrumentation.
#[derive(Debug, Default)]
pub(crate) struct Preempt {
    /// The store's `VMRuntimeLimits`, loaded once at entry.
    limits: Option<Value>,
    /// The engine's epoch counter address (epochs on).
    epoch_ptr: Option<Value>,
    /// The cached deadline (epochs on).
    deadline: Option<Variable>,
    /// `fuel_consumed` (fuel on).
    fuel: Option<Variable>,
    /// Cost of the operators of the current block not yet added to `fuel`.
    pending_fuel: i64,
}

/// What an operator means for the instrumentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpClass {
    /// Straight-line code.
    Plain,
    /// Ends or splits a basic block (add the pending fuel first).
    Branch,
    /// May leave the function through a branch to its outermost block.
    BranchOut,
    /// Calls (write fuel back before, reload fuel and deadline after).
    Call,
    /// Leaves the function (write fuel back before).
    Leave,
}

fn classify(op: &Operator<'_>) -> OpClass {
    match op {
        Operator::Loop { .. } | Operator::If { .. } | Operator::Else | Operator::Unreachable => OpClass::Branch,
        Operator::Br { .. }
        | Operator::BrIf { .. }
        | Operator::BrTable { .. }
        | Operator::BrOnNull { .. }
        | Operator::BrOnNonNull { .. }
        | Operator::End => OpClass::BranchOut,
        Operator::Call { .. } | Operator::CallIndirect { .. } | Operator::CallRef { .. } => OpClass::Call,
        Operator::Return
        | Operator::ReturnCall { .. }
        | Operator::ReturnCallIndirect { .. }
        | Operator::ReturnCallRef { .. } => OpClass::Leave,
        _ => OpClass::Plain,
    }
}

fn fuel_cost(op: &Operator<'_>) -> i64 {
    match op {
        Operator::Nop | Operator::Block { .. } | Operator::Loop { .. } | Operator::End | Operator::Else => 0,
        _ => 1,
    }
}

/// Does a branch op possibly target the function's outermost block?
fn leaves_function(t: &FuncTranslator<'_, '_>, op: &Operator<'_>) -> Result<bool> {
    Ok(match op {
        Operator::Br { relative_depth }
        | Operator::BrIf { relative_depth }
        | Operator::BrOnNull { relative_depth }
        | Operator::BrOnNonNull { relative_depth } => t.targets_function_exit(*relative_depth),
        Operator::BrTable { targets } => {
            let mut out = t.targets_function_exit(targets.default());
            for d in targets.targets() {
                out |= t.targets_function_exit(d?);
            }
            out
        }
        // `end` of the function body falls through to the return.
        Operator::End => t.targets_function_exit(0),
        _ => false,
    })
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl FuncTranslator<'_, '_> {
    /// At function entry (after the locals are set up): load what the
    /// checks need and run them once.
    pub(super) fn preempt_entry(&mut self) {
        let (epoch, fuel) = (self.env.epoch_interruption, self.env.consume_fuel);
        if !epoch && !fuel {
            return;
        }
        let readonly = MemFlagsData::trusted().with_readonly().with_can_move();
        let limits = self.b.ins().load(types::I64, readonly, self.vmctx, layout::VMCTX_LIMITS);
        self.preempt.limits = Some(limits);
        if fuel {
            let var = self.b.declare_var(types::I64);
            let v = self.b.ins().load(types::I64, trusted(), limits, layout::LIMITS_FUEL_CONSUMED);
            self.b.def_var(var, v);
            self.preempt.fuel = Some(var);
        }
        if epoch {
            let ptr = self.b.ins().load(types::I64, readonly, limits, layout::LIMITS_EPOCH_PTR);
            self.preempt.epoch_ptr = Some(ptr);
            let var = self.b.declare_var(types::I64);
            let v = self.b.ins().load(types::I64, trusted(), limits, layout::LIMITS_EPOCH_DEADLINE);
            self.b.def_var(var, v);
            self.preempt.deadline = Some(var);
        }
        self.preempt_checks();
    }

    /// At a loop header (the target of every back-edge).
    pub(super) fn preempt_loop_header(&mut self) {
        self.preempt_checks();
    }

    /// Before lowering a reachable operator.
    pub(super) fn preempt_before_op(&mut self, op: &Operator<'_>) -> Result<()> {
        if self.preempt.fuel.is_none() {
            return Ok(());
        }
        self.preempt.pending_fuel += fuel_cost(op);
        match classify(op) {
            OpClass::Plain => {}
            OpClass::Branch => self.flush_fuel(),
            OpClass::BranchOut => {
                self.flush_fuel();
                if leaves_function(self, op)? {
                    self.store_fuel();
                }
            }
            OpClass::Call | OpClass::Leave => {
                self.flush_fuel();
                self.store_fuel();
            }
        }
        Ok(())
    }

    /// After lowering an operator.
    pub(super) fn preempt_after_op(&mut self, op: &Operator<'_>) {
        if classify(op) != OpClass::Call {
            return;
        }
        self.reload_fuel();
        self.reload_deadline();
    }

    fn preempt_checks(&mut self) {
        if self.preempt.fuel.is_some() {
            self.fuel_check();
        }
        if self.preempt.epoch_ptr.is_some() {
            self.epoch_check();
        }
    }

    /// Branch to a cold block running `slow` when `cond` is set; continue
    /// in a fresh block either way.
    fn cold_path(&mut self, cond: Value, slow: impl FnOnce(&mut Self)) {
        let slow_block = self.b.create_block();
        let cont = self.b.create_block();
        self.b.ins().brif(cond, slow_block, &[], cont, &[]);
        self.b.seal_block(slow_block);
        self.b.set_cold_block(slow_block);
        self.b.switch_to_block(slow_block);
        slow(self);
        self.b.ins().jump(cont, &[]);
        self.b.seal_block(cont);
        self.b.switch_to_block(cont);
    }

    fn epoch_check(&mut self) {
        let (Some(ptr), Some(deadline)) = (self.preempt.epoch_ptr, self.preempt.deadline) else {
            return;
        };
        let epoch = self.b.ins().load(types::I64, trusted(), ptr, 0);
        let deadline = self.b.use_var(deadline);
        let reached = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, epoch, deadline);
        self.cold_path(reached, |t| {
            t.store_fuel();
            t.trapping_libcall(Libcall::EpochInterrupt, &[]);
            t.reload_deadline();
            t.reload_fuel();
        });
    }

    fn fuel_check(&mut self) {
        let Some(var) = self.preempt.fuel else { return };
        let consumed = self.b.use_var(var);
        let out = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, consumed, 0);
        self.cold_path(out, |t| {
            t.store_fuel();
            t.trapping_libcall(Libcall::OutOfFuel, &[]);
            t.reload_fuel();
        });
    }

    /// Add the current block's operator costs to the fuel variable.
    fn flush_fuel(&mut self) {
        let Some(var) = self.preempt.fuel else { return };
        let pending = core::mem::take(&mut self.preempt.pending_fuel);
        if pending == 0 {
            return;
        }
        let v = self.b.use_var(var);
        let v = self.b.ins().iadd_imm_s(v, pending);
        self.b.def_var(var, v);
    }

    fn store_fuel(&mut self) {
        let (Some(var), Some(limits)) = (self.preempt.fuel, self.preempt.limits) else { return };
        let v = self.b.use_var(var);
        self.b.ins().store(trusted(), v, limits, layout::LIMITS_FUEL_CONSUMED);
    }

    fn reload_fuel(&mut self) {
        let (Some(var), Some(limits)) = (self.preempt.fuel, self.preempt.limits) else { return };
        let v = self.b.ins().load(types::I64, trusted(), limits, layout::LIMITS_FUEL_CONSUMED);
        self.b.def_var(var, v);
    }

    fn reload_deadline(&mut self) {
        let (Some(var), Some(limits)) = (self.preempt.deadline, self.preempt.limits) else { return };
        let v = self.b.ins().load(types::I64, trusted(), limits, layout::LIMITS_EPOCH_DEADLINE);
        self.b.def_var(var, v);
    }
}
