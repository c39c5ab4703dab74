//! SIMD (v128) operators.
//!
//! On the operand stack every v128 is an `I8X16`; operators bitcast to the
//! lane shape they need and results are bitcast back.

use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{ConstantData, InstBuilder, MemFlagsData, Type, Value, types};
use wasmparser::{MemArg, Operator};

use super::translate::{FuncTranslator, little};
use crate::error::Result;

use types::{F32, F32X4, F64, F64X2, I8, I8X16, I16, I16X8, I32, I32X4, I64, I64X2};

fn vflags() -> MemFlagsData {
    little()
}

impl FuncTranslator<'_, '_> {
    fn cast(&mut self, v: Value, ty: Type) -> Value {
        if self.b.func.dfg.value_type(v) == ty { v } else { self.b.ins().bitcast(ty, vflags(), v) }
    }

    /// Pop a v128 viewed as `ty`.
    fn popv(&mut self, ty: Type) -> Result<Value> {
        let v = self.pop()?;
        Ok(self.cast(v, ty))
    }

    /// Push a vector result as the canonical `I8X16`.
    fn pushv(&mut self, v: Value) {
        let v = self.cast(v, I8X16);
        self.push(v);
    }

    fn vunop(&mut self, ty: Type, f: impl FnOnce(&mut Self, Value) -> Value) -> Result<()> {
        let a = self.popv(ty)?;
        let r = f(self, a);
        self.pushv(r);
        Ok(())
    }

    fn vbinop(&mut self, ty: Type, f: impl FnOnce(&mut Self, Value, Value) -> Value) -> Result<()> {
        let b = self.popv(ty)?;
        let a = self.popv(ty)?;
        let r = f(self, a, b);
        self.pushv(r);
        Ok(())
    }

    fn vicmp(&mut self, ty: Type, cc: IntCC) -> Result<()> {
        self.vbinop(ty, |t, a, b| t.b.ins().icmp(cc, a, b))
    }

    fn vfcmp(&mut self, ty: Type, cc: FloatCC) -> Result<()> {
        self.vbinop(ty, |t, a, b| t.b.ins().fcmp(cc, a, b))
    }

    fn vshift(&mut self, ty: Type, op: fn(&mut Self, Value, Value) -> Value) -> Result<()> {
        let amount = self.pop()?;
        let a = self.popv(ty)?;
        let r = op(self, a, amount);
        self.pushv(r);
        Ok(())
    }

    fn splat(&mut self, ty: Type, lane: Type) -> Result<()> {
        let mut x = self.pop()?;
        if lane == I8 || lane == I16 {
            x = self.b.ins().ireduce(lane, x);
        }
        let r = self.b.ins().splat(ty, x);
        self.pushv(r);
        Ok(())
    }

    fn extract(&mut self, ty: Type, lane: u8, extend: Option<bool>) -> Result<()> {
        let v = self.popv(ty)?;
        let mut x = self.b.ins().extractlane(v, lane);
        match extend {
            Some(true) => x = self.b.ins().sextend(I32, x),
            Some(false) => x = self.b.ins().uextend(I32, x),
            None => {}
        }
        self.push(x);
        Ok(())
    }

    fn replace(&mut self, ty: Type, lane: u8, narrow: Option<Type>) -> Result<()> {
        let mut x = self.pop()?;
        let v = self.popv(ty)?;
        if let Some(n) = narrow {
            x = self.b.ins().ireduce(n, x);
        }
        let r = self.b.ins().insertlane(v, x, lane);
        self.pushv(r);
        Ok(())
    }

    fn vload(&mut self, memarg: &MemArg, size: u32, f: impl FnOnce(&mut Self, Value, i32) -> Value) -> Result<()> {
        let (addr, off) = self.mem_addr(memarg, size)?;
        let v = f(self, addr, off);
        self.pushv(v);
        Ok(())
    }

    fn load_splat(&mut self, memarg: &MemArg, lane: Type, ty: Type) -> Result<()> {
        let fl = self.heap_flags();
        self.vload(memarg, lane.bytes(), |t, a, o| {
            let x = t.b.ins().load(lane, fl, a, o);
            t.b.ins().splat(ty, x)
        })
    }

    fn load_lane(&mut self, memarg: &MemArg, lane_ty: Type, ty: Type, lane: u8) -> Result<()> {
        let v = self.popv(ty)?;
        let (addr, off) = self.mem_addr(memarg, lane_ty.bytes())?;
        let fl = self.heap_flags();
        let x = self.b.ins().load(lane_ty, fl, addr, off);
        let r = self.b.ins().insertlane(v, x, lane);
        self.pushv(r);
        Ok(())
    }

    fn store_lane(&mut self, memarg: &MemArg, lane_ty: Type, ty: Type, lane: u8) -> Result<()> {
        let v = self.popv(ty)?;
        let (addr, off) = self.mem_addr(memarg, lane_ty.bytes())?;
        let x = self.b.ins().extractlane(v, lane);
        let fl = self.heap_flags();
        self.b.ins().store(fl, x, addr, off);
        Ok(())
    }

    fn all_true(&mut self, ty: Type) -> Result<()> {
        let v = self.popv(ty)?;
        let r = self.b.ins().vall_true(v);
        let r = self.b.ins().uextend(I32, r);
        self.push(r);
        Ok(())
    }

    fn bitmask(&mut self, ty: Type) -> Result<()> {
        let v = self.popv(ty)?;
        let r = self.b.ins().vhigh_bits(I32, v);
        self.push(r);
        Ok(())
    }

    fn ext_add_pairwise(&mut self, ty: Type, signed: bool) -> Result<()> {
        self.vunop(ty, |t, a| {
            let (lo, hi) = if signed {
                (t.b.ins().swiden_low(a), t.b.ins().swiden_high(a))
            } else {
                (t.b.ins().uwiden_low(a), t.b.ins().uwiden_high(a))
            };
            t.b.ins().iadd_pairwise(lo, hi)
        })
    }

    fn ext_mul(&mut self, ty: Type, high: bool, signed: bool) -> Result<()> {
        self.vbinop(ty, |t, a, b| {
            let widen = |t: &mut Self, v: Value| match (high, signed) {
                (false, true) => t.b.ins().swiden_low(v),
                (true, true) => t.b.ins().swiden_high(v),
                (false, false) => t.b.ins().uwiden_low(v),
                (true, false) => t.b.ins().uwiden_high(v),
            };
            let a = widen(t, a);
            let b = widen(t, b);
            t.b.ins().imul(a, b)
        })
    }

    fn widen(&mut self, ty: Type, high: bool, signed: bool) -> Result<()> {
        self.vunop(ty, |t, a| match (high, signed) {
            (false, true) => t.b.ins().swiden_low(a),
            (true, true) => t.b.ins().swiden_high(a),
            (false, false) => t.b.ins().uwiden_low(a),
            (true, false) => t.b.ins().uwiden_high(a),
        })
    }

    fn zero_vector(&mut self, ty: Type) -> Value {
        // A vconst of the lane type itself: backends pattern-match
        // `snarrow(x, zero)` on it.
        let c = self.b.func.dfg.constants.insert(ConstantData::from([0u8; 16].as_slice()));
        self.b.ins().vconst(ty, c)
    }

    /// Lower `op` if it is one of this group's operators; `Ok(false)` if not.
    /// (Split in parts with separate stack frames: the kernel compiles on
    /// small stacks.)
    pub(super) fn simd_op(&mut self, op: &Operator<'_>) -> Result<bool> {
        Ok(self.simd_op_0(op)? || self.simd_op_1(op)? || self.simd_op_2(op)? || self.simd_op_3(op)? || self.simd_op_4(op)? || self.simd_op_5(op)? || self.simd_op_6(op)? || self.simd_op_7(op)?)
    }

    #[inline(never)]
    fn simd_op_0(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        let fl = self.heap_flags();
        match op {
            O::V128Const { value } => {
                let v = self.v128_const(value.i128().cast_unsigned());
                self.push(v);
            }
            O::V128Load { memarg } => self.vload(memarg, 16, |t, a, o| t.b.ins().load(I8X16, fl, a, o))?,
            O::V128Load8x8S { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().sload8x8(fl, a, o))?,
            O::V128Load8x8U { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().uload8x8(fl, a, o))?,
            O::V128Load16x4S { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().sload16x4(fl, a, o))?,
            O::V128Load16x4U { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().uload16x4(fl, a, o))?,
            O::V128Load32x2S { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().sload32x2(fl, a, o))?,
            O::V128Load32x2U { memarg } => self.vload(memarg, 8, |t, a, o| t.b.ins().uload32x2(fl, a, o))?,
            O::V128Load8Splat { memarg } => self.load_splat(memarg, I8, I8X16)?,
            O::V128Load16Splat { memarg } => self.load_splat(memarg, I16, I16X8)?,
            O::V128Load32Splat { memarg } => self.load_splat(memarg, I32, I32X4)?,
            O::V128Load64Splat { memarg } => self.load_splat(memarg, I64, I64X2)?,
            O::V128Load32Zero { memarg } => self.vload(memarg, 4, |t, a, o| {
                let x = t.b.ins().load(I32, fl, a, o);
                t.b.ins().scalar_to_vector(I32X4, x)
            })?,
            O::V128Load64Zero { memarg } => self.vload(memarg, 8, |t, a, o| {
                let x = t.b.ins().load(I64, fl, a, o);
                t.b.ins().scalar_to_vector(I64X2, x)
            })?,
            O::V128Store { memarg } => {
                let v = self.popv(I8X16)?;
                let (addr, off) = self.mem_addr(memarg, 16)?;
                self.b.ins().store(fl, v, addr, off);
            }
            O::V128Load8Lane { memarg, lane } => self.load_lane(memarg, I8, I8X16, *lane)?,
            O::V128Load16Lane { memarg, lane } => self.load_lane(memarg, I16, I16X8, *lane)?,
            O::V128Load32Lane { memarg, lane } => self.load_lane(memarg, I32, I32X4, *lane)?,
            O::V128Load64Lane { memarg, lane } => self.load_lane(memarg, I64, I64X2, *lane)?,
            O::V128Store8Lane { memarg, lane } => self.store_lane(memarg, I8, I8X16, *lane)?,
            O::V128Store16Lane { memarg, lane } => self.store_lane(memarg, I16, I16X8, *lane)?,
            O::V128Store32Lane { memarg, lane } => self.store_lane(memarg, I32, I32X4, *lane)?,
            O::V128Store64Lane { memarg, lane } => self.store_lane(memarg, I64, I64X2, *lane)?,
            O::I8x16Shuffle { lanes } => {
                let b = self.popv(I8X16)?;
                let a = self.popv(I8X16)?;
                let mask = self.b.func.dfg.immediates.push(ConstantData::from(lanes.as_slice()));
                let r = self.b.ins().shuffle(a, b, mask);
                self.pushv(r);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_1(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::I8x16Swizzle => self.vbinop(I8X16, |t, a, b| t.b.ins().swizzle(a, b))?,
            O::I8x16Splat => self.splat(I8X16, I8)?,
            O::I16x8Splat => self.splat(I16X8, I16)?,
            O::I32x4Splat => self.splat(I32X4, I32)?,
            O::I64x2Splat => self.splat(I64X2, I64)?,
            O::F32x4Splat => self.splat(F32X4, F32)?,
            O::F64x2Splat => self.splat(F64X2, F64)?,
            O::I8x16ExtractLaneS { lane } => self.extract(I8X16, *lane, Some(true))?,
            O::I8x16ExtractLaneU { lane } => self.extract(I8X16, *lane, Some(false))?,
            O::I16x8ExtractLaneS { lane } => self.extract(I16X8, *lane, Some(true))?,
            O::I16x8ExtractLaneU { lane } => self.extract(I16X8, *lane, Some(false))?,
            O::I32x4ExtractLane { lane } => self.extract(I32X4, *lane, None)?,
            O::I64x2ExtractLane { lane } => self.extract(I64X2, *lane, None)?,
            O::F32x4ExtractLane { lane } => self.extract(F32X4, *lane, None)?,
            O::F64x2ExtractLane { lane } => self.extract(F64X2, *lane, None)?,
            O::I8x16ReplaceLane { lane } => self.replace(I8X16, *lane, Some(I8))?,
            O::I16x8ReplaceLane { lane } => self.replace(I16X8, *lane, Some(I16))?,
            O::I32x4ReplaceLane { lane } => self.replace(I32X4, *lane, None)?,
            O::I64x2ReplaceLane { lane } => self.replace(I64X2, *lane, None)?,
            O::F32x4ReplaceLane { lane } => self.replace(F32X4, *lane, None)?,
            O::F64x2ReplaceLane { lane } => self.replace(F64X2, *lane, None)?,

            O::I8x16Eq => self.vicmp(I8X16, IntCC::Equal)?,
            O::I8x16Ne => self.vicmp(I8X16, IntCC::NotEqual)?,
            O::I8x16LtS => self.vicmp(I8X16, IntCC::SignedLessThan)?,
            O::I8x16LtU => self.vicmp(I8X16, IntCC::UnsignedLessThan)?,
            O::I8x16GtS => self.vicmp(I8X16, IntCC::SignedGreaterThan)?,
            O::I8x16GtU => self.vicmp(I8X16, IntCC::UnsignedGreaterThan)?,
            O::I8x16LeS => self.vicmp(I8X16, IntCC::SignedLessThanOrEqual)?,
            O::I8x16LeU => self.vicmp(I8X16, IntCC::UnsignedLessThanOrEqual)?,
            O::I8x16GeS => self.vicmp(I8X16, IntCC::SignedGreaterThanOrEqual)?,
            O::I8x16GeU => self.vicmp(I8X16, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I16x8Eq => self.vicmp(I16X8, IntCC::Equal)?,
            O::I16x8Ne => self.vicmp(I16X8, IntCC::NotEqual)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_2(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::I16x8LtS => self.vicmp(I16X8, IntCC::SignedLessThan)?,
            O::I16x8LtU => self.vicmp(I16X8, IntCC::UnsignedLessThan)?,
            O::I16x8GtS => self.vicmp(I16X8, IntCC::SignedGreaterThan)?,
            O::I16x8GtU => self.vicmp(I16X8, IntCC::UnsignedGreaterThan)?,
            O::I16x8LeS => self.vicmp(I16X8, IntCC::SignedLessThanOrEqual)?,
            O::I16x8LeU => self.vicmp(I16X8, IntCC::UnsignedLessThanOrEqual)?,
            O::I16x8GeS => self.vicmp(I16X8, IntCC::SignedGreaterThanOrEqual)?,
            O::I16x8GeU => self.vicmp(I16X8, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I32x4Eq => self.vicmp(I32X4, IntCC::Equal)?,
            O::I32x4Ne => self.vicmp(I32X4, IntCC::NotEqual)?,
            O::I32x4LtS => self.vicmp(I32X4, IntCC::SignedLessThan)?,
            O::I32x4LtU => self.vicmp(I32X4, IntCC::UnsignedLessThan)?,
            O::I32x4GtS => self.vicmp(I32X4, IntCC::SignedGreaterThan)?,
            O::I32x4GtU => self.vicmp(I32X4, IntCC::UnsignedGreaterThan)?,
            O::I32x4LeS => self.vicmp(I32X4, IntCC::SignedLessThanOrEqual)?,
            O::I32x4LeU => self.vicmp(I32X4, IntCC::UnsignedLessThanOrEqual)?,
            O::I32x4GeS => self.vicmp(I32X4, IntCC::SignedGreaterThanOrEqual)?,
            O::I32x4GeU => self.vicmp(I32X4, IntCC::UnsignedGreaterThanOrEqual)?,
            O::I64x2Eq => self.vicmp(I64X2, IntCC::Equal)?,
            O::I64x2Ne => self.vicmp(I64X2, IntCC::NotEqual)?,
            O::I64x2LtS => self.vicmp(I64X2, IntCC::SignedLessThan)?,
            O::I64x2GtS => self.vicmp(I64X2, IntCC::SignedGreaterThan)?,
            O::I64x2LeS => self.vicmp(I64X2, IntCC::SignedLessThanOrEqual)?,
            O::I64x2GeS => self.vicmp(I64X2, IntCC::SignedGreaterThanOrEqual)?,
            O::F32x4Eq => self.vfcmp(F32X4, FloatCC::Equal)?,
            O::F32x4Ne => self.vfcmp(F32X4, FloatCC::NotEqual)?,
            O::F32x4Lt => self.vfcmp(F32X4, FloatCC::LessThan)?,
            O::F32x4Gt => self.vfcmp(F32X4, FloatCC::GreaterThan)?,
            O::F32x4Le => self.vfcmp(F32X4, FloatCC::LessThanOrEqual)?,
            O::F32x4Ge => self.vfcmp(F32X4, FloatCC::GreaterThanOrEqual)?,
            O::F64x2Eq => self.vfcmp(F64X2, FloatCC::Equal)?,
            O::F64x2Ne => self.vfcmp(F64X2, FloatCC::NotEqual)?,
            O::F64x2Lt => self.vfcmp(F64X2, FloatCC::LessThan)?,
            O::F64x2Gt => self.vfcmp(F64X2, FloatCC::GreaterThan)?,
            O::F64x2Le => self.vfcmp(F64X2, FloatCC::LessThanOrEqual)?,
            O::F64x2Ge => self.vfcmp(F64X2, FloatCC::GreaterThanOrEqual)?,

            O::V128Not => self.vunop(I8X16, |t, a| t.b.ins().bnot(a))?,
            O::V128And => self.vbinop(I8X16, |t, a, b| t.b.ins().band(a, b))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_3(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::V128AndNot => self.vbinop(I8X16, |t, a, b| t.b.ins().band_not(a, b))?,
            O::V128Or => self.vbinop(I8X16, |t, a, b| t.b.ins().bor(a, b))?,
            O::V128Xor => self.vbinop(I8X16, |t, a, b| t.b.ins().bxor(a, b))?,
            O::V128Bitselect => {
                let c = self.popv(I8X16)?;
                let b = self.popv(I8X16)?;
                let a = self.popv(I8X16)?;
                let r = self.b.ins().bitselect(c, a, b);
                self.pushv(r);
            }
            O::V128AnyTrue => {
                let v = self.popv(I8X16)?;
                let r = self.b.ins().vany_true(v);
                let r = self.b.ins().uextend(I32, r);
                self.push(r);
            }
            O::I8x16AllTrue => self.all_true(I8X16)?,
            O::I16x8AllTrue => self.all_true(I16X8)?,
            O::I32x4AllTrue => self.all_true(I32X4)?,
            O::I64x2AllTrue => self.all_true(I64X2)?,
            O::I8x16Bitmask => self.bitmask(I8X16)?,
            O::I16x8Bitmask => self.bitmask(I16X8)?,
            O::I32x4Bitmask => self.bitmask(I32X4)?,
            O::I64x2Bitmask => self.bitmask(I64X2)?,

            O::I8x16Abs => self.vunop(I8X16, |t, a| t.b.ins().iabs(a))?,
            O::I16x8Abs => self.vunop(I16X8, |t, a| t.b.ins().iabs(a))?,
            O::I32x4Abs => self.vunop(I32X4, |t, a| t.b.ins().iabs(a))?,
            O::I64x2Abs => self.vunop(I64X2, |t, a| t.b.ins().iabs(a))?,
            O::I8x16Neg => self.vunop(I8X16, |t, a| t.b.ins().ineg(a))?,
            O::I16x8Neg => self.vunop(I16X8, |t, a| t.b.ins().ineg(a))?,
            O::I32x4Neg => self.vunop(I32X4, |t, a| t.b.ins().ineg(a))?,
            O::I64x2Neg => self.vunop(I64X2, |t, a| t.b.ins().ineg(a))?,
            O::I8x16Popcnt => self.vunop(I8X16, |t, a| t.b.ins().popcnt(a))?,
            O::I8x16NarrowI16x8S => self.vbinop(I16X8, |t, a, b| t.b.ins().snarrow(a, b))?,
            O::I8x16NarrowI16x8U => self.vbinop(I16X8, |t, a, b| t.b.ins().unarrow(a, b))?,
            O::I16x8NarrowI32x4S => self.vbinop(I32X4, |t, a, b| t.b.ins().snarrow(a, b))?,
            O::I16x8NarrowI32x4U => self.vbinop(I32X4, |t, a, b| t.b.ins().unarrow(a, b))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_4(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::I8x16Shl => self.vshift(I8X16, |t, a, b| t.b.ins().ishl(a, b))?,
            O::I16x8Shl => self.vshift(I16X8, |t, a, b| t.b.ins().ishl(a, b))?,
            O::I32x4Shl => self.vshift(I32X4, |t, a, b| t.b.ins().ishl(a, b))?,
            O::I64x2Shl => self.vshift(I64X2, |t, a, b| t.b.ins().ishl(a, b))?,
            O::I8x16ShrS => self.vshift(I8X16, |t, a, b| t.b.ins().sshr(a, b))?,
            O::I16x8ShrS => self.vshift(I16X8, |t, a, b| t.b.ins().sshr(a, b))?,
            O::I32x4ShrS => self.vshift(I32X4, |t, a, b| t.b.ins().sshr(a, b))?,
            O::I64x2ShrS => self.vshift(I64X2, |t, a, b| t.b.ins().sshr(a, b))?,
            O::I8x16ShrU => self.vshift(I8X16, |t, a, b| t.b.ins().ushr(a, b))?,
            O::I16x8ShrU => self.vshift(I16X8, |t, a, b| t.b.ins().ushr(a, b))?,
            O::I32x4ShrU => self.vshift(I32X4, |t, a, b| t.b.ins().ushr(a, b))?,
            O::I64x2ShrU => self.vshift(I64X2, |t, a, b| t.b.ins().ushr(a, b))?,
            O::I8x16Add => self.vbinop(I8X16, |t, a, b| t.b.ins().iadd(a, b))?,
            O::I16x8Add => self.vbinop(I16X8, |t, a, b| t.b.ins().iadd(a, b))?,
            O::I32x4Add => self.vbinop(I32X4, |t, a, b| t.b.ins().iadd(a, b))?,
            O::I64x2Add => self.vbinop(I64X2, |t, a, b| t.b.ins().iadd(a, b))?,
            O::I8x16Sub => self.vbinop(I8X16, |t, a, b| t.b.ins().isub(a, b))?,
            O::I16x8Sub => self.vbinop(I16X8, |t, a, b| t.b.ins().isub(a, b))?,
            O::I32x4Sub => self.vbinop(I32X4, |t, a, b| t.b.ins().isub(a, b))?,
            O::I64x2Sub => self.vbinop(I64X2, |t, a, b| t.b.ins().isub(a, b))?,
            O::I16x8Mul => self.vbinop(I16X8, |t, a, b| t.b.ins().imul(a, b))?,
            O::I32x4Mul => self.vbinop(I32X4, |t, a, b| t.b.ins().imul(a, b))?,
            O::I64x2Mul => self.vbinop(I64X2, |t, a, b| t.b.ins().imul(a, b))?,
            O::I8x16AddSatS => self.vbinop(I8X16, |t, a, b| t.b.ins().sadd_sat(a, b))?,
            O::I8x16AddSatU => self.vbinop(I8X16, |t, a, b| t.b.ins().uadd_sat(a, b))?,
            O::I16x8AddSatS => self.vbinop(I16X8, |t, a, b| t.b.ins().sadd_sat(a, b))?,
            O::I16x8AddSatU => self.vbinop(I16X8, |t, a, b| t.b.ins().uadd_sat(a, b))?,
            O::I8x16SubSatS => self.vbinop(I8X16, |t, a, b| t.b.ins().ssub_sat(a, b))?,
            O::I8x16SubSatU => self.vbinop(I8X16, |t, a, b| t.b.ins().usub_sat(a, b))?,
            O::I16x8SubSatS => self.vbinop(I16X8, |t, a, b| t.b.ins().ssub_sat(a, b))?,
            O::I16x8SubSatU => self.vbinop(I16X8, |t, a, b| t.b.ins().usub_sat(a, b))?,
            O::I8x16MinS => self.vbinop(I8X16, |t, a, b| t.b.ins().smin(a, b))?,
            O::I8x16MinU => self.vbinop(I8X16, |t, a, b| t.b.ins().umin(a, b))?,
            O::I8x16MaxS => self.vbinop(I8X16, |t, a, b| t.b.ins().smax(a, b))?,
            O::I8x16MaxU => self.vbinop(I8X16, |t, a, b| t.b.ins().umax(a, b))?,
            O::I16x8MinS => self.vbinop(I16X8, |t, a, b| t.b.ins().smin(a, b))?,
            O::I16x8MinU => self.vbinop(I16X8, |t, a, b| t.b.ins().umin(a, b))?,
            O::I16x8MaxS => self.vbinop(I16X8, |t, a, b| t.b.ins().smax(a, b))?,
            O::I16x8MaxU => self.vbinop(I16X8, |t, a, b| t.b.ins().umax(a, b))?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_5(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::I32x4MinS => self.vbinop(I32X4, |t, a, b| t.b.ins().smin(a, b))?,
            O::I32x4MinU => self.vbinop(I32X4, |t, a, b| t.b.ins().umin(a, b))?,
            O::I32x4MaxS => self.vbinop(I32X4, |t, a, b| t.b.ins().smax(a, b))?,
            O::I32x4MaxU => self.vbinop(I32X4, |t, a, b| t.b.ins().umax(a, b))?,
            O::I8x16AvgrU => self.vbinop(I8X16, |t, a, b| t.b.ins().avg_round(a, b))?,
            O::I16x8AvgrU => self.vbinop(I16X8, |t, a, b| t.b.ins().avg_round(a, b))?,
            O::I16x8Q15MulrSatS => self.vbinop(I16X8, |t, a, b| t.b.ins().sqmul_round_sat(a, b))?,
            O::I16x8ExtAddPairwiseI8x16S => self.ext_add_pairwise(I8X16, true)?,
            O::I16x8ExtAddPairwiseI8x16U => self.ext_add_pairwise(I8X16, false)?,
            O::I32x4ExtAddPairwiseI16x8S => self.ext_add_pairwise(I16X8, true)?,
            O::I32x4ExtAddPairwiseI16x8U => self.ext_add_pairwise(I16X8, false)?,
            O::I16x8ExtendLowI8x16S => self.widen(I8X16, false, true)?,
            O::I16x8ExtendHighI8x16S => self.widen(I8X16, true, true)?,
            O::I16x8ExtendLowI8x16U => self.widen(I8X16, false, false)?,
            O::I16x8ExtendHighI8x16U => self.widen(I8X16, true, false)?,
            O::I32x4ExtendLowI16x8S => self.widen(I16X8, false, true)?,
            O::I32x4ExtendHighI16x8S => self.widen(I16X8, true, true)?,
            O::I32x4ExtendLowI16x8U => self.widen(I16X8, false, false)?,
            O::I32x4ExtendHighI16x8U => self.widen(I16X8, true, false)?,
            O::I64x2ExtendLowI32x4S => self.widen(I32X4, false, true)?,
            O::I64x2ExtendHighI32x4S => self.widen(I32X4, true, true)?,
            O::I64x2ExtendLowI32x4U => self.widen(I32X4, false, false)?,
            O::I64x2ExtendHighI32x4U => self.widen(I32X4, true, false)?,
            O::I16x8ExtMulLowI8x16S => self.ext_mul(I8X16, false, true)?,
            O::I16x8ExtMulHighI8x16S => self.ext_mul(I8X16, true, true)?,
            O::I16x8ExtMulLowI8x16U => self.ext_mul(I8X16, false, false)?,
            O::I16x8ExtMulHighI8x16U => self.ext_mul(I8X16, true, false)?,
            O::I32x4ExtMulLowI16x8S => self.ext_mul(I16X8, false, true)?,
            O::I32x4ExtMulHighI16x8S => self.ext_mul(I16X8, true, true)?,
            O::I32x4ExtMulLowI16x8U => self.ext_mul(I16X8, false, false)?,
            O::I32x4ExtMulHighI16x8U => self.ext_mul(I16X8, true, false)?,
            O::I64x2ExtMulLowI32x4S => self.ext_mul(I32X4, false, true)?,
            O::I64x2ExtMulHighI32x4S => self.ext_mul(I32X4, true, true)?,
            O::I64x2ExtMulLowI32x4U => self.ext_mul(I32X4, false, false)?,
            O::I64x2ExtMulHighI32x4U => self.ext_mul(I32X4, true, false)?,
            O::I32x4DotI16x8S => self.vbinop(I16X8, |t, a, b| {
                let al = t.b.ins().swiden_low(a);
                let ah = t.b.ins().swiden_high(a);
                let bl = t.b.ins().swiden_low(b);
                let bh = t.b.ins().swiden_high(b);
                let lo = t.b.ins().imul(al, bl);
                let hi = t.b.ins().imul(ah, bh);
                t.b.ins().iadd_pairwise(lo, hi)
            })?,

            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_6(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::F32x4Ceil => self.vunop(F32X4, |t, a| t.b.ins().ceil(a))?,
            O::F64x2Ceil => self.vunop(F64X2, |t, a| t.b.ins().ceil(a))?,
            O::F32x4Floor => self.vunop(F32X4, |t, a| t.b.ins().floor(a))?,
            O::F64x2Floor => self.vunop(F64X2, |t, a| t.b.ins().floor(a))?,
            O::F32x4Trunc => self.vunop(F32X4, |t, a| t.b.ins().trunc(a))?,
            O::F64x2Trunc => self.vunop(F64X2, |t, a| t.b.ins().trunc(a))?,
            O::F32x4Nearest => self.vunop(F32X4, |t, a| t.b.ins().nearest(a))?,
            O::F64x2Nearest => self.vunop(F64X2, |t, a| t.b.ins().nearest(a))?,
            O::F32x4Abs => self.vunop(F32X4, |t, a| t.b.ins().fabs(a))?,
            O::F64x2Abs => self.vunop(F64X2, |t, a| t.b.ins().fabs(a))?,
            O::F32x4Neg => self.vunop(F32X4, |t, a| t.b.ins().fneg(a))?,
            O::F64x2Neg => self.vunop(F64X2, |t, a| t.b.ins().fneg(a))?,
            O::F32x4Sqrt => self.vunop(F32X4, |t, a| t.b.ins().sqrt(a))?,
            O::F64x2Sqrt => self.vunop(F64X2, |t, a| t.b.ins().sqrt(a))?,
            O::F32x4Add => self.vbinop(F32X4, |t, a, b| t.b.ins().fadd(a, b))?,
            O::F64x2Add => self.vbinop(F64X2, |t, a, b| t.b.ins().fadd(a, b))?,
            O::F32x4Sub => self.vbinop(F32X4, |t, a, b| t.b.ins().fsub(a, b))?,
            O::F64x2Sub => self.vbinop(F64X2, |t, a, b| t.b.ins().fsub(a, b))?,
            O::F32x4Mul => self.vbinop(F32X4, |t, a, b| t.b.ins().fmul(a, b))?,
            O::F64x2Mul => self.vbinop(F64X2, |t, a, b| t.b.ins().fmul(a, b))?,
            O::F32x4Div => self.vbinop(F32X4, |t, a, b| t.b.ins().fdiv(a, b))?,
            O::F64x2Div => self.vbinop(F64X2, |t, a, b| t.b.ins().fdiv(a, b))?,
            O::F32x4Min => self.vbinop(F32X4, |t, a, b| t.b.ins().fmin(a, b))?,
            O::F64x2Min => self.vbinop(F64X2, |t, a, b| t.b.ins().fmin(a, b))?,
            O::F32x4Max => self.vbinop(F32X4, |t, a, b| t.b.ins().fmax(a, b))?,
            O::F64x2Max => self.vbinop(F64X2, |t, a, b| t.b.ins().fmax(a, b))?,
            O::F32x4PMin | O::F64x2PMin => {
                let ty = if matches!(op, O::F32x4PMin) { F32X4 } else { F64X2 };
                self.vbinop(ty, |t, a, b| {
                    let m = t.b.ins().fcmp(FloatCC::LessThan, b, a);
                    let m = t.cast(m, ty);
                    t.b.ins().bitselect(m, b, a)
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    #[inline(never)]
    fn simd_op_7(&mut self, op: &Operator<'_>) -> Result<bool> {
        use Operator as O;
        match op {
            O::F32x4PMax | O::F64x2PMax => {
                let ty = if matches!(op, O::F32x4PMax) { F32X4 } else { F64X2 };
                self.vbinop(ty, |t, a, b| {
                    let m = t.b.ins().fcmp(FloatCC::LessThan, a, b);
                    let m = t.cast(m, ty);
                    t.b.ins().bitselect(m, b, a)
                })?;
            }
            O::I32x4TruncSatF32x4S => self.vunop(F32X4, |t, a| t.b.ins().fcvt_to_sint_sat(I32X4, a))?,
            O::I32x4TruncSatF32x4U => self.vunop(F32X4, |t, a| t.b.ins().fcvt_to_uint_sat(I32X4, a))?,
            O::F32x4ConvertI32x4S => self.vunop(I32X4, |t, a| t.b.ins().fcvt_from_sint(F32X4, a))?,
            O::F32x4ConvertI32x4U => self.vunop(I32X4, |t, a| t.b.ins().fcvt_from_uint(F32X4, a))?,
            O::I32x4TruncSatF64x2SZero => {
                let a = self.popv(F64X2)?;
                let c = self.b.ins().fcvt_to_sint_sat(I64X2, a);
                let z = self.zero_vector(I64X2);
                let r = self.b.ins().snarrow(c, z);
                self.pushv(r);
            }
            O::I32x4TruncSatF64x2UZero => {
                let a = self.popv(F64X2)?;
                let c = self.b.ins().fcvt_to_uint_sat(I64X2, a);
                let z = self.zero_vector(I64X2);
                let r = self.b.ins().uunarrow(c, z);
                self.pushv(r);
            }
            O::F64x2ConvertLowI32x4S => self.vunop(I32X4, |t, a| {
                let w = t.b.ins().swiden_low(a);
                t.b.ins().fcvt_from_sint(F64X2, w)
            })?,
            O::F64x2ConvertLowI32x4U => self.vunop(I32X4, |t, a| {
                let w = t.b.ins().uwiden_low(a);
                t.b.ins().fcvt_from_uint(F64X2, w)
            })?,
            O::F32x4DemoteF64x2Zero => self.vunop(F64X2, |t, a| t.b.ins().fvdemote(a))?,
            O::F64x2PromoteLowF32x4 => self.vunop(F32X4, |t, a| t.b.ins().fvpromote_low(a))?,
            _ => return Ok(false),
        }
        Ok(true)
    }
}
