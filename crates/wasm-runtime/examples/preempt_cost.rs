//! What epochs, fuel and fibers cost: a loop-heavy guest with each switch
//! off and on, and host calls that suspend the guest vs plain host calls.
//!
//! `cargo run --release -p hypha-wasm --example preempt_cost`
//!
//! A measurement aid, not a benchmark suite: numbers vary with the machine.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hypha_wasm::{Config, Engine, FuncType, Instance, Linker, Module, Store, Val, ValType};

const LOOP: &str = r#"
(module
  (func (export "sum") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $n) (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc)))
"#;

const CALLS: &str = r#"
(module
  (import "env" "host" (func $host (param i32) (result i32)))
  (func (export "run") (param $n i32) (result i32)
    (local $acc i32)
    (loop $l
      (local.set $acc (call $host (local.get $acc)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc)))
"#;

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn loop_time(config: Config, iterations: i32) -> Duration {
    let engine = Engine::host(config).expect("engine");
    let module = Module::new(&engine, &wat::parse_str(LOOP).expect("wat")).expect("module");
    let mut store = Store::new(&engine, ());
    if engine.config().consume_fuel {
        store.set_fuel(u64::MAX / 2).expect("fuel");
    }
    let instance = Instance::new(&mut store, &module, &[]).expect("instance");
    let sum = instance.get_typed_func::<i32, i32, _>(&mut store, "sum").expect("sum");
    best_of(5, || {
        sum.call(&mut store, iterations).expect("call");
    })
}

fn main() {
    let n = 200_000_000;
    let off = loop_time(Config::default(), n);
    let epoch = loop_time(Config { epoch_interruption: true, ..Config::default() }, n);
    let fuel = loop_time(Config { consume_fuel: true, ..Config::default() }, n);
    let per = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(n);
    println!("loop of {n} iterations (best of 5):");
    println!("  plain       {:8.3} ns/iter", per(off));
    println!("  epochs      {:8.3} ns/iter  ({:+.1}%)", per(epoch), (per(epoch) / per(off) - 1.0) * 100.0);
    println!("  fuel        {:8.3} ns/iter  ({:+.1}%)", per(fuel), (per(fuel) / per(off) - 1.0) * 100.0);

    let engine = Engine::host(Config::default()).expect("engine");
    let module = Module::new(&engine, &wat::parse_str(CALLS).expect("wat")).expect("module");
    let ty = FuncType::new([ValType::I32], [ValType::I32]);
    let calls = 1_000_000;

    let mut sync_linker = Linker::new();
    sync_linker.func_new("env", "host", ty.clone(), |_, p, r| {
        r[0] = p[0];
        Ok(())
    });
    let mut store = Store::new(&engine, ());
    let i = sync_linker.instantiate(&mut store, &module).expect("instance");
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").expect("run");
    let sync_calls = best_of(5, || {
        run.call(&mut store, calls).expect("call");
    });
    let async_ready = best_of(5, || {
        block_on(run.call_async(&mut store, calls)).expect("call");
    });

    let mut async_linker = Linker::new();
    async_linker.func_new_async("env", "host", ty, |_, p, r| {
        Box::pin(async move {
            let mut first = true;
            std::future::poll_fn(|cx| {
                if std::mem::take(&mut first) {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            r[0] = p[0];
            Ok(())
        })
    });
    let mut store = Store::new(&engine, ());
    let i = async_linker.instantiate(&mut store, &module).expect("instance");
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").expect("run");
    let suspending = best_of(5, || {
        block_on(run.call_async(&mut store, calls)).expect("call");
    });

    let per_call = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(calls);
    println!("wasm->host calls ({calls}, best of 5):");
    println!("  sync host fn, call           {:8.1} ns/call", per_call(sync_calls));
    println!("  sync host fn, call_async     {:8.1} ns/call", per_call(async_ready));
    println!(
        "  async host fn pending once   {:8.1} ns/call  (suspend + resume: {:.1} ns)",
        per_call(suspending),
        per_call(suspending) - per_call(async_ready)
    );

    let m = Module::new(&engine, &wat::parse_str(r#"(module (func (export "id") (param i32) (result i32) local.get 0))"#).expect("wat"))
        .expect("module");
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).expect("instance");
    let id = i.get_func(&mut store, "id").expect("id");
    let reps = 100_000;
    let mut results = [Val::I32(0)];
    let sync = best_of(5, || {
        for _ in 0..reps {
            id.call(&mut store, &[Val::I32(1)], &mut results).expect("call");
        }
    });
    let asy = best_of(5, || {
        for _ in 0..reps {
            block_on(id.call_async(&mut store, &[Val::I32(1)], &mut results)).expect("call");
        }
    });
    let per_rep = |d: Duration| d.as_secs_f64() * 1e9 / f64::from(reps);
    println!("host->wasm call of an identity function ({reps}, best of 5):");
    println!("  call        {:8.1} ns", per_rep(sync));
    println!("  call_async  {:8.1} ns", per_rep(asy));
}
