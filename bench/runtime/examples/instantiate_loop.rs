//! Profiling aid, not a benchmark: instantiate one module (with WASI and
//! the bench hooks) in a loop, or with `call` instead of a file, call a
//! tiny export through `TypedFunc::call` in a loop, or with `host`, have
//! wasm call a `func_wrap` import in a loop; for `perf record`.
//!
//! `cargo run --release -p hypha-bench-runtime --example instantiate_loop -- FILE.wasm|call|host [N]`

use std::time::Instant;

use hypha_wasi::WasiCtx;
use hypha_wasi::host::{HostClock, HostFs, HostRandom};
use hypha_wasm::{Config, Engine, FuncType, Linker, Module, Store};

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: instantiate_loop FILE.wasm [N]")?;
    let n: u32 = args.next().map_or(Ok(10_000), |s| s.parse()).map_err(|e| format!("N: {e}"))?;
    if path == "call" {
        return call_loop(n);
    }
    if path == "host" {
        return host_loop(n);
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let engine = Engine::host(Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &bytes).map_err(|e| e.to_string())?;
    let mut linker: Linker<WasiCtx<HostFs>> = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |c| c);
    linker.func_new("bench", "start", FuncType::new([], []), |_, _, _| Ok(()));
    linker.func_new("bench", "end", FuncType::new([], []), |_, _, _| Ok(()));
    let t = Instant::now();
    for _ in 0..n {
        let wasi = WasiCtx::new(HostFs, Box::new(HostClock::new()), Box::new(HostRandom::default()));
        let mut store = Store::new(&engine, wasi);
        let instance = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
        std::hint::black_box(instance);
    }
    println!("{:.2} us per instantiation", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    Ok(())
}

fn call_loop(n: u32) -> Result<(), String> {
    let wat = r#"(module (func (export "id") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#;
    let engine = Engine::host(Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &wat::parse_str(wat).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let instance = hypha_wasm::Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
    let id = instance.get_typed_func::<i32, i32, ()>(&mut store, "id").map_err(|e| e.to_string())?;
    let t = Instant::now();
    let mut acc = 0i32;
    for i in 0..n {
        acc = acc.wrapping_add(id.call(&mut store, i32::try_from(i).unwrap_or(0)).map_err(|e| e.to_string())?);
    }
    std::hint::black_box(acc);
    println!("{:.2} ns per call", t.elapsed().as_secs_f64() * 1e9 / f64::from(n));
    Ok(())
}

fn host_loop(n: u32) -> Result<(), String> {
    let wat = r#"(module
      (import "h" "f" (func $f (param i32) (result i32)))
      (func (export "run") (param $n i32) (result i32)
        (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.eqz (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (call $f (local.get $n))))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $l)))
        (local.get $acc)))"#;
    let engine = Engine::host(Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &wat::parse_str(wat).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut linker = Linker::<()>::new();
    linker.func_wrap("h", "f", |_: hypha_wasm::Caller<'_, ()>, x: i32| x);
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
    let run = instance.get_typed_func::<i32, i32, ()>(&mut store, "run").map_err(|e| e.to_string())?;
    let t = Instant::now();
    let acc = run.call(&mut store, i32::try_from(n).unwrap_or(i32::MAX)).map_err(|e| e.to_string())?;
    std::hint::black_box(acc);
    println!("{:.2} ns per host call", t.elapsed().as_secs_f64() * 1e9 / f64::from(n));
    Ok(())
}
