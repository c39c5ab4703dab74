//! The script path on the host: convert real spec files, encode, decode,
//! and run them on the host engine; the results must be complete passes
//! (the same files pass in `hypha-wasm-spec`).

use hypha_wasm::{Config, Engine};
use hypha_wasm_script::{Script, convert::convert_file, run_file, suite_features};

fn suite_file(dir: &str, name: &str) -> String {
    let path = format!("{}/../../../shared/wasm-testsuite/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn engine() -> Engine {
    Engine::host(Config { features: suite_features("core-wasm2"), parallel_compilation: false, max_wasm_stack: 2 << 20, epoch_interruption: true, consume_fuel: true, ..Config::default() })
        .unwrap()
}

/// Runs `f` on a thread with room for `max_wasm_stack` (2 MiB) plus the
/// host frames, as the host runner does.
fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).unwrap().join().unwrap();
}

#[test]
fn converted_files_round_trip_and_pass() {
    on_big_stack(converted_files_round_trip_and_pass_body);
}

fn converted_files_round_trip_and_pass_body() {
    let engine = engine();
    let mut script = Script::default();
    for name in ["i32.wast", "f32.wast", "simd_f32x4.wast", "memory_grow.wast", "call.wast", "binary.wast", "linking.wast", "ref_func.wast", "exports.wast"] {
        script.files.push(convert_file("core-wasm2", &format!("core-wasm2/{name}"), &suite_file("core-wasm2", name)));
    }
    let bytes = script.encode();
    let decoded = Script::decode(&bytes).unwrap();
    assert_eq!(decoded, script);
    for file in &decoded.files {
        let result = run_file(&engine, file);
        assert!(result.total > 10, "{}: only {} commands", file.name, result.total);
        assert_eq!(result.passed, result.total, "{}: {:?}", file.name, result.failures);
    }
}

#[test]
fn failing_expectations_fail() {
    let engine = engine();
    let src = r#"(module (func (export "f") (result i32) i32.const 1) (func (export "t") unreachable))
                 (assert_return (invoke "f") (i32.const 2))
                 (assert_trap (invoke "f") "unreachable")
                 (assert_trap (invoke "t") "integer overflow")
                 (assert_invalid (module (func (result i32) i32.const 1)) "type mismatch")
                 (assert_return (invoke "f") (i32.const 1))"#;
    let file = convert_file("test", "inline", src);
    let result = run_file(&engine, &file);
    assert_eq!((result.passed, result.total), (2, 6), "{:?}", result.failures);
}

#[test]
fn truncated_script_is_an_error() {
    let mut script = Script::default();
    script.files.push(convert_file("core-wasm2", "x", "(module (func (export \"f\")))\n(assert_return (invoke \"f\"))"));
    let bytes = script.encode();
    for len in 0..bytes.len() {
        assert!(Script::decode(&bytes[..len]).is_err(), "prefix of {len} bytes decoded");
    }
}
