//! Compilation: wasm bytes to linked machine code for one ISA.
//!
//! `info` validates and collects module metadata, `translate` (+ `simd`)
//! lowers function bodies to Cranelift IR, `trampoline` builds the
//! host<->wasm adapters, and this module drives Cranelift and lays the
//! results out into one code image with relocations applied.

mod executor;
pub(crate) mod info;
mod layout;
mod preempt;
mod simd;
pub(crate) mod trampoline;
pub(crate) mod translate;

use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, TrapCode as ClTrap, UserFuncName};
use cranelift_codegen::isa::{self, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget, binemit::Reloc};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use target_lexicon::{Architecture, Triple};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::trap::TrapCode;
use crate::vm::layout::VmOffsets;
use info::{ModuleInfo, PendingFunc};
use translate::{FuncTranslator, TranslateEnv};

/// Trap recorded elsewhere (by a libcall or host function) before this trap instruction.
pub(crate) const TRAP_PENDING: ClTrap = ClTrap::unwrap_user(1);
pub(crate) const TRAP_UNREACHABLE: ClTrap = ClTrap::unwrap_user(2);
pub(crate) const TRAP_TABLE_OOB: ClTrap = ClTrap::unwrap_user(3);
pub(crate) const TRAP_UNDEFINED_ELEMENT: ClTrap = ClTrap::unwrap_user(4);
pub(crate) const TRAP_UNINIT_ELEMENT: ClTrap = ClTrap::unwrap_user(5);
pub(crate) const TRAP_SIG_MISMATCH: ClTrap = ClTrap::unwrap_user(6);
pub(crate) const TRAP_NULL_REFERENCE: ClTrap = ClTrap::unwrap_user(7);
pub(crate) const TRAP_NULL_FUNC_REFERENCE: ClTrap = ClTrap::unwrap_user(8);

/// The runtime trap for a Cranelift trap code; `None` for [`TRAP_PENDING`].
pub(crate) fn decode_trap(code: ClTrap) -> Option<TrapCode> {
    Some(match code {
        ClTrap::STACK_OVERFLOW => TrapCode::StackOverflow,
        ClTrap::INTEGER_OVERFLOW => TrapCode::IntegerOverflow,
        ClTrap::HEAP_OUT_OF_BOUNDS => TrapCode::MemoryOutOfBounds,
        ClTrap::INTEGER_DIVISION_BY_ZERO => TrapCode::IntegerDivisionByZero,
        ClTrap::BAD_CONVERSION_TO_INTEGER => TrapCode::BadConversionToInteger,
        TRAP_UNREACHABLE => TrapCode::Unreachable,
        TRAP_TABLE_OOB => TrapCode::TableOutOfBounds,
        TRAP_UNDEFINED_ELEMENT => TrapCode::UndefinedElement,
        TRAP_UNINIT_ELEMENT => TrapCode::UninitializedElement,
        TRAP_SIG_MISMATCH => TrapCode::IndirectCallTypeMismatch,
        TRAP_NULL_REFERENCE => TrapCode::NullReference,
        TRAP_NULL_FUNC_REFERENCE => TrapCode::NullFunctionReference,
        _ => return None,
    })
}

/// Build the Cranelift ISA for `config` (host when no target is given).
pub(crate) fn build_isa(config: &Config) -> Result<OwnedTargetIsa> {
    let triple = config.target.clone().unwrap_or_else(host_triple);
    let mut flags = settings::builder();
    let set = |b: &mut settings::Builder, k: &str, v: &str| {
        b.set(k, v).map_err(|e| Error::Compile(alloc::format!("cranelift setting {k}={v}: {e}")))
    };
    set(&mut flags, "opt_level", if config.optimize { "speed" } else { "none" })?;
    set(&mut flags, "enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(&mut flags, "unwind_info", "false")?;
    set(&mut flags, "enable_probestack", "false")?;
    set(&mut flags, "enable_heap_access_spectre_mitigation", "false")?;
    set(&mut flags, "enable_table_access_spectre_mitigation", "false")?;
    let mut builder = isa::lookup(triple.clone()).map_err(|e| Error::Unsupported(alloc::format!("target {triple}: {e}")))?;
    match triple.architecture {
        Architecture::X86_64 => {
            // Block offsets and edges of the machine code, for placing
            // functions by their loops (see `layout`).
            set(&mut flags, "machine_code_cfg_info", "true")?;
            for feature in x86_features(config.target.is_none()) {
                builder.enable(feature).map_err(|e| Error::Compile(alloc::format!("{feature}: {e}")))?;
            }
        }
        Architecture::Riscv64(_) => {
            // rv64gc plus the V extension (128-bit vectors) for SIMD.
            for feature in ["has_m", "has_a", "has_f", "has_d", "has_c", "has_zicsr", "has_zifencei", "has_v", "has_zvl128b"] {
                builder.enable(feature).map_err(|e| Error::Compile(alloc::format!("{feature}: {e}")))?;
            }
        }
        _ => {}
    }
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| Error::Compile(alloc::format!("building ISA: {e}")))
}

fn host_triple() -> Triple {
    Triple::host()
}

/// x86-64 features to enable: detected on the host (the same set Wasmtime
/// detects through `cranelift-native`), a conservative SSE4.2 baseline for
/// cross compilation.
fn x86_features(host: bool) -> Vec<&'static str> {
    #[cfg_attr(
        not(all(feature = "std", target_arch = "x86_64")),
        expect(unused_mut, reason = "host feature detection (which extends the list) needs std on x86-64")
    )]
    let mut v = alloc::vec!["has_sse3", "has_ssse3", "has_sse41", "has_sse42", "has_popcnt"];
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if host {
        let detected = [
            ("has_avx", std::is_x86_feature_detected!("avx")),
            ("has_avx2", std::is_x86_feature_detected!("avx2")),
            ("has_bmi1", std::is_x86_feature_detected!("bmi1")),
            ("has_bmi2", std::is_x86_feature_detected!("bmi2")),
            ("has_lzcnt", std::is_x86_feature_detected!("lzcnt")),
            ("has_fma", std::is_x86_feature_detected!("fma")),
            ("has_cmpxchg16b", std::is_x86_feature_detected!("cmpxchg16b")),
            ("has_avx512f", std::is_x86_feature_detected!("avx512f")),
            ("has_avx512vl", std::is_x86_feature_detected!("avx512vl")),
            ("has_avx512dq", std::is_x86_feature_detected!("avx512dq")),
            ("has_avx512bitalg", std::is_x86_feature_detected!("avx512bitalg")),
            ("has_avx512vbmi", std::is_x86_feature_detected!("avx512vbmi")),
            ("has_avx512vnni", std::is_x86_feature_detected!("avx512vnni")),
        ];
        v.extend(detected.iter().filter(|(_, on)| *on).map(|(n, _)| *n));
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    let _ = host;
    v
}

/// One relocation left for the linker: call `target` function from `offset`.
#[derive(Debug, Clone, Copy)]
struct FuncReloc {
    offset: u32,
    kind: Reloc,
    target: u32,
    addend: i64,
}

/// Output of compiling one function.
struct CompiledFunc {
    code: Vec<u8>,
    relocs: Vec<FuncReloc>,
    traps: Vec<(u32, ClTrap)>,
    /// Where the function should start within a cache line, when it has
    /// loops (see [`layout`]).
    phase: Option<u32>,
    /// The alignment the code needs (its constants'), at least 1.
    align: u32,
}

/// A module's code image before it is copied into executable memory.
#[derive(Debug, Default)]
pub(crate) struct CodeImage {
    pub bytes: Vec<u8>,
    /// (start, len) of each defined function.
    pub funcs: Vec<(u32, u32)>,
    /// Offset of the host-to-wasm trampoline of each type index.
    pub array_trampolines: Vec<u32>,
    /// Sorted (offset, trap) pairs; `None` means "pending" (see [`TRAP_PENDING`]).
    pub traps: Vec<(u32, Option<TrapCode>)>,
    /// Wasm-to-host trampolines (array kind) for the types of imported
    /// functions: filled only for precompiled artifacts, so loading one
    /// needs no compiler at instantiation either.
    pub host_trampolines: Vec<HostTrampoline>,
}

/// One separately published wasm-to-host trampoline (entry at offset 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostTrampoline {
    /// The module's type index it is for.
    pub type_index: u32,
    pub bytes: Vec<u8>,
    /// Sorted (offset, trap) pairs, as in [`CodeImage::traps`].
    pub traps: Vec<(u32, Option<TrapCode>)>,
}

/// Sorted (code offset, trap) pairs of one piece of code.
pub(crate) type TrapSites = Vec<(u32, Option<TrapCode>)>;

/// Compiles the wasm-to-host trampoline for `ty` (the direct,
/// register-passing kind when `direct`): its code and trap sites.
pub(crate) fn compile_host_trampoline(isa: &dyn TargetIsa, ty: &crate::types::FuncType, direct: bool) -> Result<(Vec<u8>, TrapSites)> {
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    if direct {
        trampoline::build_wasm_to_host_direct(&mut ctx, &mut fctx, ty, isa.default_call_conv(), isa.frontend_config());
    } else {
        trampoline::build_wasm_to_host(&mut ctx, &mut fctx, ty, isa.default_call_conv(), isa.frontend_config());
    }
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| Error::Compile(alloc::format!("host trampoline: {:?}", e.inner)))?;
    let traps = code.buffer.traps().iter().map(|t| (t.offset, decode_trap(t.code))).collect();
    Ok((code.code_buffer().to_vec(), traps))
}

/// The array-kind host trampolines for every distinct type of an
/// imported function of `info`.
pub(crate) fn compile_import_trampolines(isa: &dyn TargetIsa, info: &ModuleInfo) -> Result<Vec<HostTrampoline>> {
    let mut seen = alloc::collections::BTreeSet::new();
    let mut out = Vec::new();
    for import in &info.imports {
        if let info::ImportKind::Func(t) = import.ty
            && seen.insert(t)
        {
            let ty = info.types.get(t as usize).ok_or_else(|| Error::Compile("import type out of range".into()))?;
            let (bytes, traps) = compile_host_trampoline(isa, ty, false)?;
            out.push(HostTrampoline { type_index: t, bytes, traps });
        }
    }
    Ok(out)
}

fn compile_one(isa: &dyn TargetIsa, ctx: &mut Context) -> Result<CompiledFunc> {
    let names = ctx.func.params.user_named_funcs().clone();
    let code = ctx
        .compile(isa, &mut ControlPlane::default())
        .map_err(|e| Error::Compile(alloc::format!("{:?}", e.inner)))?;
    let mut relocs = Vec::new();
    for r in code.buffer.relocs() {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ir::ExternalName::User(name)) => {
                names[*name].index
            }
            other => return Err(Error::Compile(alloc::format!("unexpected relocation target {other:?}"))),
        };
        relocs.push(FuncReloc { offset: r.offset, kind: r.kind, target, addend: r.addend });
    }
    let traps = code.buffer.traps().iter().map(|t| (t.offset, t.code)).collect();
    let bytes = code.code_buffer();
    let align = code.buffer.alignment.max(1);
    let phase = layout::best_phase(code_offset(bytes.len())?, &code.bb_starts, &code.bb_edges, align);
    Ok(CompiledFunc { code: bytes.to_vec(), relocs, traps, phase, align })
}

fn compile_body(
    isa: &dyn TargetIsa,
    env: &TranslateEnv<'_>,
    func: PendingFunc<'_>,
    fctx: &mut FunctionBuilderContext,
    ctx: &mut Context,
) -> Result<CompiledFunc> {
    ctx.clear();
    let ty = env.info.func_type(func.index);
    ctx.func.signature = translate::wasm_signature(ty);
    ctx.func.name = UserFuncName::user(0, func.index);
    let validator = func.validator.into_validator(wasmparser::FuncValidatorAllocations::default());
    let builder = FunctionBuilder::new(&mut ctx.func, fctx);
    FuncTranslator::new(builder, env, validator, ty).translate(&func.body)?;
    compile_one(isa, ctx)
}

fn compile_all(
    isa: &dyn TargetIsa,
    env: &TranslateEnv<'_>,
    pending: Vec<PendingFunc<'_>>,
    parallel: bool,
) -> Result<Vec<CompiledFunc>> {
    #[cfg(feature = "std")]
    if parallel && pending.len() > 8 {
        let threads = std::thread::available_parallelism().map_or(1, core::num::NonZero::get).min(pending.len());
        if threads > 1 {
            return compile_parallel(isa, env, pending, threads);
        }
    }
    let _ = parallel;
    let mut fctx = FunctionBuilderContext::new();
    let mut ctx = Context::new();
    pending.into_iter().map(|f| compile_body(isa, env, f, &mut fctx, &mut ctx)).collect()
}

#[cfg(feature = "std")]
fn compile_parallel(
    isa: &dyn TargetIsa,
    env: &TranslateEnv<'_>,
    pending: Vec<PendingFunc<'_>>,
    threads: usize,
) -> Result<Vec<CompiledFunc>> {
    // Round-robin the functions over the threads; results are put back in
    // order afterwards.
    let total = pending.len();
    let mut buckets: Vec<Vec<(usize, PendingFunc<'_>)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, f) in pending.into_iter().enumerate() {
        buckets[i % threads].push((i, f));
    }
    let results: Vec<Result<Vec<(usize, CompiledFunc)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = buckets
            .into_iter()
            .map(|bucket| {
                s.spawn(move || {
                    let mut fctx = FunctionBuilderContext::new();
                    let mut ctx = Context::new();
                    bucket
                        .into_iter()
                        .map(|(i, f)| compile_body(isa, env, f, &mut fctx, &mut ctx).map(|c| (i, c)))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Compile("compiler thread panicked".into()))))
            .collect()
    });
    let mut slots: Vec<Option<CompiledFunc>> = (0..total).map(|_| None).collect();
    for r in results {
        for (i, c) in r? {
            slots[i] = Some(c);
        }
    }
    slots.into_iter().map(|s| s.ok_or_else(|| Error::Compile("missing function".into()))).collect()
}

/// Validate, translate and compile `pending` for `isa`, returning the code image.
pub(crate) fn compile_module(
    isa: &dyn TargetIsa,
    config: &Config,
    info: &ModuleInfo,
    pending: Vec<PendingFunc<'_>>,
) -> Result<CodeImage> {
    let env = TranslateEnv {
        info,
        offsets: VmOffsets::new(info),
        strategy: config.memory_strategy,
        host_call_conv: isa.default_call_conv(),
        frontend_config: isa.frontend_config(),
        epoch_interruption: config.epoch_interruption,
        consume_fuel: config.consume_fuel,
    };
    let funcs = match &config.compile_executor {
        Some(executor) if config.parallel_compilation && pending.len() > 1 => {
            executor::compile_with(&**executor, isa, &env, pending)?
        }
        _ => compile_all(isa, &env, pending, config.parallel_compilation)?,
    };
    let mut image = CodeImage::default();
    let mut relocs = Vec::new();
    // Functions without loops start at the ISA's preferred alignment (32
    // bytes on x86-64, as Wasmtime lays them out, at least 16), or their
    // code's own alignment if larger. Functions with loops are placed by
    // their loops instead (`layout`): where a hot loop falls relative to
    // the CPU's fetch windows changes its speed (shootout-sieve's inner
    // loop, the same instructions as Wasmtime's, ran at 1.05x to 1.55x
    // Wasmtime's time depending only on where the function started).
    let func_align = (isa.function_alignment().preferred as usize).max(16);
    let align_to = |bytes: &mut Vec<u8>, align: usize| {
        while !bytes.len().is_multiple_of(align) {
            bytes.push(0);
        }
    };
    let align = |bytes: &mut Vec<u8>| align_to(bytes, func_align);
    for f in funcs {
        // A function with loops starts at the phase that places its loops
        // best in the fetch windows (see `layout`); others at `func_align`.
        match f.phase {
            Some(phase) => {
                let line = layout::LINE as usize;
                let pad = (phase as usize + line - image.bytes.len() % line) % line;
                image.bytes.resize(image.bytes.len() + pad, 0);
            }
            None => align_to(&mut image.bytes, func_align.max(f.align as usize)),
        }
        let start = code_offset(image.bytes.len())?;
        image.bytes.extend_from_slice(&f.code);
        image.funcs.push((start, code_offset(f.code.len())?));
        for r in f.relocs {
            relocs.push(FuncReloc { offset: start + r.offset, ..r });
        }
        for (off, code) in f.traps {
            image.traps.push((start + off, decode_trap(code)));
        }
    }
    // Host-to-wasm trampolines, one per type.
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    for ty in &info.types {
        trampoline::build_array_to_wasm(&mut ctx, &mut fctx, ty, isa.default_call_conv(), isa.frontend_config());
        let t = compile_one(isa, &mut ctx)?;
        align(&mut image.bytes);
        let start = code_offset(image.bytes.len())?;
        image.bytes.extend_from_slice(&t.code);
        image.array_trampolines.push(start);
        for (off, code) in t.traps {
            image.traps.push((start + off, decode_trap(code)));
        }
    }
    image.traps.sort_by_key(|(o, _)| *o);
    let num_imported = info.num_imported_funcs;
    for r in relocs {
        let index = r.target.checked_sub(num_imported).ok_or_else(|| Error::Compile("call to import relocated".into()))?;
        let (target, _) = image.funcs[index as usize];
        apply_reloc(&mut image.bytes, r.offset, r.kind, target, r.addend)?;
    }
    Ok(image)
}

fn code_offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Resource("code image larger than 4 GiB".into()))
}

/// Patch one call relocation inside the image (image-relative addresses).
fn apply_reloc(bytes: &mut [u8], at: u32, kind: Reloc, target: u32, addend: i64) -> Result<()> {
    let pcrel = i64::from(target) + addend - i64::from(at);
    let at = at as usize;
    let word = |b: &[u8], i: usize| -> Result<u32> {
        let s = b.get(i..i + 4).ok_or_else(|| Error::Compile("relocation out of range".into()))?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    };
    let put = |b: &mut [u8], i: usize, v: u32| {
        b[i..i + 4].copy_from_slice(&v.to_le_bytes());
    };
    match kind {
        Reloc::X86CallPCRel4 | Reloc::X86CallPLTRel4 | Reloc::X86PCRel4 => {
            let v = i32::try_from(pcrel).map_err(|_| Error::Compile("x86 call out of range".into()))?;
            word(bytes, at)?;
            put(bytes, at, v.cast_unsigned());
        }
        Reloc::RiscvCallPlt => {
            // auipc ra, hi20 ; jalr ra, lo12(ra)
            let v = i32::try_from(pcrel).map_err(|_| Error::Compile("riscv call out of range".into()))?.cast_unsigned();
            let hi = v.wrapping_add(0x800) & 0xffff_f000;
            let lo = v.wrapping_sub(hi) & 0xfff;
            let auipc = word(bytes, at)?;
            let jalr = word(bytes, at + 4)?;
            put(bytes, at, (auipc & 0xfff) | hi);
            put(bytes, at + 4, (jalr & 0x000f_ffff) | (lo << 20));
        }
        Reloc::Arm64Call => {
            let v = i32::try_from(pcrel >> 2).map_err(|_| Error::Compile("arm64 call out of range".into()))?.cast_unsigned();
            let insn = word(bytes, at)?;
            put(bytes, at, (insn & 0xfc00_0000) | (v & 0x03ff_ffff));
        }
        other => return Err(Error::Unsupported(alloc::format!("relocation kind {other:?}"))),
    }
    Ok(())
}

/// A compiler for one target: the ISA plus the config it was built from.
#[derive(Clone)]
pub(crate) struct Compiler {
    pub isa: Arc<dyn TargetIsa>,
}

impl core::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compiler").field("triple", &self.isa.triple().to_string()).finish()
    }
}

impl Compiler {
    pub fn new(config: &Config) -> Result<Self> {
        Ok(Compiler { isa: build_isa(config)? })
    }

    pub fn triple_name(&self) -> String {
        self.isa.triple().to_string()
    }
}
