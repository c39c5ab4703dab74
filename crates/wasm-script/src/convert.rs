//! `.wast` text to a script [`File`] (host only, `convert` feature).
//!
//! Every directive becomes exactly one command, so a file has as many
//! commands here as the host runner counts for it. Modules are encoded to
//! binary here. A text-format `assert_malformed`/`assert_invalid` module
//! that does not even encode is malformed as text: the check is done here
//! and recorded as [`CommandKind::MalformedText`], which the runner counts
//! as passed (the host runner counts the same case the same way).

extern crate std;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wast::core::{AbstractHeapType, HeapType, NanPattern, V128Pattern as WastV128, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

use crate::format::{Action, Command, CommandKind, Expected, File, FloatPattern, V128Pattern, Value};

fn buffer(src: &str) -> Result<ParseBuffer<'_>, wast::Error> {
    let mut lexer = wast::lexer::Lexer::new(src);
    lexer.allow_confusing_unicode(true);
    ParseBuffer::new_with_lexer(lexer)
}

/// Converts the `.wast` source `src` of `suite`'s file `name`. A file that
/// does not lex or parse becomes one failing command (as on the host).
#[must_use]
pub fn convert_file(suite: &str, name: &str, src: &str) -> File {
    let mut file = File { suite: suite.to_string(), name: name.to_string(), commands: Vec::new() };
    let buf = match buffer(src) {
        Ok(b) => b,
        Err(e) => {
            file.commands.push(Command { line: 0, kind: CommandKind::Unsupported { reason: format!("lex error: {e}") } });
            return file;
        }
    };
    let wast = match parser::parse::<Wast<'_>>(&buf) {
        Ok(w) => w,
        Err(e) => {
            file.commands.push(Command { line: 0, kind: CommandKind::Unsupported { reason: format!("parse error: {e}") } });
            return file;
        }
    };
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(src);
        let kind = directive(d).unwrap_or_else(|reason| CommandKind::Unsupported { reason });
        file.commands.push(Command { line: u32::try_from(line + 1).unwrap_or(u32::MAX), kind });
    }
    file
}

fn name(id: Option<wast::token::Id<'_>>) -> Option<String> {
    id.map(|id| id.name().to_string())
}

fn encode(module: &mut QuoteWat<'_>) -> Result<Vec<u8>, String> {
    module.encode().map_err(|e| e.to_string())
}

fn directive(d: WastDirective<'_>) -> Result<CommandKind, String> {
    Ok(match d {
        WastDirective::Module(mut m) => {
            let name = m.name().map(|n| n.name().to_string());
            CommandKind::Module { name, bytes: encode(&mut m)? }
        }
        WastDirective::ModuleDefinition(mut m) => {
            let name = m.name().map(|n| n.name().to_string());
            CommandKind::ModuleDefinition { name, bytes: encode(&mut m)? }
        }
        WastDirective::ModuleInstance { instance, module, .. } => {
            CommandKind::ModuleInstance { instance: name(instance), module: name(module) }
        }
        WastDirective::Register { name: as_name, module, .. } => {
            CommandKind::Register { as_name: as_name.to_string(), module: name(module) }
        }
        WastDirective::Invoke(inv) => CommandKind::Action(invoke(&inv)?),
        WastDirective::AssertReturn { mut exec, results, .. } => CommandKind::AssertReturn {
            action: execute(&mut exec)?,
            results: results.iter().map(expected).collect::<Result<_, _>>()?,
        },
        WastDirective::AssertTrap { mut exec, message, .. } => {
            CommandKind::AssertTrap { action: execute(&mut exec)?, message: message.to_string() }
        }
        WastDirective::AssertExhaustion { call, message, .. } => {
            CommandKind::AssertExhaustion { action: invoke(&call)?, message: message.to_string() }
        }
        WastDirective::AssertInvalid { mut module, message, .. } => match module.encode() {
            Ok(bytes) => CommandKind::AssertInvalid { bytes, message: message.to_string() },
            Err(_) => CommandKind::MalformedText { message: message.to_string() },
        },
        WastDirective::AssertMalformed { mut module, message, .. } => match module.encode() {
            Ok(bytes) => CommandKind::AssertMalformed { bytes, message: message.to_string() },
            Err(_) => CommandKind::MalformedText { message: message.to_string() },
        },
        WastDirective::AssertUnlinkable { mut module, message, .. } => {
            CommandKind::AssertUnlinkable { bytes: module.encode().map_err(|e| e.to_string())?, message: message.to_string() }
        }
        other => return Err(format!("unsupported directive {:?}", core::mem::discriminant(&other))),
    })
}

fn invoke(inv: &WastInvoke<'_>) -> Result<Action, String> {
    Ok(Action::Invoke {
        module: name(inv.module),
        name: inv.name.to_string(),
        args: inv.args.iter().map(arg).collect::<Result<_, _>>()?,
    })
}

fn execute(exec: &mut WastExecute<'_>) -> Result<Action, String> {
    Ok(match exec {
        WastExecute::Invoke(inv) => invoke(inv)?,
        WastExecute::Wat(wat) => Action::Instantiate { bytes: wat.encode().map_err(|e| e.to_string())? },
        WastExecute::Get { module, global, .. } => Action::Get { module: name(*module), name: (*global).to_string() },
    })
}

fn arg(a: &WastArg<'_>) -> Result<Value, String> {
    let WastArg::Core(a) = a else { return Err("component argument".into()) };
    Ok(match a {
        WastArgCore::I32(v) => Value::I32(*v),
        WastArgCore::I64(v) => Value::I64(*v),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::V128(v) => Value::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(
            HeapType::Abstract { ty: AbstractHeapType::Func | AbstractHeapType::NoFunc, .. } | HeapType::Concrete(_),
        ) => Value::NullFuncRef,
        WastArgCore::RefNull(HeapType::Abstract { ty: AbstractHeapType::Extern | AbstractHeapType::NoExtern, .. }) => {
            Value::NullExternRef
        }
        WastArgCore::RefExtern(n) => Value::ExternRef(*n),
        other => return Err(format!("unsupported argument {other:?}")),
    })
}

fn f32p(p: &NanPattern<wast::token::F32>) -> FloatPattern<u32> {
    match p {
        NanPattern::CanonicalNan => FloatPattern::CanonicalNan,
        NanPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        NanPattern::Value(v) => FloatPattern::Bits(v.bits),
    }
}

fn f64p(p: &NanPattern<wast::token::F64>) -> FloatPattern<u64> {
    match p {
        NanPattern::CanonicalNan => FloatPattern::CanonicalNan,
        NanPattern::ArithmeticNan => FloatPattern::ArithmeticNan,
        NanPattern::Value(v) => FloatPattern::Bits(v.bits),
    }
}

/// Integer lanes as the 128 bits they must equal.
fn int_lanes<const W: usize>(lanes: impl Iterator<Item = [u8; W]>) -> u128 {
    let mut bytes = [0u8; 16];
    for (i, lane) in lanes.enumerate() {
        bytes[i * W..(i + 1) * W].copy_from_slice(&lane);
    }
    u128::from_le_bytes(bytes)
}

fn expected(e: &WastRet<'_>) -> Result<Expected, String> {
    let WastRet::Core(e) = e else { return Err("component result".into()) };
    core_expected(e)
}

fn core_expected(e: &WastRetCore<'_>) -> Result<Expected, String> {
    Ok(match e {
        WastRetCore::I32(v) => Expected::I32(*v),
        WastRetCore::I64(v) => Expected::I64(*v),
        WastRetCore::F32(p) => Expected::F32(f32p(p)),
        WastRetCore::F64(p) => Expected::F64(f64p(p)),
        WastRetCore::V128(p) => Expected::V128(match p {
            WastV128::I8x16(l) => V128Pattern::Bits(int_lanes(l.iter().map(|v| v.to_le_bytes()))),
            WastV128::I16x8(l) => V128Pattern::Bits(int_lanes(l.iter().map(|v| v.to_le_bytes()))),
            WastV128::I32x4(l) => V128Pattern::Bits(int_lanes(l.iter().map(|v| v.to_le_bytes()))),
            WastV128::I64x2(l) => V128Pattern::Bits(int_lanes(l.iter().map(|v| v.to_le_bytes()))),
            WastV128::F32x4(l) => V128Pattern::F32x4([f32p(&l[0]), f32p(&l[1]), f32p(&l[2]), f32p(&l[3])]),
            WastV128::F64x2(l) => V128Pattern::F64x2([f64p(&l[0]), f64p(&l[1])]),
        }),
        WastRetCore::RefNull(_) => Expected::RefNull,
        WastRetCore::RefFunc(_) => Expected::RefFunc,
        WastRetCore::RefExtern(n) => Expected::RefExtern(*n),
        WastRetCore::Either(options) => Expected::Either(options.iter().map(core_expected).collect::<Result<_, _>>()?),
        other => return Err(format!("unsupported expectation {other:?}")),
    })
}
