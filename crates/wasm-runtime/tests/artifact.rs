//! Precompiled artifacts (`Engine::precompile_artifact` /
//! `Module::deserialize`): a loaded module behaves exactly like a compiled
//! one (results, traps, backtraces, memory images, imports), and an
//! artifact that is corrupted, truncated, for other bytes or for another
//! engine configuration is refused with the matching error.

use hypha_wasm::platform::HostPlatform;
use hypha_wasm::{ArtifactError, Config, Engine, Error, Linker, MemoryStrategy, Module, Store};
use std::sync::Arc;

const WAT: &str = r#"(module
  (import "env" "twice" (func $twice (param i32) (result i32)))
  (memory (export "mem") 1)
  (data (i32.const 16) "\2a\00\00\00")
  (table 2 funcref)
  (elem (i32.const 0) $fib $boom)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $boom (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func $inner (param i32) (result i32) (call_indirect (param i32) (result i32) (local.get 0) (i32.const 1)))
  (func (export "outer") (param i32) (result i32) (call $inner (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "host") (param i32) (result i32) (call $twice (local.get 0))))"#;

fn wasm() -> Vec<u8> {
    wat::parse_str(WAT).unwrap()
}

/// Everything observable about the module: results, traps (code and
/// backtrace) and out-of-bounds accesses.
fn observe(engine: &Engine, module: &Module) -> Vec<String> {
    let mut linker = Linker::new();
    linker.func_wrap("env", "twice", |_: hypha_wasm::Caller<'_, ()>, x: i32| x * 2);
    let mut store = Store::new(engine, ());
    let instance = linker.instantiate(&mut store, module).unwrap();
    let fib = instance.get_typed_func::<i32, i32, _>(&mut store, "fib").unwrap();
    let outer = instance.get_typed_func::<i32, i32, _>(&mut store, "outer").unwrap();
    let load = instance.get_typed_func::<i32, i32, _>(&mut store, "load").unwrap();
    let host = instance.get_typed_func::<i32, i32, _>(&mut store, "host").unwrap();
    let mut seen = Vec::new();
    seen.push(format!("{:?}", fib.call(&mut store, 20)));
    seen.push(format!("{:?}", outer.call(&mut store, 5)));
    seen.push(format!("{:?}", outer.call(&mut store, 0)));
    seen.push(format!("{:?}", load.call(&mut store, 16)));
    seen.push(format!("{:?}", load.call(&mut store, 65535)));
    seen.push(format!("{:?}", host.call(&mut store, 21)));
    seen
}

#[test]
fn loaded_module_behaves_like_the_compiled_one() {
    let engine = Engine::host(Config::default()).unwrap();
    let bytes = wasm();
    let compiled = Module::new(&engine, &bytes).unwrap();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    let loaded = Module::deserialize(&engine, &bytes, &artifact).unwrap();
    let expected = observe(&engine, &compiled);
    assert_eq!(observe(&engine, &loaded), expected);
    // The traps really are there, with the same backtrace.
    assert!(expected[2].contains("IntegerDivisionByZero"), "{}", expected[2]);
    assert!(expected[2].contains("boom") && expected[2].contains("inner"), "{}", expected[2]);
    assert!(expected[4].contains("MemoryOutOfBounds"), "{}", expected[4]);
    assert_eq!(loaded.func_name(0), compiled.func_name(0));
    assert_eq!(loaded.exports().count(), compiled.exports().count());
}

#[test]
fn precompiled_host_trampolines_work_on_a_fresh_engine() {
    // Array-kind host functions (`func_new`) use the trampolines the
    // artifact carries; this engine never compiled one itself.
    let bytes = wasm();
    let artifact = Engine::host(Config::default()).unwrap().precompile_artifact(&bytes).unwrap();
    let engine = Engine::host(Config::default()).unwrap();
    let loaded = Module::deserialize(&engine, &bytes, &artifact).unwrap();
    let mut linker = Linker::new();
    let ty = hypha_wasm::FuncType::new([hypha_wasm::ValType::I32], [hypha_wasm::ValType::I32]);
    linker.func_new("env", "twice", ty, |_: hypha_wasm::Caller<'_, ()>, params: &[hypha_wasm::Val], results: &mut [hypha_wasm::Val]| {
        let hypha_wasm::Val::I32(x) = params[0] else { return Err(hypha_wasm::Trap::host("not an i32")) };
        if x < 0 {
            return Err(hypha_wasm::Trap::host("negative"));
        }
        results[0] = hypha_wasm::Val::I32(x * 3);
        Ok(())
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &loaded).unwrap();
    let host = i.get_typed_func::<i32, i32, _>(&mut store, "host").unwrap();
    assert_eq!(host.call(&mut store, 14).unwrap(), 42);
    let Err(Error::Trap(t)) = host.call(&mut store, -1) else { panic!("expected a host trap") };
    assert_eq!(t.code(), hypha_wasm::TrapCode::Host);
    assert_eq!(host.call(&mut store, 1).unwrap(), 3);
}

#[test]
fn precompiling_is_deterministic() {
    let engine = Engine::host(Config { parallel_compilation: true, ..Config::default() }).unwrap();
    let bytes = wasm();
    assert_eq!(engine.precompile_artifact(&bytes).unwrap(), engine.precompile_artifact(&bytes).unwrap());
}

#[test]
fn deserialize_with_a_known_digest() {
    let engine = Engine::host(Config::default()).unwrap();
    let bytes = wasm();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    let digest = hypha_wasm::artifact::wasm_digest(&bytes);
    let loaded = Module::deserialize_with_digest(&engine, &bytes, &digest, &artifact).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new();
    linker.func_wrap("env", "twice", |_: hypha_wasm::Caller<'_, ()>, x: i32| x * 2);
    let i = linker.instantiate(&mut store, &loaded).unwrap();
    assert_eq!(i.get_typed_func::<i32, i32, _>(&mut store, "fib").unwrap().call(&mut store, 10).unwrap(), 55);
    assert!(matches!(
        Module::deserialize_with_digest(&engine, &bytes, &[0; 32], &artifact),
        Err(ArtifactError::WasmMismatch)
    ));
}

#[test]
fn code_changing_configuration_changes_the_fingerprint() {
    let base = Engine::host(Config::default()).unwrap();
    let same = Engine::host(Config { max_wasm_stack: 64 << 10, parallel_compilation: false, ..Config::default() }).unwrap();
    assert_eq!(base.fingerprint(), same.fingerprint(), "stack size and threads do not change code");
    let others = [
        Config { epoch_interruption: true, ..Config::default() },
        Config { consume_fuel: true, ..Config::default() },
        Config { memory_strategy: MemoryStrategy::BoundsChecks, ..Config::default() },
        Config { optimize: false, ..Config::default() },
        Config { features: hypha_wasm::Features { simd: false, ..Default::default() }, ..Config::default() },
        Config { target: "riscv64gc-unknown-none-elf".parse().ok(), ..Config::default() },
    ];
    let bytes = wasm();
    let artifact = base.precompile_artifact(&bytes).unwrap();
    for config in others {
        let debug = format!("{config:?}");
        let other = Engine::new(config, Arc::new(HostPlatform)).unwrap();
        assert_ne!(other.fingerprint(), base.fingerprint(), "{debug}");
        assert!(matches!(Module::deserialize(&other, &bytes, &artifact), Err(ArtifactError::FingerprintMismatch)), "{debug}");
    }
}

#[test]
fn other_wasm_bytes_are_refused() {
    let engine = Engine::host(Config::default()).unwrap();
    let bytes = wasm();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    let other = wat::parse_str("(module (func (export \"f\")))").unwrap();
    assert!(matches!(Module::deserialize(&engine, &other, &artifact), Err(ArtifactError::WasmMismatch)));
}

#[test]
fn every_truncation_and_corruption_is_refused() {
    let engine = Engine::host(Config::default()).unwrap();
    let bytes = wasm();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    for len in 0..artifact.len() {
        match Module::deserialize(&engine, &bytes, &artifact[..len]) {
            Err(ArtifactError::Truncated | ArtifactError::Checksum) => {}
            other => panic!("length {len}: {other:?}"),
        }
    }
    // One flipped byte anywhere past the magic and version: the checksum.
    for i in 12..artifact.len() {
        let mut bad = artifact.clone();
        bad[i] ^= 0x41;
        assert!(matches!(Module::deserialize(&engine, &bytes, &bad), Err(ArtifactError::Checksum)), "byte {i}");
    }
    let mut bad = artifact.clone();
    bad[0] = b'X';
    assert!(matches!(Module::deserialize(&engine, &bytes, &bad), Err(ArtifactError::BadMagic)));
    let mut bad = artifact;
    bad[8] = 99;
    assert!(matches!(Module::deserialize(&engine, &bytes, &bad), Err(ArtifactError::UnsupportedVersion { found: 99 })));
}

#[test]
fn invalid_wasm_with_a_matching_artifact_is_a_module_error() {
    // An artifact can only be written for valid bytes; a module-level
    // error on load means the bytes and digest were mismatched by the
    // caller (deserialize_with_digest).
    let engine = Engine::host(Config::default()).unwrap();
    let bytes = wasm();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    let digest = hypha_wasm::artifact::wasm_digest(&bytes);
    let garbage = b"\0asm\x01\0\0\0\x01\xff".to_vec();
    let result = Module::deserialize_with_digest(&engine, &garbage, &digest, &artifact);
    assert!(matches!(result, Err(ArtifactError::Module(Error::Invalid { .. }))), "{result:?}");
    // Valid but different bytes under a vouched digest: the tables do not fit.
    let other = wat::parse_str("(module (func (export \"f\")))").unwrap();
    let result = Module::deserialize_with_digest(&engine, &other, &digest, &artifact);
    assert!(matches!(result, Err(ArtifactError::Malformed(_))), "{result:?}");
}

#[test]
fn riscv64_artifacts_round_trip_without_running() {
    let config = Config { target: "riscv64gc-unknown-none-elf".parse().ok(), epoch_interruption: true, ..Config::default() };
    let engine = Engine::new(config.clone(), Arc::new(HostPlatform)).unwrap();
    let again = Engine::new(config, Arc::new(HostPlatform)).unwrap();
    assert_eq!(engine.fingerprint(), again.fingerprint());
    let bytes = wasm();
    let artifact = engine.precompile_artifact(&bytes).unwrap();
    assert_eq!(artifact, again.precompile_artifact(&bytes).unwrap());
    let loaded = Module::deserialize(&again, &bytes, &artifact).unwrap();
    assert_eq!(loaded.exports().count(), 5);
    assert!(matches!(
        Module::deserialize(&Engine::host(Config::default()).unwrap(), &bytes, &artifact),
        Err(ArtifactError::FingerprintMismatch)
    ));
}
