//! Converting `.wast` arguments to [`Val`]s and matching results against
//! `.wast` expectations (NaN patterns, v128 lane formats, references).

use hypha_wasm::{ExternRef, Store, Val};
use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern, WastArgCore, WastRetCore};
use wast::{WastArg, WastRet};

/// A `.wast` argument as a value.
pub fn arg(store: &mut Store<()>, a: &WastArg<'_>) -> Result<Val, String> {
    let WastArg::Core(a) = a else { return Err("component argument".into()) };
    Ok(match a {
        WastArgCore::I32(v) => Val::I32(*v),
        WastArgCore::I64(v) => Val::I64(*v),
        WastArgCore::F32(v) => Val::F32(v.bits),
        WastArgCore::F64(v) => Val::F64(v.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Func | AbstractHeapType::NoFunc, .. } | HeapType::Concrete(_)) => {
            Val::FuncRef(None)
        }
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern, .. }) => {
            Val::ExternRef(None)
        }
        WastArgCore::RefExtern(n) => Val::ExternRef(Some(ExternRef::new(store, *n))),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn f32_matches(bits: u32, p: &NanPattern<wast::token::F32>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn f64_matches(bits: u64, p: &NanPattern<wast::token::F64>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

fn lanes<const N: usize, const W: usize>(v: u128) -> [[u8; W]; N] {
    let bytes = v.to_le_bytes();
    let mut out = [[0u8; W]; N];
    for (i, lane) in out.iter_mut().enumerate() {
        lane.copy_from_slice(&bytes[i * W..(i + 1) * W]);
    }
    out
}

fn v128_matches(v: u128, p: &V128Pattern) -> bool {
    match p {
        V128Pattern::I8x16(e) => lanes::<16, 1>(v).iter().zip(e).all(|(a, b)| i8::from_le_bytes(*a) == *b),
        V128Pattern::I16x8(e) => lanes::<8, 2>(v).iter().zip(e).all(|(a, b)| i16::from_le_bytes(*a) == *b),
        V128Pattern::I32x4(e) => lanes::<4, 4>(v).iter().zip(e).all(|(a, b)| i32::from_le_bytes(*a) == *b),
        V128Pattern::I64x2(e) => lanes::<2, 8>(v).iter().zip(e).all(|(a, b)| i64::from_le_bytes(*a) == *b),
        V128Pattern::F32x4(e) => lanes::<4, 4>(v).iter().zip(e).all(|(a, p)| f32_matches(u32::from_le_bytes(*a), p)),
        V128Pattern::F64x2(e) => lanes::<2, 8>(v).iter().zip(e).all(|(a, p)| f64_matches(u64::from_le_bytes(*a), p)),
    }
}

/// Whether `v` matches the expectation.
pub fn matches(store: &Store<()>, v: &Val, expected: &WastRet<'_>) -> Result<bool, String> {
    let WastRet::Core(e) = expected else { return Err("component result".into()) };
    Ok(core_matches(store, v, e))
}

fn core_matches(store: &Store<()>, v: &Val, e: &WastRetCore<'_>) -> bool {
    match (e, v) {
        (WastRetCore::I32(a), Val::I32(b)) => a == b,
        (WastRetCore::I64(a), Val::I64(b)) => a == b,
        (WastRetCore::F32(p), Val::F32(b)) => f32_matches(*b, p),
        (WastRetCore::F64(p), Val::F64(b)) => f64_matches(*b, p),
        (WastRetCore::V128(p), Val::V128(b)) => v128_matches(*b, p),
        (WastRetCore::RefNull(_), Val::FuncRef(None) | Val::ExternRef(None)) => true,
        (WastRetCore::RefFunc(None), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefFunc(Some(_)), Val::FuncRef(Some(_))) => true,
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(r))) => {
            r.data(store).and_then(|d| d.downcast_ref::<u32>()).is_some_and(|d| d == n)
        }
        (WastRetCore::Either(options), _) => options.iter().any(|o| core_matches(store, v, o)),
        _ => false,
    }
}
