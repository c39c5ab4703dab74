//! Adapters between the host calling convention and compiled wasm code.
//!
//! Values cross in an array of 16-byte slots (`ValRaw`): slot `i` holds
//! parameter `i` on the way in and result `i` on the way out.

use alloc::vec::Vec;

use cranelift_codegen::Context;
use cranelift_codegen::ir::{self, AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName, types};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::TRAP_PENDING;
use super::translate::{cl_type, wasm_signature};
use crate::types::FuncType;

/// Size of one value slot.
pub(crate) const VAL_SLOT: u32 = 16;

fn slot_offset(i: usize) -> i32 {
    // Functions have at most 1000 params/results (validator limit).
    i32::try_from(i * VAL_SLOT as usize).unwrap_or(i32::MAX)
}

/// `extern fn(callee_vmctx, caller_vmctx, code, values)` in the host
/// convention: call `code` (wasm convention, type `ty`) with arguments read
/// from `values`, then write the results back to `values`.
pub(crate) fn build_array_to_wasm(ctx: &mut Context, fctx: &mut FunctionBuilderContext, ty: &FuncType, host: CallConv, frontend: cranelift_codegen::isa::TargetFrontendConfig) {
    ctx.clear();
    let mut sig = Signature::new(host);
    for _ in 0..4 {
        sig.params.push(AbiParam::new(types::I64));
    }
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(1, 0);
    let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (callee_vmctx, caller_vmctx, code, values) = (p[0], p[1], p[2], p[3]);
    let mut args = Vec::with_capacity(ty.params().len() + 2);
    args.push(callee_vmctx);
    args.push(caller_vmctx);
    for (i, t) in ty.params().iter().enumerate() {
        args.push(b.ins().load(cl_type(*t), MemFlagsData::trusted(), values, slot_offset(i)));
    }
    let wasm_sig = b.import_signature(wasm_signature(ty));
    let call = b.ins().call_indirect(wasm_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (i, r) in results.into_iter().enumerate() {
        b.ins().store(MemFlagsData::trusted(), r, values, slot_offset(i));
    }
    b.ins().return_(&[]);
    b.finalize(frontend);
}

/// The wasm-convention entry of a host function of type `ty`: spill the
/// arguments to a stack array and call the `HostFuncCtx` shim (at offset 0
/// of the callee vmctx) as `shim(ctx, caller_vmctx, values, len) -> status`;
/// a non-zero status means the host function trapped.
pub(crate) fn build_wasm_to_host(ctx: &mut Context, fctx: &mut FunctionBuilderContext, ty: &FuncType, host: CallConv, frontend: cranelift_codegen::isa::TargetFrontendConfig) {
    ctx.clear();
    ctx.func.signature = wasm_signature(ty);
    ctx.func.name = UserFuncName::user(1, 1);
    let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let p = b.block_params(entry).to_vec();
    let (host_ctx, caller_vmctx) = (p[0], p[1]);
    let len = ty.params().len().max(ty.results().len()).max(1);
    let size = u32::try_from(len).unwrap_or(u32::MAX / VAL_SLOT) * VAL_SLOT;
    let slot = b.create_sized_stack_slot(ir::StackSlotData::new(ir::StackSlotKind::ExplicitSlot, size, 4));
    let values = b.ins().stack_addr(types::I64, slot, 0);
    for (i, v) in p[2..].iter().enumerate() {
        b.ins().store(MemFlagsData::trusted(), *v, values, slot_offset(i));
    }
    let mut host_sig = Signature::new(host);
    for _ in 0..4 {
        host_sig.params.push(AbiParam::new(types::I64));
    }
    host_sig.returns.push(AbiParam::new(types::I64));
    let host_sig = b.import_signature(host_sig);
    let shim = b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), host_ctx, 0);
    let count = b.ins().iconst(types::I64, i64::try_from(len).unwrap_or(0));
    let call = b.ins().call_indirect(host_sig, shim, &[host_ctx, caller_vmctx, values, count]);
    let status = b.inst_results(call)[0];
    b.ins().trapnz(status, TRAP_PENDING);
    let mut results = Vec::with_capacity(ty.results().len());
    for (i, t) in ty.results().iter().enumerate() {
        results.push(b.ins().load(cl_type(*t), MemFlagsData::trusted(), values, slot_offset(i)));
    }
    b.ins().return_(&results);
    b.finalize(frontend);
}

/// The wasm-convention entry of a typed host function whose parameters
/// and (at most one) result are scalars or references: calls
/// `shim(ctx, caller_vmctx, params...) -> (status, result)` (the shim at
/// offset 0 of the callee vmctx) in the host convention, so everything
/// crosses in registers; a non-zero status means the host function
/// trapped.
pub(crate) fn build_wasm_to_host_direct(ctx: &mut Context, fctx: &mut FunctionBuilderContext, ty: &FuncType, host: CallConv, frontend: cranelift_codegen::isa::TargetFrontendConfig) {
    ctx.clear();
    ctx.func.signature = wasm_signature(ty);
    ctx.func.name = UserFuncName::user(1, 2);
    let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let args = b.block_params(entry).to_vec();
    let mut host_sig = Signature::new(host);
    host_sig.params.push(AbiParam::new(types::I64));
    host_sig.params.push(AbiParam::new(types::I64));
    host_sig.params.extend(ty.params().iter().map(|t| AbiParam::new(cl_type(*t))));
    host_sig.returns.push(AbiParam::new(types::I64));
    host_sig.returns.extend(ty.results().iter().map(|t| AbiParam::new(cl_type(*t))));
    let host_sig = b.import_signature(host_sig);
    let shim = b.ins().load(types::I64, MemFlagsData::trusted().with_readonly(), args[0], 0);
    let call = b.ins().call_indirect(host_sig, shim, &args);
    let results = b.inst_results(call).to_vec();
    b.ins().trapnz(results[0], TRAP_PENDING);
    b.ins().return_(&results[1..]);
    b.finalize(frontend);
}
