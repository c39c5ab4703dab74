//! Translation of one WebAssembly function body into Cranelift IR.
//!
//! A single pass over the operators: each one is first checked by
//! wasmparser's function validator, then lowered. Wasm locals become
//! Cranelift variables; the operand stack is a `Vec<Value>`; each
//! `block`/`loop`/`if` becomes Cranelift blocks whose parameters carry the
//! block's results (or, for loops, its parameters). Code after an
//! unconditional branch is validated but not lowered.
//!
//! Scalar, memory, table, call and control operators are here; SIMD
//! operators are in `simd.rs`.

use alloc::vec::Vec;

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::immediates::{Ieee32, Ieee64};
use cranelift_codegen::ir::{
    self, AbiParam, AliasRegion, AliasRegionData, BlockArg, ConstantData, Endianness, ExtFuncData, ExternalName, FuncRef, InstBuilder, MemFlagsData,
    SigRef, Signature, TrapCode as ClTrap, Type, UserExternalName, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};
use hashbrown::HashMap;
use wasmparser::{BlockType, FuncValidator, MemArg, Operator, ValidatorResources};

use super::{TRAP_NULL_FUNC_REFERENCE, TRAP_NULL_REFERENCE, TRAP_PENDING, TRAP_SIG_MISMATCH, TRAP_TABLE_OOB, TRAP_UNDEFINED_ELEMENT,
    TRAP_UNINIT_ELEMENT, TRAP_UNREACHABLE};
use crate::compile::info::ModuleInfo;
use crate::config::MemoryStrategy;
use crate::error::{Error, Result};
use crate::types::{FuncType, ValType};
use crate::vm::layout::{self, Libcall, VmOffsets};

/// What the translator needs to know about the module and target.
pub(crate) struct TranslateEnv<'a> {
    pub info: &'a ModuleInfo,
    pub offsets: VmOffsets,
    pub strategy: MemoryStrategy,
    pub host_call_conv: CallConv,
    pub frontend_config: cranelift_codegen::isa::TargetFrontendConfig,
    /// Emit epoch checks (see `preempt`).
    pub epoch_interruption: bool,
    /// Emit fuel metering (see `preempt`).
    pub consume_fuel: bool,
}

/// The Cranelift type of a wasm value type.
pub(crate) fn cl_type(t: ValType) -> Type {
    match t {
        ValType::I32 => types::I32,
        ValType::I64 | ValType::FuncRef | ValType::ExternRef | ValType::Ref(_) => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
    }
}

/// The wasm calling convention signature of `ty`:
/// `(callee_vmctx, caller_vmctx, params...) -> results`.
pub(crate) fn wasm_signature(ty: &FuncType) -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.push(AbiParam::special(types::I64, ir::ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.extend(ty.params().iter().map(|t| AbiParam::new(cl_type(*t))));
    sig.returns.extend(ty.results().iter().map(|t| AbiParam::new(cl_type(*t))));
    sig
}

/// From this many call sites on, a function reloads memory bases after
/// calls instead of keeping one hoisted value (see
/// `FuncTranslator::memory_base`).
const MANY_CALLS: usize = 64;

/// The number of wasm call sites (of any kind; libcalls do not count) in a
/// function body.
fn call_sites(body: &wasmparser::FunctionBody<'_>) -> Result<usize> {
    let mut reader = body.get_operators_reader()?;
    let mut n = 0;
    while !reader.eof() {
        if matches!(
            reader.read()?,
            Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::CallRef { .. }
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. }
        ) {
            n += 1;
        }
    }
    Ok(n)
}

/// Operators of the GC proposal (and custom descriptors, which builds on it).
fn is_gc_op(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::RefEq
            | O::StructNew { .. }
            | O::StructNewDefault { .. }
            | O::StructGet { .. }
            | O::StructGetS { .. }
            | O::StructGetU { .. }
            | O::StructSet { .. }
            | O::ArrayNew { .. }
            | O::ArrayNewDefault { .. }
            | O::ArrayNewFixed { .. }
            | O::ArrayNewData { .. }
            | O::ArrayNewElem { .. }
            | O::ArrayGet { .. }
            | O::ArrayGetS { .. }
            | O::ArrayGetU { .. }
            | O::ArraySet { .. }
            | O::ArrayLen
            | O::ArrayFill { .. }
            | O::ArrayCopy { .. }
            | O::ArrayInitData { .. }
            | O::ArrayInitElem { .. }
            | O::RefTestNonNull { .. }
            | O::RefTestNullable { .. }
            | O::RefCastNonNull { .. }
            | O::RefCastNullable { .. }
            | O::BrOnCast { .. }
            | O::BrOnCastFail { .. }
            | O::AnyConvertExtern
            | O::ExternConvertAny
            | O::RefI31
            | O::I31GetS
            | O::I31GetU
            | O::StructNewDesc { .. }
            | O::StructNewDefaultDesc { .. }
            | O::RefGetDesc { .. }
            | O::RefCastDescEqNonNull { .. }
            | O::RefCastDescEqNullable { .. }
            | O::BrOnCastDescEq { .. }
            | O::BrOnCastDescEqFail { .. }
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Loop(ir::Block),
    If(Else),
}

/// Where an `if`'s false edge goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Else {
    /// Straight to the `if`'s `next` block (possible when its parameters
    /// and results agree, as an `if` without `else` requires): no block of
    /// its own unless an `else` turns up, which then retargets `branch`.
    ToNext { branch: ir::Inst },
    /// To this block, created up front because parameters and results
    /// differ (so an `else` must follow).
    Block(ir::Block),
    /// The `else` arm has been entered.
    Seen,
}

#[derive(Debug)]
struct Control {
    kind: Kind,
    /// Block after `end`; its parameters are the results.
    next: ir::Block,
    num_params: usize,
    num_results: usize,
    /// Stack height below this block's parameters.
    height: usize,
    /// Whether anything branches to or falls through to `next`.
    next_reachable: bool,
}

/// Translates one function.
pub(crate) struct FuncTranslator<'a, 'b> {
    pub(super) b: FunctionBuilder<'b>,
    pub(super) env: &'a TranslateEnv<'a>,
    validator: FuncValidator<ValidatorResources>,
    pub(super) stack: Vec<Value>,
    control: Vec<Control>,
    locals: Vec<Variable>,
    reachable: bool,
    unreachable_depth: u32,
    pub(super) vmctx: Value,
    sigs: HashMap<u32, SigRef>,
    funcs: HashMap<u32, FuncRef>,
    libcall_sigs: HashMap<(usize, bool), SigRef>,
    pub(super) preempt: super::preempt::Preempt,
    regions: Regions,
    /// Whether the body has at least [`MANY_CALLS`] call sites; see
    /// [`Self::memory_base`].
    many_calls: bool,
}

/// Alias regions: disjoint kinds of memory, so that Cranelift's alias
/// analysis can keep a load from one kind across stores to another (e.g. a
/// mutable global such as `__stack_pointer` across linear-memory stores,
/// or a table element across both). A store without a region is a barrier
/// to every later load; calls still are.
#[derive(Debug, Clone, Copy)]
struct Regions {
    /// Every linear memory (two memory indices may be the same memory).
    heap: AliasRegion,
    /// Table elements (`table.get`/`set`, `call_indirect`'s funcref load).
    table_elems: AliasRegion,
    /// Imported mutable globals (two imports may be the same global).
    imported_globals: AliasRegion,
    /// Lengths and bases of memories and tables: written only by the
    /// runtime (grow libcalls, which are calls).
    metadata: AliasRegion,
}

/// `AliasRegionData::user_id`s; a defined global gets `GLOBAL_REGION_BASE + index`.
const REGION_HEAP: u32 = 1;
const REGION_TABLE_ELEMS: u32 = 2;
const REGION_IMPORTED_GLOBALS: u32 = 3;
const REGION_METADATA: u32 = 4;
const GLOBAL_REGION_BASE: u32 = 16;

impl Regions {
    fn new(func: &mut ir::Function) -> Self {
        let mut add = |user_id, description: &'static str| {
            func.dfg.alias_regions.insert(AliasRegionData { user_id, description: description.into() })
        };
        Regions {
            heap: add(REGION_HEAP, "linear memory"),
            table_elems: add(REGION_TABLE_ELEMS, "table elements"),
            imported_globals: add(REGION_IMPORTED_GLOBALS, "imported globals"),
            metadata: add(REGION_METADATA, "memory and table lengths"),
        }
    }
}

pub(super) fn little() -> MemFlagsData {
    MemFlagsData::new().with_endianness(Endianness::Little)
}

/// Flags for loads of vmctx slots that never change for an instance.
fn vm_const() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

impl<'a, 'b> FuncTranslator<'a, 'b> {
    pub fn new(
        mut b: FunctionBuilder<'b>,
        env: &'a TranslateEnv<'a>,
        validator: FuncValidator<ValidatorResources>,
        ty: &FuncType,
    ) -> Self {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let vmctx = b.block_params(entry)[0];
        let regions = Regions::new(b.func);
        let params: Vec<Value> = b.block_params(entry)[2..].to_vec();
        let mut locals = Vec::new();
        for (t, v) in ty.params().iter().zip(params) {
            let var = b.declare_var(cl_type(*t));
            b.def_var(var, v);
            locals.push(var);
        }
        let exit = b.create_block();
        for t in ty.results() {
            b.append_block_param(exit, cl_type(*t));
        }
        let control = alloc::vec![Control {
            kind: Kind::Block,
            next: exit,
            num_params: 0,
            num_results: ty.results().len(),
            height: 0,
            next_reachable: false,
        }];
        FuncTranslator {
            b,
            env,
            validator,
            stack: Vec::new(),
            control,
            locals,
            reachable: true,
            unreachable_depth: 0,
            vmctx,
            sigs: HashMap::new(),
            funcs: HashMap::new(),
            libcall_sigs: HashMap::new(),
            preempt: super::preempt::Preempt::default(),
            regions,
            many_calls: false,
        }
    }

    /// Translate the whole body and finish the function.
    pub fn translate(mut self, body: &wasmparser::FunctionBody<'_>) -> Result<()> {
        // The stack limit check in every prologue: limits = vmctx->limits;
        // limit = limits->stack_limit.
        let vmctx_gv = self.b.create_global_value(ir::GlobalValueData::VMContext);
        let readonly = self.b.func.dfg.mem_flags.insert_unchecked(MemFlagsData::trusted().with_readonly());
        let trusted = self.b.func.dfg.mem_flags.insert_unchecked(MemFlagsData::trusted());
        let limits_gv = self.b.create_global_value(ir::GlobalValueData::Load {
            base: vmctx_gv,
            offset: layout::VMCTX_LIMITS.into(),
            global_type: types::I64,
            flags: readonly,
        });
        let limit_gv = self.b.create_global_value(ir::GlobalValueData::Load {
            base: limits_gv,
            offset: layout::LIMITS_STACK_LIMIT.into(),
            global_type: types::I64,
            flags: trusted,
        });
        self.b.func.stack_limit = Some(limit_gv);

        let mut locals_reader = body.get_locals_reader()?;
        for _ in 0..locals_reader.get_count() {
            let offset = locals_reader.original_position();
            let (count, ty) = locals_reader.read()?;
            self.validator.define_locals(offset, count, ty)?;
            let vt = ValType::from_wasmparser(ty)?;
            for _ in 0..count {
                let var = self.b.declare_var(cl_type(vt));
                let zero = self.zero(vt);
                self.b.def_var(var, zero);
                self.locals.push(var);
            }
        }
        self.preempt_entry();
        self.many_calls = call_sites(body)? >= MANY_CALLS;
        let mut reader = body.get_operators_reader()?;
        while !reader.eof() {
            let offset = reader.original_position();
            let op = reader.read()?;
            self.validator.op(offset, &op)?;
            self.operator(&op, offset)?;
        }
        reader.finish()?;
        self.b.finalize(self.env.frontend_config);
        Ok(())
    }

    fn zero(&mut self, t: ValType) -> Value {
        match t {
            ValType::I32 => self.b.ins().iconst(types::I32, 0),
            ValType::I64 | ValType::FuncRef | ValType::ExternRef | ValType::Ref(_) => self.b.ins().iconst(types::I64, 0),
            ValType::F32 => self.b.ins().f32const(Ieee32::with_bits(0)),
            ValType::F64 => self.b.ins().f64const(Ieee64::with_bits(0)),
            ValType::V128 => self.v128_const(0),
        }
    }

    pub(super) fn v128_const(&mut self, bits: u128) -> Value {
        let c = self.b.func.dfg.constants.insert(ConstantData::from(bits.to_le_bytes().as_slice()));
        self.b.ins().vconst(types::I8X16, c)
    }

    // === operand stack ===

    pub(super) fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(|| Error::Compile("operand stack underflow".into()))
    }

    pub(super) fn pop2(&mut self) -> Result<(Value, Value)> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    fn pop3(&mut self) -> Result<(Value, Value, Value)> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    pub(super) fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn popn(&mut self, n: usize) -> Result<Vec<Value>> {
        let len = self.stack.len();
        if n > len {
            return Err(Error::Compile("operand stack underflow".into()));
        }
        Ok(self.stack.split_off(len - n))
    }

    fn peekn(&self, n: usize) -> Result<&[Value]> {
        let len = self.stack.len();
        if n > len {
            return Err(Error::Compile("operand stack underflow".into()));
        }
        Ok(&self.stack[len - n..])
    }

    fn bool_to_i32(&mut self, v: Value) -> Value {
        self.b.ins().uextend(types::I32, v)
    }

    // === control ===

    fn block_type(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>)> {
        Ok(match bt {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => (Vec::new(), alloc::vec![cl_type(ValType::from_wasmparser(t)?)]),
            BlockType::FuncType(i) => {
                let ty = self
                    .env
                    .info
                    .types
                    .get(i as usize)
                    .ok_or_else(|| Error::Compile("block type index out of range".into()))?;
                (
                    ty.params().iter().map(|t| cl_type(*t)).collect(),
                    ty.results().iter().map(|t| cl_type(*t)).collect(),
                )
            }
        })
    }

    fn new_block_with(&mut self, tys: &[Type]) -> ir::Block {
        let block = self.b.create_block();
        for t in tys {
            self.b.append_block_param(block, *t);
        }
        block
    }

    fn args(values: &[Value]) -> Vec<BlockArg> {
        values.iter().map(|v| BlockArg::Value(*v)).collect()
    }

    fn jump(&mut self, block: ir::Block, values: &[Value]) {
        let args = Self::args(values);
        self.b.ins().jump(block, &args);
    }

    /// Does a branch to relative depth `depth` leave the function?
    pub(super) fn targets_function_exit(&self, depth: u32) -> bool {
        depth as usize + 1 == self.control.len()
    }

    /// The block a branch to relative depth `depth` jumps to and its arity;
    /// marks the target reachable.
    fn branch_target(&mut self, depth: u32) -> Result<(ir::Block, usize)> {
        let len = self.control.len();
        let index = len
            .checked_sub(1 + depth as usize)
            .ok_or_else(|| Error::Compile("branch depth out of range".into()))?;
        let frame = &mut self.control[index];
        Ok(match frame.kind {
            Kind::Loop(header) => (header, frame.num_params),
            _ => {
                frame.next_reachable = true;
                (frame.next, frame.num_results)
            }
        })
    }

    fn control_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        match op {
            Operator::Block { blockty } => {
                let (params, results) = self.block_type(*blockty)?;
                let next = self.new_block_with(&results);
                let height = self.stack.len() - params.len();
                self.control.push(Control {
                    kind: Kind::Block,
                    next,
                    num_params: params.len(),
                    num_results: results.len(),
                    height,
                    next_reachable: false,
                });
            }
            Operator::Loop { blockty } => {
                let (params, results) = self.block_type(*blockty)?;
                let header = self.new_block_with(&params);
                let next = self.new_block_with(&results);
                let args = self.popn(params.len())?;
                self.jump(header, &args);
                self.b.switch_to_block(header);
                // Before the checks: their variable uses may add SSA
                // parameters to the (unsealed) header.
                let header_params = self.b.block_params(header).to_vec();
                self.preempt_loop_header();
                let height = self.stack.len();
                self.stack.extend(header_params);
                self.control.push(Control {
                    kind: Kind::Loop(header),
                    next,
                    num_params: params.len(),
                    num_results: results.len(),
                    height,
                    next_reachable: false,
                });
            }
            Operator::If { blockty } => {
                let cond = self.pop()?;
                let (params, results) = self.block_type(*blockty)?;
                let then_block = self.b.create_block();
                let next = self.new_block_with(&results);
                let args = Self::args(self.peekn(params.len())?);
                // Without an `else` the false edge goes straight to `next`
                // (one block fewer per `if`, as Wasmtime does); an `else`
                // found later gets its own block and the branch is
                // retargeted.
                let else_kind = if params == results {
                    let branch = self.b.ins().brif(cond, then_block, &[], next, &args);
                    Else::ToNext { branch }
                } else {
                    let else_block = self.new_block_with(&params);
                    self.b.ins().brif(cond, then_block, &[], else_block, &args);
                    self.b.seal_block(else_block);
                    Else::Block(else_block)
                };
                self.b.seal_block(then_block);
                self.b.switch_to_block(then_block);
                let height = self.stack.len() - params.len();
                self.control.push(Control {
                    kind: Kind::If(else_kind),
                    next,
                    num_params: params.len(),
                    num_results: results.len(),
                    height,
                    next_reachable: false,
                });
            }
            Operator::Else => self.else_op()?,
            Operator::End => self.end_op()?,
            Operator::Br { relative_depth } => {
                let (target, arity) = self.branch_target(*relative_depth)?;
                let args = self.peekn(arity)?.to_vec();
                self.jump(target, &args);
                self.reachable = false;
            }
            Operator::BrIf { relative_depth } => {
                let cond = self.pop()?;
                let (target, arity) = self.branch_target(*relative_depth)?;
                let args = Self::args(self.peekn(arity)?);
                let fallthrough = self.b.create_block();
                self.b.ins().brif(cond, target, &args, fallthrough, &[]);
                self.b.seal_block(fallthrough);
                self.b.switch_to_block(fallthrough);
            }
            Operator::BrTable { targets } => {
                let index = self.pop()?;
                let mut depths = Vec::with_capacity(targets.len() as usize);
                for t in targets.targets() {
                    depths.push(t?);
                }
                let default = targets.default();
                self.br_table(index, &depths, default)?;
                self.reachable = false;
            }
            Operator::Return => {
                let n = self.control[0].num_results;
                let args = self.peekn(n)?.to_vec();
                self.b.ins().return_(&args);
                self.reachable = false;
            }
            Operator::Unreachable => {
                self.b.ins().trap(TRAP_UNREACHABLE);
                self.reachable = false;
            }
            Operator::Nop => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn br_table(&mut self, index: Value, depths: &[u32], default: u32) -> Result<()> {
        let (_, arity) = self.branch_target(default)?;
        let args = self.peekn(arity)?.to_vec();
        // One edge per distinct target; with arguments, each edge is a small
        // block that jumps on with them.
        let mut edges: HashMap<u32, ir::Block> = HashMap::new();
        let mut edge_of = |this: &mut Self, depth: u32| -> Result<ir::Block> {
            if let Some(b) = edges.get(&depth) {
                return Ok(*b);
            }
            let (target, _) = this.branch_target(depth)?;
            let block = if arity == 0 { target } else { this.b.create_block() };
            edges.insert(depth, block);
            Ok(block)
        };
        let mut table = Vec::with_capacity(depths.len());
        for d in depths {
            let block = edge_of(self, *d)?;
            table.push(self.b.func.dfg.block_call(block, &[]));
        }
        let default_block = edge_of(self, default)?;
        let default_call = self.b.func.dfg.block_call(default_block, &[]);
        let jt = self.b.create_jump_table(ir::JumpTableData::new(default_call, &table));
        self.b.ins().br_table(index, jt);
        if arity > 0 {
            let mut pairs: Vec<(u32, ir::Block)> = edges.into_iter().collect();
            pairs.sort_by_key(|(d, _)| *d);
            for (depth, edge) in pairs {
                let (target, _) = self.branch_target(depth)?;
                self.b.seal_block(edge);
                self.b.switch_to_block(edge);
                self.jump(target, &args);
            }
        }
        Ok(())
    }

    fn else_op(&mut self) -> Result<()> {
        let reachable = self.reachable;
        let frame = self.control.last_mut().ok_or_else(|| Error::Compile("else without if".into()))?;
        let Kind::If(else_kind) = frame.kind else {
            return Err(Error::Compile("else without if".into()));
        };
        frame.kind = Kind::If(Else::Seen);
        let (next, n, num_params, height) = (frame.next, frame.num_results, frame.num_params, frame.height);
        if reachable {
            frame.next_reachable = true;
            let args = self.peekn(n)?.to_vec();
            self.jump(next, &args);
        }
        let else_block = match else_kind {
            Else::Block(block) => block,
            Else::ToNext { branch } => {
                // Parameters and results agree, so `next`'s parameter
                // types are the `else` block's.
                let tys: Vec<Type> =
                    self.b.block_params(next).iter().take(num_params).map(|v| self.b.func.dfg.value_type(*v)).collect();
                let block = self.new_block_with(&tys);
                self.b.change_jump_destination(branch, next, block);
                self.b.seal_block(block);
                block
            }
            Else::Seen => return Err(Error::Compile("second else".into())),
        };
        self.stack.truncate(height);
        self.b.switch_to_block(else_block);
        let params = self.b.block_params(else_block).to_vec();
        self.stack.extend(params);
        self.reachable = true;
        Ok(())
    }

    fn end_op(&mut self) -> Result<()> {
        let mut frame = self.control.pop().ok_or_else(|| Error::Compile("unbalanced end".into()))?;
        if self.reachable {
            frame.next_reachable = true;
            let args = self.peekn(frame.num_results)?.to_vec();
            self.jump(frame.next, &args);
        }
        match frame.kind {
            // `if` without `else`: the false edge already reaches `next`
            // with the parameters.
            Kind::If(Else::ToNext { .. }) => frame.next_reachable = true,
            Kind::If(Else::Block(else_block)) => {
                // Not valid wasm (parameters and results differ, no
                // `else`), kept total: parameters pass straight through.
                self.b.switch_to_block(else_block);
                let params = self.b.block_params(else_block).to_vec();
                self.jump(frame.next, &params);
                frame.next_reachable = true;
            }
            _ => {}
        }
        if let Kind::Loop(header) = frame.kind {
            self.b.seal_block(header);
        }
        self.stack.truncate(frame.height);
        self.b.switch_to_block(frame.next);
        self.b.seal_block(frame.next);
        let results = self.b.block_params(frame.next).to_vec();
        self.stack.extend(results.iter().copied());
        if self.control.is_empty() {
            // End of the function body.
            if frame.next_reachable {
                self.b.ins().return_(&results);
            } else {
                self.b.ins().trap(TRAP_UNREACHABLE);
            }
            self.reachable = false;
        } else if frame.next_reachable {
            self.reachable = true;
        } else {
            self.b.ins().trap(TRAP_UNREACHABLE);
            self.reachable = false;
        }
        Ok(())
    }

    fn operator(&mut self, op: &Operator<'_>, offset: usize) -> Result<()> {
        if is_gc_op(op) {
            // Validated only because wasmparser's GC switch also governs
            // 3.0 constant expressions; GC itself is not supported, even in
            // dead code.
            return Err(Error::Unsupported(alloc::format!("GC operator {op:?} at offset {offset:#x}")));
        }
        if !self.reachable {
            match op {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => self.unreachable_depth += 1,
                Operator::Else if self.unreachable_depth == 0 => self.else_op()?,
                Operator::End if self.unreachable_depth == 0 => self.end_op()?,
                Operator::End => self.unreachable_depth -= 1,
                _ => {}
            }
            return Ok(());
        }
        self.preempt_before_op(op)?;
        if self.control_op(op)? || self.scalar_op(op)? || self.memory_op(op)? || self.entity_op(op)? || self.simd_op(op)? {
            self.preempt_after_op(op);
            return Ok(());
        }
        Err(Error::Unsupported(alloc::format!("operator {op:?} at offset {offset:#x}")))
    }

    // === scalar ===

    fn unop(&mut self, f: impl FnOnce(&mut Self, Value) -> Value) -> Result<()> {
        let a = self.pop()?;
        let r = f(self, a);
        self.push(r);
        Ok(())
    }

    fn binop(&mut self, f: impl FnOnce(&mut Self, Value, Value) -> Value) -> Result<()> {
        let (a, b) = self.pop2()?;
        let r = f(self, a, b);
        self.push(r);
        Ok(())
    }

    fn icmp(&mut self, cc: IntCC) -> Result<()> {
        self.binop(|t, a, b| {
            let c = t.b.ins().icmp(cc, a, b);
            t.bool_to_i32(c)
        })
    }

    fn fcmp(&mut self, cc: FloatCC) -> Result<()> {
        self.binop(|t, a, b| {
            let c = t.b.ins().fcmp(cc, a, b);
            t.bool_to_i32(c)
        })
    }

    fn sext_in(&mut self, ty: Type, narrow: Type) -> Result<()> {
        self.unop(|t, a| {
            let n = t.b.ins().ireduce(narrow, a);
            t.b.ins().sextend(ty, n)
        })
    }

    /// Lower `op` if it is one of this group's operators; `Ok(false)` if not.
    /// (Split in parts with separate stack frames: the kernel compiles on
    /// small stacks.)
    fn scalar_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        Ok(self.scalar_op_0(op)? || self.scalar_op_1(op)? || self.scalar_op_2(op)?)
    }

    #[inline(never)]
    fn scalar_op_0(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        use types::{I32, I64};
        match *op {
            O::Drop => {
                self.pop()?;
            }
            O::Select | O::TypedSelect { .. } => {
                let (a, b, c) = self.pop3()?;
                let r = self.b.ins().select(c, a, b);
                self.push(r);
            }
            O::LocalGet { local_index } => {
                let var = self.local(local_index)?;
                let v = self.b.use_var(var);
                self.push(v);
            }
            O::LocalSet { local_index } => {
                let var = self.local(local_index)?;
                let v = self.pop()?;
                self.b.def_var(var, v);
            }
            O::LocalTee { local_index } => {
                let var = self.local(local_index)?;
                let v = *self.stack.last().ok_or_else(|| Error::Compile("operand stack underflow".into()))?;
                self.b.def_var(var, v);
            }
            O::I32Const { value } => {
                let v = self.b.ins().iconst(I32, i64::from(value));
                self.push(v);
            }
            O::I64Const { value } => {
                let v = self.b.ins().iconst(I64, value);
                self.push(v);
            }
            O::F32Const { value } => {
                let v = self.b.ins().f32const(Ieee32::with_bits(value.bits()));
                self.push(v);
            }
            O::F64Const { value } => {
                let v = self.b.ins().f64const(Ieee64::with_bits(value.bits()));
                self.push(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn scalar_op_1(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match *op {
            O::I32Eqz | O::I64Eqz => self.unop(|t, a| {
                let c = t.b.ins().icmp_imm_u(IntCC::Equal, a, 0);
                t.bool_to_i32(c)
            })?,
            O::I32Eq | O::I64Eq => self.icmp(IntCC::Equal)?,
            O::I32Ne | O::I64Ne => self.icmp(IntCC::NotEqual)?,
            O::I32LtS | O::I64LtS => self.icmp(IntCC::SignedLessThan)?,
            O::I32LtU | O::I64LtU => self.icmp(IntCC::UnsignedLessThan)?,
            O::I32GtS | O::I64GtS => self.icmp(IntCC::SignedGreaterThan)?,
            O::I32GtU | O::I64GtU => self.icmp(IntCC::UnsignedGreaterThan)?,
            O::I32LeS | O::I64LeS => self.icmp(IntCC::SignedLessThanOrEqual)?,
            O::I32LeU | O::I64LeU => self.icmp(IntCC::UnsignedLessThanOrEqual)?,
            O::I32GeS | O::I64GeS => self.icmp(IntCC::SignedGreaterThanOrEqual)?,
            O::I32GeU | O::I64GeU => self.icmp(IntCC::UnsignedGreaterThanOrEqual)?,
            O::F32Eq | O::F64Eq => self.fcmp(FloatCC::Equal)?,
            O::F32Ne | O::F64Ne => self.fcmp(FloatCC::NotEqual)?,
            O::F32Lt | O::F64Lt => self.fcmp(FloatCC::LessThan)?,
            O::F32Gt | O::F64Gt => self.fcmp(FloatCC::GreaterThan)?,
            O::F32Le | O::F64Le => self.fcmp(FloatCC::LessThanOrEqual)?,
            O::F32Ge | O::F64Ge => self.fcmp(FloatCC::GreaterThanOrEqual)?,
            O::I32Clz | O::I64Clz => self.unop(|t, a| t.b.ins().clz(a))?,
            O::I32Ctz | O::I64Ctz => self.unop(|t, a| t.b.ins().ctz(a))?,
            O::I32Popcnt | O::I64Popcnt => self.unop(|t, a| t.b.ins().popcnt(a))?,
            O::I32Add | O::I64Add => self.binop(|t, a, b| t.b.ins().iadd(a, b))?,
            O::I32Sub | O::I64Sub => self.binop(|t, a, b| t.b.ins().isub(a, b))?,
            O::I32Mul | O::I64Mul => self.binop(|t, a, b| t.b.ins().imul(a, b))?,
            O::I32DivS | O::I64DivS => self.binop(|t, a, b| t.b.ins().sdiv(a, b))?,
            O::I32DivU | O::I64DivU => self.binop(|t, a, b| t.b.ins().udiv(a, b))?,
            O::I32RemS | O::I64RemS => self.binop(|t, a, b| t.b.ins().srem(a, b))?,
            O::I32RemU | O::I64RemU => self.binop(|t, a, b| t.b.ins().urem(a, b))?,
            O::I32And | O::I64And => self.binop(|t, a, b| t.b.ins().band(a, b))?,
            O::I32Or | O::I64Or => self.binop(|t, a, b| t.b.ins().bor(a, b))?,
            O::I32Xor | O::I64Xor => self.binop(|t, a, b| t.b.ins().bxor(a, b))?,
            O::I32Shl | O::I64Shl => self.binop(|t, a, b| t.b.ins().ishl(a, b))?,
            O::I32ShrS | O::I64ShrS => self.binop(|t, a, b| t.b.ins().sshr(a, b))?,
            O::I32ShrU | O::I64ShrU => self.binop(|t, a, b| t.b.ins().ushr(a, b))?,
            O::I32Rotl | O::I64Rotl => self.binop(|t, a, b| t.b.ins().rotl(a, b))?,
            O::I32Rotr | O::I64Rotr => self.binop(|t, a, b| t.b.ins().rotr(a, b))?,
            O::F32Abs | O::F64Abs => self.unop(|t, a| t.b.ins().fabs(a))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn scalar_op_2(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        use types::{F32, F64, I32, I64};
        match *op {
            O::F32Neg | O::F64Neg => self.unop(|t, a| t.b.ins().fneg(a))?,
            O::F32Ceil | O::F64Ceil => self.unop(|t, a| t.b.ins().ceil(a))?,
            O::F32Floor | O::F64Floor => self.unop(|t, a| t.b.ins().floor(a))?,
            O::F32Trunc | O::F64Trunc => self.unop(|t, a| t.b.ins().trunc(a))?,
            O::F32Nearest | O::F64Nearest => self.unop(|t, a| t.b.ins().nearest(a))?,
            O::F32Sqrt | O::F64Sqrt => self.unop(|t, a| t.b.ins().sqrt(a))?,
            O::F32Add | O::F64Add => self.binop(|t, a, b| t.b.ins().fadd(a, b))?,
            O::F32Sub | O::F64Sub => self.binop(|t, a, b| t.b.ins().fsub(a, b))?,
            O::F32Mul | O::F64Mul => self.binop(|t, a, b| t.b.ins().fmul(a, b))?,
            O::F32Div | O::F64Div => self.binop(|t, a, b| t.b.ins().fdiv(a, b))?,
            O::F32Min | O::F64Min => self.binop(|t, a, b| t.b.ins().fmin(a, b))?,
            O::F32Max | O::F64Max => self.binop(|t, a, b| t.b.ins().fmax(a, b))?,
            O::F32Copysign | O::F64Copysign => self.binop(|t, a, b| t.b.ins().fcopysign(a, b))?,
            O::I32WrapI64 => self.unop(|t, a| t.b.ins().ireduce(I32, a))?,
            O::I64ExtendI32S => self.unop(|t, a| t.b.ins().sextend(I64, a))?,
            O::I64ExtendI32U => self.unop(|t, a| t.b.ins().uextend(I64, a))?,
            O::I32TruncF32S | O::I32TruncF64S => self.unop(|t, a| t.b.ins().fcvt_to_sint(I32, a))?,
            O::I32TruncF32U | O::I32TruncF64U => self.unop(|t, a| t.b.ins().fcvt_to_uint(I32, a))?,
            O::I64TruncF32S | O::I64TruncF64S => self.unop(|t, a| t.b.ins().fcvt_to_sint(I64, a))?,
            O::I64TruncF32U | O::I64TruncF64U => self.unop(|t, a| t.b.ins().fcvt_to_uint(I64, a))?,
            O::I32TruncSatF32S | O::I32TruncSatF64S => self.unop(|t, a| t.b.ins().fcvt_to_sint_sat(I32, a))?,
            O::I32TruncSatF32U | O::I32TruncSatF64U => self.unop(|t, a| t.b.ins().fcvt_to_uint_sat(I32, a))?,
            O::I64TruncSatF32S | O::I64TruncSatF64S => self.unop(|t, a| t.b.ins().fcvt_to_sint_sat(I64, a))?,
            O::I64TruncSatF32U | O::I64TruncSatF64U => self.unop(|t, a| t.b.ins().fcvt_to_uint_sat(I64, a))?,
            O::F32ConvertI32S | O::F32ConvertI64S => self.unop(|t, a| t.b.ins().fcvt_from_sint(F32, a))?,
            O::F32ConvertI32U | O::F32ConvertI64U => self.unop(|t, a| t.b.ins().fcvt_from_uint(F32, a))?,
            O::F64ConvertI32S | O::F64ConvertI64S => self.unop(|t, a| t.b.ins().fcvt_from_sint(F64, a))?,
            O::F64ConvertI32U | O::F64ConvertI64U => self.unop(|t, a| t.b.ins().fcvt_from_uint(F64, a))?,
            O::F32DemoteF64 => self.unop(|t, a| t.b.ins().fdemote(F32, a))?,
            O::F64PromoteF32 => self.unop(|t, a| t.b.ins().fpromote(F64, a))?,
            O::I32ReinterpretF32 => self.unop(|t, a| t.b.ins().bitcast(I32, MemFlagsData::new(), a))?,
            O::I64ReinterpretF64 => self.unop(|t, a| t.b.ins().bitcast(I64, MemFlagsData::new(), a))?,
            O::F32ReinterpretI32 => self.unop(|t, a| t.b.ins().bitcast(F32, MemFlagsData::new(), a))?,
            O::F64ReinterpretI64 => self.unop(|t, a| t.b.ins().bitcast(F64, MemFlagsData::new(), a))?,
            O::I32Extend8S => self.sext_in(I32, types::I8)?,
            O::I32Extend16S => self.sext_in(I32, types::I16)?,
            O::I64Extend8S => self.sext_in(I64, types::I8)?,
            O::I64Extend16S => self.sext_in(I64, types::I16)?,
            O::I64Extend32S => self.sext_in(I64, I32)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn local(&self, index: u32) -> Result<Variable> {
        self.locals.get(index as usize).copied().ok_or_else(|| Error::Compile("local index out of range".into()))
    }

    // === memory ===

    fn vmctx_load(&mut self, offset: i32) -> Value {
        self.b.ins().load(types::I64, vm_const(), self.vmctx, offset)
    }

    fn memory_def(&mut self, memory: u32) -> Value {
        let off = self.env.offsets.memory(memory);
        self.vmctx_load(off)
    }

    /// Address and static offset for an access of `size` bytes at the
    /// index on top of the stack.
    pub(super) fn mem_addr(&mut self, memarg: &MemArg, size: u32) -> Result<(Value, i32)> {
        let index = self.pop()?;
        self.addr_for(index, memarg, size)
    }

    /// Memory `memory`'s base address, from its vmctx copy.
    ///
    /// The base never changes, but how the load is marked decides how long
    /// the value lives. Normally it is a movable constant load
    /// (`readonly can_move`), which Cranelift shares across the function
    /// and hoists out of loops. In a function with very many calls that
    /// one value lives across all of them; in TinyGo's
    /// asyncify-instrumented `main.countMatches` (tinygo-regex, 94 call
    /// sites) the register allocator then kept neither it nor the vmctx
    /// in a register and reloaded both from spill slots before nearly
    /// every use. There the load is marked as plain (in the metadata
    /// region): alias analysis still merges repeated loads up to the next
    /// call (calls are barriers), so the base is reloaded from the vmctx
    /// after a call instead of living across it. Not done for every
    /// function with calls: losing the hoisting out of call-free loops
    /// cost 9-19 % on quicksort, richards and regex.
    fn memory_base(&mut self, memory: u32) -> Value {
        let off = self.env.offsets.memory_base(memory);
        if self.many_calls {
            let flags = MemFlagsData::trusted().with_alias_region(Some(self.regions.metadata));
            self.b.ins().load(types::I64, flags, self.vmctx, off)
        } else {
            self.vmctx_load(off)
        }
    }

    pub(super) fn addr_for(&mut self, index: Value, memarg: &MemArg, size: u32) -> Result<(Value, i32)> {
        let base = self.memory_base(memarg.memory);
        let index = self.b.ins().uextend(types::I64, index);
        if self.env.strategy == MemoryStrategy::BoundsChecks {
            let def = self.memory_def(memarg.memory);
            let len = self.load_metadata(def, layout::MEMORY_LENGTH);
            // index < 2^32 and offset + size < 2^33: no overflow in 64 bits.
            let end_offset = i64::try_from(memarg.offset + u64::from(size))
                .map_err(|_| Error::Unsupported("memory offset beyond 64 bits".into()))?;
            let end = self.b.ins().iadd_imm_s(index, end_offset);
            let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
            self.b.ins().trapnz(oob, ClTrap::HEAP_OUT_OF_BOUNDS);
        }
        let addr = self.b.ins().iadd(base, index);
        Ok(match i32::try_from(memarg.offset) {
            Ok(off) => (addr, off),
            Err(_) => {
                let off = i64::try_from(memarg.offset)
                    .map_err(|_| Error::Unsupported("memory offset beyond 64 bits".into()))?;
                (self.b.ins().iadd_imm_s(addr, off), 0)
            }
        })
    }

    /// Flags of a linear-memory access.
    pub(super) fn heap_flags(&self) -> MemFlagsData {
        little().with_trap_code(Some(ClTrap::HEAP_OUT_OF_BOUNDS)).with_alias_region(Some(self.regions.heap))
    }

    /// Load a memory's or table's length or a table's base from its
    /// definition `def`.
    fn load_metadata(&mut self, def: Value, offset: i32) -> Value {
        let flags = MemFlagsData::trusted().with_alias_region(Some(self.regions.metadata));
        self.b.ins().load(types::I64, flags, def, offset)
    }

    /// Flags of a table element access.
    fn table_elem_flags(&self) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(self.regions.table_elems))
    }

    /// Base, offset and flags of global `index`'s value: vmctx plus a
    /// constant for a defined global (stored inline), the loaded pointer
    /// for an imported one. Inline values are only 8-byte aligned, so a
    /// v128 access is not marked `aligned`.
    fn global_addr(&mut self, index: u32, content: ValType) -> (Value, i32, MemFlagsData) {
        let region = self.global_region(index);
        let (base, off) = match self.env.offsets.defined_global(index) {
            Some(off) => (self.vmctx, off),
            None => {
                let slot = self.env.offsets.global(index);
                (self.vmctx_load(slot), 0)
            }
        };
        let flags = if matches!(content, ValType::V128) && self.env.offsets.defined_global(index).is_some() {
            MemFlagsData::new().with_notrap()
        } else {
            MemFlagsData::trusted()
        };
        (base, off, flags.with_alias_region(Some(region)))
    }

    /// The alias region of global `index`'s storage: its own for a
    /// defined global, one shared by all imported globals.
    fn global_region(&mut self, index: u32) -> AliasRegion {
        match index.checked_sub(self.env.info.num_imported_globals) {
            None => self.regions.imported_globals,
            Some(defined) => self.b.func.dfg.alias_regions.insert(AliasRegionData {
                user_id: GLOBAL_REGION_BASE.saturating_add(defined),
                description: "defined global".into(),
            }),
        }
    }

    fn load(&mut self, memarg: &MemArg, size: u32, f: impl FnOnce(&mut Self, Value, i32) -> Value) -> Result<()> {
        let (addr, off) = self.mem_addr(memarg, size)?;
        let v = f(self, addr, off);
        self.push(v);
        Ok(())
    }

    fn store(&mut self, memarg: &MemArg, size: u32, f: impl FnOnce(&mut Self, Value, Value, i32)) -> Result<()> {
        let value = self.pop()?;
        let (addr, off) = self.mem_addr(memarg, size)?;
        f(self, value, addr, off);
        Ok(())
    }

    fn memory_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        use types::{F32, F64, I32, I64};
        let fl = self.heap_flags();
        match op {
            O::I32Load { memarg } => self.load(memarg, 4, |t, a, o| t.b.ins().load(I32, fl, a, o))?,
            O::I64Load { memarg } => self.load(memarg, 8, |t, a, o| t.b.ins().load(I64, fl, a, o))?,
            O::F32Load { memarg } => self.load(memarg, 4, |t, a, o| t.b.ins().load(F32, fl, a, o))?,
            O::F64Load { memarg } => self.load(memarg, 8, |t, a, o| t.b.ins().load(F64, fl, a, o))?,
            O::I32Load8S { memarg } => self.load(memarg, 1, |t, a, o| t.b.ins().sload8(I32, fl, a, o))?,
            O::I32Load8U { memarg } => self.load(memarg, 1, |t, a, o| t.b.ins().uload8(I32, fl, a, o))?,
            O::I32Load16S { memarg } => self.load(memarg, 2, |t, a, o| t.b.ins().sload16(I32, fl, a, o))?,
            O::I32Load16U { memarg } => self.load(memarg, 2, |t, a, o| t.b.ins().uload16(I32, fl, a, o))?,
            O::I64Load8S { memarg } => self.load(memarg, 1, |t, a, o| t.b.ins().sload8(I64, fl, a, o))?,
            O::I64Load8U { memarg } => self.load(memarg, 1, |t, a, o| t.b.ins().uload8(I64, fl, a, o))?,
            O::I64Load16S { memarg } => self.load(memarg, 2, |t, a, o| t.b.ins().sload16(I64, fl, a, o))?,
            O::I64Load16U { memarg } => self.load(memarg, 2, |t, a, o| t.b.ins().uload16(I64, fl, a, o))?,
            O::I64Load32S { memarg } => self.load(memarg, 4, |t, a, o| t.b.ins().sload32(fl, a, o))?,
            O::I64Load32U { memarg } => self.load(memarg, 4, |t, a, o| t.b.ins().uload32(fl, a, o))?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, 4, |t, v, a, o| {
                t.b.ins().store(fl, v, a, o);
            })?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, 8, |t, v, a, o| {
                t.b.ins().store(fl, v, a, o);
            })?,
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => self.store(memarg, 1, |t, v, a, o| {
                t.b.ins().istore8(fl, v, a, o);
            })?,
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => self.store(memarg, 2, |t, v, a, o| {
                t.b.ins().istore16(fl, v, a, o);
            })?,
            O::I64Store32 { memarg } => self.store(memarg, 4, |t, v, a, o| {
                t.b.ins().istore32(fl, v, a, o);
            })?,
            O::MemorySize { mem } => {
                let def = self.memory_def(*mem);
                let len = self.load_metadata(def, layout::MEMORY_LENGTH);
                let pages = self.b.ins().ushr_imm_u(len, 16);
                let pages = self.b.ins().ireduce(I32, pages);
                self.push(pages);
            }
            O::MemoryGrow { mem } => {
                let delta = self.pop()?;
                let m = self.b.ins().iconst(I64, i64::from(*mem));
                let delta = self.b.ins().uextend(I64, delta);
                let r = self.libcall(Libcall::MemoryGrow, &[m, delta]);
                let r = self.b.ins().ireduce(I32, r);
                self.push(r);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                let (d, s, n) = self.pop3()?;
                let n = self.zext64(n);
                let src = self.checked_range(*src_mem, s, n);
                let dst = self.checked_range(*dst_mem, d, n);
                self.libcall(Libcall::MemMove, &[dst, src, n]);
            }
            O::MemoryFill { mem } => {
                let (d, v, n) = self.pop3()?;
                let n = self.zext64(n);
                let dst = self.checked_range(*mem, d, n);
                let v = self.zext64(v);
                self.libcall(Libcall::MemSet, &[dst, v, n]);
            }
            O::MemoryInit { data_index, mem } => {
                let (d, s, n) = self.pop3()?;
                let m = self.b.ins().iconst(I64, i64::from(*mem));
                let seg = self.b.ins().iconst(I64, i64::from(*data_index));
                let args = [m, seg, self.zext64(d), self.zext64(s), self.zext64(n)];
                self.trapping_libcall(Libcall::MemoryInit, &args);
            }
            O::DataDrop { data_index } => {
                let seg = self.b.ins().iconst(I64, i64::from(*data_index));
                self.libcall(Libcall::DataDrop, &[seg]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Trap unless `[start, start + len)` (`start` an i32 index, `len` a
    /// zero-extended i32) lies inside memory `memory`'s current length;
    /// return the host address of `start`. Bulk operations check their
    /// whole range before touching memory, whatever the strategy.
    fn checked_range(&mut self, memory: u32, start: Value, len: Value) -> Value {
        let def = self.memory_def(memory);
        let size = self.load_metadata(def, layout::MEMORY_LENGTH);
        let start = self.zext64(start);
        // Both are below 2^32: the sum cannot wrap in 64 bits.
        let end = self.b.ins().iadd(start, len);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThan, end, size);
        self.b.ins().trapnz(oob, ClTrap::HEAP_OUT_OF_BOUNDS);
        let base = self.memory_base(memory);
        self.b.ins().iadd(base, start)
    }

    fn zext64(&mut self, v: Value) -> Value {
        if self.b.func.dfg.value_type(v) == types::I64 { v } else { self.b.ins().uextend(types::I64, v) }
    }

    // === libcalls ===

    fn libcall(&mut self, call: Libcall, args: &[Value]) -> Value {
        let key = (call.arity(), true);
        let sig = if let Some(s) = self.libcall_sigs.get(&key) {
            *s
        } else {
            let mut sig = Signature::new(self.env.host_call_conv);
            for _ in 0..=call.arity() {
                sig.params.push(AbiParam::new(types::I64));
            }
            sig.returns.push(AbiParam::new(types::I64));
            let s = self.b.import_signature(sig);
            self.libcall_sigs.insert(key, s);
            s
        };
        let table = self.vmctx_load(layout::VMCTX_LIBCALLS);
        let slot = i32::try_from(call as usize * 8).unwrap_or(0);
        let fptr = self.b.ins().load(types::I64, vm_const(), table, slot);
        let mut all = Vec::with_capacity(args.len() + 1);
        all.push(self.vmctx);
        all.extend_from_slice(args);
        let inst = self.b.ins().call_indirect(sig, fptr, &all);
        self.b.inst_results(inst)[0]
    }

    pub(super) fn trapping_libcall(&mut self, call: Libcall, args: &[Value]) {
        let status = self.libcall(call, args);
        self.b.ins().trapnz(status, TRAP_PENDING);
    }

    // === globals, tables, references, calls ===

    fn table_def(&mut self, table: u32) -> Value {
        let off = self.env.offsets.table(table);
        self.vmctx_load(off)
    }

    /// Bounds-check `index` (i32) against table `table` and return the
    /// element's address.
    fn table_elem_addr(&mut self, table: u32, index: Value, code: ClTrap) -> Value {
        let def = self.table_def(table);
        let len = self.load_metadata(def, layout::TABLE_LENGTH);
        let index = self.b.ins().uextend(types::I64, index);
        let oob = self.b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, index, len);
        self.b.ins().trapnz(oob, code);
        let base = self.load_metadata(def, layout::TABLE_BASE);
        let scaled = self.b.ins().ishl_imm_u(index, 3);
        self.b.ins().iadd(base, scaled)
    }

    fn sig_ref(&mut self, type_index: u32) -> Result<SigRef> {
        if let Some(s) = self.sigs.get(&type_index) {
            return Ok(*s);
        }
        let ty = self
            .env
            .info
            .types
            .get(type_index as usize)
            .ok_or_else(|| Error::Compile("type index out of range".into()))?;
        let s = self.b.import_signature(wasm_signature(ty));
        self.sigs.insert(type_index, s);
        Ok(s)
    }

    fn func_ref(&mut self, func_index: u32) -> Result<FuncRef> {
        if let Some(f) = self.funcs.get(&func_index) {
            return Ok(*f);
        }
        let type_index = self.env.info.funcs[func_index as usize];
        let signature = self.sig_ref(type_index)?;
        let name = self.b.func.declare_imported_user_function(UserExternalName::new(0, func_index));
        let f = self.b.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature,
            colocated: true,
            patchable: false,
        });
        self.funcs.insert(func_index, f);
        Ok(f)
    }

    fn push_results(&mut self, inst: ir::Inst) {
        let results = self.b.inst_results(inst).to_vec();
        self.stack.extend(results);
    }

    fn call(&mut self, func_index: u32, tail: bool) -> Result<()> {
        let info = self.env.info;
        let type_index = *info.funcs.get(func_index as usize).ok_or_else(|| Error::Compile("bad function index".into()))?;
        let n = info.types[type_index as usize].params().len();
        let mut args = self.popn(n)?;
        if func_index < info.num_imported_funcs {
            let off = self.env.offsets.func(func_index);
            let funcref = self.vmctx_load(off);
            let code = self.b.ins().load(types::I64, vm_const(), funcref, layout::FUNCREF_CODE);
            let callee_vmctx = self.b.ins().load(types::I64, vm_const(), funcref, layout::FUNCREF_VMCTX);
            args.splice(0..0, [callee_vmctx, self.vmctx]);
            let sig = self.sig_ref(type_index)?;
            if tail {
                self.b.ins().return_call_indirect(sig, code, &args);
            } else {
                let inst = self.b.ins().call_indirect(sig, code, &args);
                self.push_results(inst);
            }
        } else {
            args.splice(0..0, [self.vmctx, self.vmctx]);
            let f = self.func_ref(func_index)?;
            if tail {
                self.b.ins().return_call(f, &args);
            } else {
                let inst = self.b.ins().call(f, &args);
                self.push_results(inst);
            }
        }
        if tail {
            self.reachable = false;
        }
        Ok(())
    }

    fn call_indirect(&mut self, type_index: u32, table: u32, tail: bool) -> Result<()> {
        let index = self.pop()?;
        let n = self
            .env
            .info
            .types
            .get(type_index as usize)
            .ok_or_else(|| Error::Compile("type index out of range".into()))?
            .params()
            .len();
        let mut args = self.popn(n)?;
        let addr = self.table_elem_addr(table, index, TRAP_UNDEFINED_ELEMENT);
        let fl = self.table_elem_flags();
        let funcref = self.b.ins().load(types::I64, fl, addr, 0);
        self.b.ins().trapz(funcref, TRAP_UNINIT_ELEMENT);
        let actual = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), funcref, layout::FUNCREF_TYPE_ID);
        let off = self.env.offsets.type_id(type_index);
        let expected = self.vmctx_load(off);
        let mismatch = self.b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.b.ins().trapnz(mismatch, TRAP_SIG_MISMATCH);
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), funcref, layout::FUNCREF_CODE);
        let callee_vmctx = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), funcref, layout::FUNCREF_VMCTX);
        args.splice(0..0, [callee_vmctx, self.vmctx]);
        let sig = self.sig_ref(type_index)?;
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.reachable = false;
        } else {
            let inst = self.b.ins().call_indirect(sig, code, &args);
            self.push_results(inst);
        }
        Ok(())
    }

    /// `call_ref` / `return_call_ref`: call the function reference on top
    /// of the stack. Its type is `type_index` (the validator checked it),
    /// so only null needs a run-time check.
    fn call_ref(&mut self, type_index: u32, tail: bool) -> Result<()> {
        let funcref = self.pop()?;
        let n = self
            .env
            .info
            .types
            .get(type_index as usize)
            .ok_or_else(|| Error::Compile("type index out of range".into()))?
            .params()
            .len();
        let mut args = self.popn(n)?;
        self.b.ins().trapz(funcref, TRAP_NULL_FUNC_REFERENCE);
        let code = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), funcref, layout::FUNCREF_CODE);
        let callee_vmctx = self.b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), funcref, layout::FUNCREF_VMCTX);
        args.splice(0..0, [callee_vmctx, self.vmctx]);
        let sig = self.sig_ref(type_index)?;
        if tail {
            self.b.ins().return_call_indirect(sig, code, &args);
            self.reachable = false;
        } else {
            let inst = self.b.ins().call_indirect(sig, code, &args);
            self.push_results(inst);
        }
        Ok(())
    }

    /// `br_on_null` (`on_null`) / `br_on_non_null`: branch on whether the
    /// reference on top of the stack is null.
    fn br_on_null(&mut self, relative_depth: u32, on_null: bool) -> Result<()> {
        let r = self.pop()?;
        let (target, arity) = self.branch_target(relative_depth)?;
        let fallthrough = self.b.create_block();
        if on_null {
            // Branch without the reference; fall through with it.
            let args = Self::args(self.peekn(arity)?);
            self.b.ins().brif(r, fallthrough, &[], target, &args);
            self.push(r);
        } else {
            // Branch with the reference (the label's last value); fall
            // through without it.
            self.push(r);
            let args = Self::args(self.peekn(arity)?);
            self.pop()?;
            self.b.ins().brif(r, target, &args, fallthrough, &[]);
        }
        self.b.seal_block(fallthrough);
        self.b.switch_to_block(fallthrough);
        Ok(())
    }

    fn entity_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        use types::I64;
        match *op {
            O::Call { function_index } => self.call(function_index, false)?,
            O::ReturnCall { function_index } => self.call(function_index, true)?,
            O::CallIndirect { type_index, table_index } => self.call_indirect(type_index, table_index, false)?,
            O::ReturnCallIndirect { type_index, table_index } => self.call_indirect(type_index, table_index, true)?,
            O::GlobalGet { global_index } => {
                let g = *self.env.info.globals.get(global_index as usize).ok_or_else(|| Error::Compile("bad global".into()))?;
                let (ptr, off, flags) = self.global_addr(global_index, g.content);
                let flags = if g.mutable { flags } else { flags.with_readonly() };
                let v = self.b.ins().load(cl_type(g.content), flags, ptr, off);
                self.push(v);
            }
            O::GlobalSet { global_index } => {
                let g = *self.env.info.globals.get(global_index as usize).ok_or_else(|| Error::Compile("bad global".into()))?;
                let v = self.pop()?;
                let (ptr, off, flags) = self.global_addr(global_index, g.content);
                self.b.ins().store(flags, v, ptr, off);
            }
            O::RefNull { .. } => {
                let v = self.b.ins().iconst(I64, 0);
                self.push(v);
            }
            O::RefIsNull => self.unop(|t, a| {
                let c = t.b.ins().icmp_imm_u(IntCC::Equal, a, 0);
                t.bool_to_i32(c)
            })?,
            O::RefFunc { function_index } => {
                let off = self.env.offsets.func(function_index);
                let v = self.vmctx_load(off);
                self.push(v);
            }
            O::TableGet { table } => {
                let index = self.pop()?;
                let addr = self.table_elem_addr(table, index, TRAP_TABLE_OOB);
                let fl = self.table_elem_flags();
                let v = self.b.ins().load(I64, fl, addr, 0);
                self.push(v);
            }
            O::TableSet { table } => {
                let (index, value) = self.pop2()?;
                let addr = self.table_elem_addr(table, index, TRAP_TABLE_OOB);
                let fl = self.table_elem_flags();
                self.b.ins().store(fl, value, addr, 0);
            }
            O::TableSize { table } => {
                let def = self.table_def(table);
                let len = self.load_metadata(def, layout::TABLE_LENGTH);
                let len = self.b.ins().ireduce(types::I32, len);
                self.push(len);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.pop2()?;
                let t = self.b.ins().iconst(I64, i64::from(table));
                let delta = self.b.ins().uextend(I64, delta);
                let r = self.libcall(Libcall::TableGrow, &[t, init, delta]);
                let r = self.b.ins().ireduce(types::I32, r);
                self.push(r);
            }
            O::TableFill { table } => {
                let (d, v, n) = self.pop3()?;
                let t = self.b.ins().iconst(I64, i64::from(table));
                let args = [t, self.zext64(d), v, self.zext64(n)];
                self.trapping_libcall(Libcall::TableFill, &args);
            }
            O::TableCopy { dst_table, src_table } => {
                let (d, s, n) = self.pop3()?;
                let dt = self.b.ins().iconst(I64, i64::from(dst_table));
                let st = self.b.ins().iconst(I64, i64::from(src_table));
                let args = [dt, st, self.zext64(d), self.zext64(s), self.zext64(n)];
                self.trapping_libcall(Libcall::TableCopy, &args);
            }
            O::TableInit { elem_index, table } => {
                let (d, s, n) = self.pop3()?;
                let t = self.b.ins().iconst(I64, i64::from(table));
                let e = self.b.ins().iconst(I64, i64::from(elem_index));
                let args = [t, e, self.zext64(d), self.zext64(s), self.zext64(n)];
                self.trapping_libcall(Libcall::TableInit, &args);
            }
            O::ElemDrop { elem_index } => {
                let e = self.b.ins().iconst(I64, i64::from(elem_index));
                self.libcall(Libcall::ElemDrop, &[e]);
            }
            O::CallRef { type_index } => self.call_ref(type_index, false)?,
            O::ReturnCallRef { type_index } => self.call_ref(type_index, true)?,
            O::BrOnNull { relative_depth } => self.br_on_null(relative_depth, true)?,
            O::BrOnNonNull { relative_depth } => self.br_on_null(relative_depth, false)?,
            O::RefAsNonNull => {
                let v = *self.stack.last().ok_or_else(|| Error::Compile("operand stack underflow".into()))?;
                self.b.ins().trapz(v, TRAP_NULL_REFERENCE);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
