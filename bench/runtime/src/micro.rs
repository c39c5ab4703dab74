//! Micro-benchmarks: wasm→host and host→wasm calls, instantiation of
//! small modules and of the largest sightglass program.

use std::time::Instant;

use crate::host::Host;
use crate::report::{Row, median};

/// Calls per timed repetition.
const CALLS: i32 = 1_000_000;
/// Instantiations per timed repetition.
const INSTANCES: u32 = 2_000;
/// Timed repetitions per side, alternating with the peer's (the median is
/// reported).
const REPS: usize = 9;

const PEER: &str = "wasmtime-48";

const CALL_HOST_WAT: &str = r#"(module
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

const CALL_WASM_WAT: &str = r#"(module
  (func (export "id") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"#;

/// A module with one memory and 8 active data segments of 4 KiB.
fn memory_data_wat() -> String {
    let mut s = String::from("(module (memory 4)");
    for i in 0..8 {
        s.push_str(&format!(" (data (i32.const {}) \"{}\")", i * 8192, "\\2a".repeat(4096)));
    }
    s.push(')');
    s
}

fn wat(src: &str) -> Result<Vec<u8>, String> {
    wat::parse_str(src).map_err(|e| e.to_string())
}

/// One timed repetition of one side (set up beforehand); returns the
/// time per operation.
type Rep<'a> = Box<dyn FnMut() -> Result<f64, String> + 'a>;

/// Run the two sides' repetitions alternately (ours, peer, ours, ...), so
/// both see the same machine load, after one untimed warm-up each; the
/// medians of `REPS`.
fn alternate(mut ours: Rep<'_>, mut peer: Rep<'_>) -> Result<(f64, f64), String> {
    ours()?;
    peer()?;
    let (mut o, mut p) = (Vec::with_capacity(REPS), Vec::with_capacity(REPS));
    for _ in 0..REPS {
        o.push(ours()?);
        p.push(peer()?);
    }
    Ok((median(o), median(p)))
}

fn n_f64(n: u32) -> f64 {
    f64::from(n)
}

fn row(name: &str, unit: &'static str, value: f64, peer_value: f64) -> Row {
    Row { name: name.to_owned(), unit, value, peer: PEER, peer_value }
}

fn calls_u32() -> u32 {
    u32::try_from(CALLS).unwrap_or(u32::MAX)
}

// === wasm -> host ===

fn ours_call_host(typed: bool) -> Result<Rep<'static>, String> {
    use hypha_wasm::{Caller, Engine, FuncType, Linker, Module, Store, ValType};
    let engine = Engine::host(hypha_wasm::Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &wat(CALL_HOST_WAT)?).map_err(|e| e.to_string())?;
    let mut linker = Linker::<()>::new();
    if typed {
        linker.func_wrap("h", "f", |_: Caller<'_, ()>, x: i32| x);
    } else {
        linker.func_new("h", "f", FuncType::new([ValType::I32], [ValType::I32]), |_, p, r| {
            r[0] = p[0];
            Ok(())
        });
    }
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
    let run = instance.get_typed_func::<i32, i32, ()>(&mut store, "run").map_err(|e| e.to_string())?;
    Ok(Box::new(move || {
        let t = Instant::now();
        run.call(&mut store, CALLS).map_err(|e| e.to_string())?;
        Ok(t.elapsed().as_secs_f64() * 1e9 / n_f64(calls_u32()))
    }))
}

fn peer_call_host(typed: bool) -> Result<Rep<'static>, String> {
    use wasmtime::{Engine, FuncType, Linker, Module, Store, Val, ValType};
    let engine = Engine::default();
    let module = Module::new(&engine, wat(CALL_HOST_WAT)?).map_err(|e| e.to_string())?;
    let mut linker = Linker::<()>::new(&engine);
    if typed {
        linker.func_wrap("h", "f", |x: i32| x).map_err(|e| e.to_string())?;
    } else {
        let ty = FuncType::new(&engine, [ValType::I32], [ValType::I32]);
        linker
            .func_new("h", "f", ty, |_, p: &[Val], r: &mut [Val]| {
                r[0] = p[0];
                Ok(())
            })
            .map_err(|e| e.to_string())?;
    }
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
    let run = instance.get_typed_func::<i32, i32>(&mut store, "run").map_err(|e| e.to_string())?;
    Ok(Box::new(move || {
        let t = Instant::now();
        run.call(&mut store, CALLS).map_err(|e| e.to_string())?;
        Ok(t.elapsed().as_secs_f64() * 1e9 / n_f64(calls_u32()))
    }))
}

// === host -> wasm ===

fn ours_call_wasm() -> Result<Rep<'static>, String> {
    use hypha_wasm::{Engine, Instance, Module, Store};
    let engine = Engine::host(hypha_wasm::Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, &wat(CALL_WASM_WAT)?).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
    let id = instance.get_typed_func::<i32, i32, ()>(&mut store, "id").map_err(|e| e.to_string())?;
    Ok(Box::new(move || {
        let t = Instant::now();
        let mut acc = 0i32;
        for i in 0..CALLS {
            acc = acc.wrapping_add(id.call(&mut store, i).map_err(|e| e.to_string())?);
        }
        std::hint::black_box(acc);
        Ok(t.elapsed().as_secs_f64() * 1e9 / n_f64(calls_u32()))
    }))
}

fn peer_call_wasm() -> Result<Rep<'static>, String> {
    use wasmtime::{Engine, Instance, Module, Store};
    let engine = Engine::default();
    let module = Module::new(&engine, wat(CALL_WASM_WAT)?).map_err(|e| e.to_string())?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).map_err(|e| e.to_string())?;
    let id = instance.get_typed_func::<i32, i32>(&mut store, "id").map_err(|e| e.to_string())?;
    Ok(Box::new(move || {
        let t = Instant::now();
        let mut acc = 0i32;
        for i in 0..CALLS {
            acc = acc.wrapping_add(id.call(&mut store, i).map_err(|e| e.to_string())?);
        }
        std::hint::black_box(acc);
        Ok(t.elapsed().as_secs_f64() * 1e9 / n_f64(calls_u32()))
    }))
}

// === instantiation ===

/// Store creation + instantiation + drop, µs each; `n` per repetition.
fn ours_instantiate(bytes: &[u8], n: u32) -> Result<Rep<'static>, String> {
    use hypha_wasm::{Engine, Module, Store};
    let engine = Engine::host(hypha_wasm::Config::default()).map_err(|e| e.to_string())?;
    let module = Module::new(&engine, bytes).map_err(|e| e.to_string())?;
    let linker = crate::ours::linker();
    Ok(Box::new(move || {
        let t = Instant::now();
        for _ in 0..n {
            let mut store = Store::new(&engine, Host::empty());
            let i = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
            std::hint::black_box(i);
        }
        Ok(t.elapsed().as_secs_f64() * 1e6 / n_f64(n))
    }))
}

fn peer_instantiate(bytes: &[u8], n: u32) -> Result<Rep<'static>, String> {
    use wasmtime::{Engine, Module, Store};
    let engine = Engine::default();
    let module = Module::new(&engine, bytes).map_err(|e| e.to_string())?;
    let linker = crate::peer::linker(&engine)?;
    Ok(Box::new(move || {
        let t = Instant::now();
        for _ in 0..n {
            let mut store = Store::new(&engine, Host::empty());
            let i = linker.instantiate(&mut store, &module).map_err(|e| e.to_string())?;
            std::hint::black_box(i);
        }
        Ok(t.elapsed().as_secs_f64() * 1e6 / n_f64(n))
    }))
}

/// All micro rows. `largest` is the biggest runnable sightglass program.
///
/// # Errors
/// Any setup failure.
pub fn rows(largest: Option<(&str, &[u8])>) -> Result<Vec<Row>, String> {
    let pair = |name: &str, unit: &'static str, ours: Rep<'static>, peer: Rep<'static>| -> Result<Row, String> {
        let (o, p) = alternate(ours, peer)?;
        Ok(row(name, unit, o, p))
    };
    let mut rows = Vec::new();
    rows.push(pair("call wasm->host (func_wrap)", "ns", ours_call_host(true)?, peer_call_host(true)?)?);
    rows.push(pair("call wasm->host (func_new)", "ns", ours_call_host(false)?, peer_call_host(false)?)?);
    rows.push(pair("call host->wasm (typed)", "ns", ours_call_wasm()?, peer_call_wasm()?)?);
    let empty = wat("(module)")?;
    rows.push(pair("instantiate empty module", "us", ours_instantiate(&empty, INSTANCES)?, peer_instantiate(&empty, INSTANCES)?)?);
    let mem = wat(&memory_data_wat())?;
    rows.push(pair("instantiate memory + 8x4KiB data", "us", ours_instantiate(&mem, INSTANCES)?, peer_instantiate(&mem, INSTANCES)?)?);
    if let Some((name, bytes)) = largest {
        rows.push(pair(
            &format!("instantiate largest ({name})"),
            "us",
            ours_instantiate(bytes, INSTANCES / 20)?,
            peer_instantiate(bytes, INSTANCES / 20)?,
        )?);
    }
    Ok(rows)
}
