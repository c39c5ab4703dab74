//! `call_async`, async host functions, epoch interruption and fuel, on the host.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use hypha_wasm::{Config, Engine, Error, FuncType, Instance, Linker, Module, Store, Trap, TrapCode, Val, ValType};

/// Poll `fut` to completion with a no-op waker; returns the output and how
/// many times it returned `Pending`.
fn block_on<F: Future>(fut: F) -> (F::Output, usize) {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut pending = 0;
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return (v, pending);
        }
        pending += 1;
    }
}

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, &wat::parse_str(wat).unwrap()).unwrap()
}

fn trap_of<T: core::fmt::Debug>(r: Result<T, Error>) -> Trap {
    match r {
        Err(Error::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A future that is pending `n` times (waking its task each time), then
/// ready with `value`.
fn pending_then(n: u32, value: i32) -> impl Future<Output = i32> + Send {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            Poll::Ready(value)
        } else {
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

fn i32_to_i32() -> FuncType {
    FuncType::new([ValType::I32], [ValType::I32])
}

/// `env.wait(x)`: pending once, then returns `x + 1`; counts its calls.
fn async_linker(calls: Arc<AtomicUsize>) -> Linker<()> {
    let mut linker = Linker::new();
    linker.func_new_async("env", "wait", i32_to_i32(), move |_caller, params, results| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::Relaxed);
            let Val::I32(x) = params[0] else { return Err(Trap::host("bad argument")) };
            results[0] = Val::I32(pending_then(1, x).await + 1);
            Ok(())
        })
    });
    linker
}

const WAIT_LOOP: &str = r#"
(module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (func (export "run") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $wait (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $acc))
  (func (export "boom") (param i32) (result i32)
    (drop (call $wait (local.get 0)))
    unreachable)
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))
"#;

#[test]
fn async_host_call_suspends_10000_times() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(&engine, WAIT_LOOP);
    let calls = Arc::new(AtomicUsize::new(0));
    let linker = async_linker(calls.clone());
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let run = instance.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    let (out, pending) = block_on(run.call_async(&mut store, 10_000));
    assert_eq!(out.unwrap(), 10_000);
    assert_eq!(pending, 10_000);
    assert_eq!(calls.load(Ordering::Relaxed), 10_000);
    // The untyped API, and the same store again.
    let mut results = [Val::I32(0)];
    let f = instance.get_func(&mut store, "run").unwrap();
    let (out, pending) = block_on(f.call_async(&mut store, &[Val::I32(3)], &mut results));
    out.unwrap();
    assert_eq!((results[0], pending), (Val::I32(3), 3));
}

#[test]
fn async_host_fn_in_a_sync_call_traps() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(&engine, WAIT_LOOP);
    let linker = async_linker(Arc::new(AtomicUsize::new(0)));
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let run = instance.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    let trap = trap_of(run.call(&mut store, 1));
    assert!(trap.to_string().contains("outside call_async"), "{trap}");
    assert_eq!(run.call(&mut store, 0).unwrap(), 0);
}

#[test]
fn trap_inside_async_call() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(&engine, WAIT_LOOP);
    let linker = async_linker(Arc::new(AtomicUsize::new(0)));
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let boom = instance.get_typed_func::<i32, i32, _>(&mut store, "boom").unwrap();
    let (out, pending) = block_on(boom.call_async(&mut store, 5));
    let trap = trap_of(out);
    assert_eq!(trap.code(), TrapCode::Unreachable);
    assert_eq!(pending, 1);
    assert!(!trap.backtrace().is_empty());
    // The store is usable, sync and async.
    let run = instance.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    assert_eq!(block_on(run.call_async(&mut store, 4)).0.unwrap(), 4);
    assert_eq!(run.call(&mut store, 0).unwrap(), 0);
}

#[test]
fn deep_recursion_in_a_fiber_is_a_stack_overflow() {
    let engine = Engine::host(Config { max_wasm_stack: 512 << 10, async_stack_size: 1 << 20, ..Config::default() }).unwrap();
    let m = module(&engine, WAIT_LOOP);
    let linker = async_linker(Arc::new(AtomicUsize::new(0)));
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let deep = instance.get_typed_func::<i32, i32, _>(&mut store, "deep").unwrap();
    for _ in 0..3 {
        let trap = trap_of(block_on(deep.call_async(&mut store, 0)).0);
        assert_eq!(trap.code(), TrapCode::StackOverflow);
        assert_eq!(trap.to_string().lines().next(), Some("call stack exhausted"));
    }
    // Also on a fiber stack smaller than max_wasm_stack: the fiber's own
    // limit (minus the host reserve) applies.
    let small = Engine::host(Config { max_wasm_stack: 8 << 20, async_stack_size: 256 << 10, ..Config::default() }).unwrap();
    let m2 = module(&small, WAIT_LOOP);
    let mut store2 = Store::new(&small, ());
    let instance2 = async_linker(Arc::new(AtomicUsize::new(0))).instantiate(&mut store2, &m2).unwrap();
    let deep2 = instance2.get_typed_func::<i32, i32, _>(&mut store2, "deep").unwrap();
    assert_eq!(trap_of(block_on(deep2.call_async(&mut store2, 0)).0).code(), TrapCode::StackOverflow);
    // Both stores still work, on the fiber and on the main stack.
    let run = instance.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    assert_eq!(block_on(run.call_async(&mut store, 2)).0.unwrap(), 2);
    assert_eq!(trap_of(deep.call(&mut store, 0)).code(), TrapCode::StackOverflow);
    let run2 = instance2.get_typed_func::<i32, i32, _>(&mut store2, "run").unwrap();
    assert_eq!(block_on(run2.call_async(&mut store2, 2)).0.unwrap(), 2);
}

/// Counts drops of the host future's state.
struct DropFlag(Arc<AtomicUsize>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn dropping_a_pending_call_cleans_up() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(
        &engine,
        r#"(module
             (import "env" "forever" (func $forever (param i32) (result i32)))
             (global $after (export "after") (mut i32) (i32.const 0))
             (func (export "run") (param i32) (result i32)
               (drop (call $forever (local.get 0)))
               (global.set $after (i32.const 1))
               (i32.const 7)))"#,
    );
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut linker = Linker::new();
    let flag = dropped.clone();
    linker.func_new_async("env", "forever", i32_to_i32(), move |_caller, _params, _results| {
        let guard = DropFlag(flag.clone());
        Box::pin(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
            Ok(())
        })
    });
    let mut store = Store::new(&engine, ());
    let instance = linker.instantiate(&mut store, &m).unwrap();
    let run = instance.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    for i in 0..200 {
        let mut fut = Box::pin(run.call_async(&mut store, 1));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        drop(fut);
        assert_eq!(dropped.load(Ordering::Relaxed), i + 1, "host future dropped with the call");
    }
    // The guest never ran past its suspension point.
    let after = instance.get_global(&mut store, "after").unwrap();
    assert_eq!(after.get(&store).unwrap(), Val::I32(0));
    // Dropping a call that was never polled is fine too.
    drop(run.call_async(&mut store, 1));
    // The store is usable: a call that completes.
    let m2 = module(&engine, r#"(module (func (export "id") (param i32) (result i32) local.get 0))"#);
    let i2 = Instance::new(&mut store, &m2, &[]).unwrap();
    let id = i2.get_typed_func::<i32, i32, _>(&mut store, "id").unwrap();
    assert_eq!(block_on(id.call_async(&mut store, 9)).0.unwrap(), 9);
    assert_eq!(id.call(&mut store, 10).unwrap(), 10);
}

#[test]
fn wrong_arguments_fail_on_first_poll() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(&engine, r#"(module (func (export "id") (param i32) (result i32) local.get 0))"#);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_func(&mut store, "id").unwrap();
    let mut results = [Val::I32(0)];
    let (out, _) = block_on(f.call_async(&mut store, &[Val::I64(1)], &mut results));
    assert!(matches!(out, Err(Error::Usage(_))), "{out:?}");
}

// === epochs ===

const SPIN: &str = r#"
(module
  (global $n (export "n") (mut i32) (i32.const 0))
  (func (export "spin") (loop $l (global.set $n (i32.add (global.get $n) (i32.const 1))) (br $l)))
  (func $rec (export "rec") (return_call $rec))
  (func (export "count") (param $k i32) (result i32)
    (loop $l
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (global.get $n) (local.get $k))))
    (global.get $n))
  (func (export "answer") (result i32) (i32.const 42)))
"#;

fn epoch_engine() -> Engine {
    Engine::host(Config { epoch_interruption: true, ..Config::default() }).unwrap()
}

#[test]
fn epoch_interrupts_an_infinite_loop_within_one_tick() {
    let engine = epoch_engine();
    let m = module(&engine, SPIN);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let spin = i.get_typed_func::<(), (), _>(&mut store, "spin").unwrap();
    let answer = i.get_typed_func::<(), i32, _>(&mut store, "answer").unwrap();
    for round in 1..=3u64 {
        store.set_epoch_deadline(1);
        let e = engine.clone();
        // One tick, after the guest is certainly spinning.
        let ticker = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            e.increment_epoch();
        });
        let trap = trap_of(spin.call(&mut store, ()));
        ticker.join().unwrap();
        assert_eq!(trap.code(), TrapCode::Interrupt);
        assert_eq!(trap.to_string().lines().next(), Some("interrupt"));
        // Exactly one tick was needed.
        assert_eq!(engine.current_epoch(), round);
        // The deadline stays passed until moved; then the store is usable.
        assert_eq!(trap_of(answer.call(&mut store, ())).code(), TrapCode::Interrupt);
        store.set_epoch_deadline(1);
        assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
    }
    // A deadline already reached interrupts at function entry, even without loops.
    store.set_epoch_deadline(0);
    let rec = i.get_typed_func::<(), (), _>(&mut store, "rec").unwrap();
    assert_eq!(trap_of(rec.call(&mut store, ())).code(), TrapCode::Interrupt);
}

#[test]
fn epoch_tail_recursion_is_interrupted() {
    let engine = epoch_engine();
    let m = module(&engine, SPIN);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let rec = i.get_typed_func::<(), (), _>(&mut store, "rec").unwrap();
    store.set_epoch_deadline(1);
    let e = engine.clone();
    let ticker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(30));
        e.increment_epoch();
    });
    assert_eq!(trap_of(rec.call(&mut store, ())).code(), TrapCode::Interrupt);
    ticker.join().unwrap();
}

#[test]
fn epoch_yields_in_async_calls() {
    let engine = epoch_engine();
    let m = module(
        &engine,
        r#"(module
             (import "env" "tick" (func $tick))
             (func (export "run") (param $n i32) (result i32)
               (local $i i32)
               (loop $l
                 (call $tick)
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
               (local.get $i)))"#,
    );
    let mut linker = Linker::new();
    let e = engine.clone();
    linker.func_new("env", "tick", FuncType::new([], []), move |_, _, _| {
        e.increment_epoch();
        Ok(())
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    // Every tick passes the deadline; the next loop header yields and moves
    // the deadline one epoch on: one yield per iteration after the first.
    let (out, pending) = block_on(run.call_async(&mut store, 100));
    assert_eq!(out.unwrap(), 100);
    assert_eq!(pending, 99);
    // The same policy in a sync call traps.
    assert_eq!(trap_of(run.call(&mut store, 100)).code(), TrapCode::Interrupt);
    // Back to trapping in async calls too.
    store.epoch_deadline_trap();
    store.set_epoch_deadline(1);
    assert_eq!(trap_of(block_on(run.call_async(&mut store, 100)).0).code(), TrapCode::Interrupt);
}

#[test]
fn epoch_yield_of_an_infinite_loop_is_cancellable() {
    let engine = epoch_engine();
    let m = module(&engine, SPIN);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let spin = i.get_typed_func::<(), (), _>(&mut store, "spin").unwrap();
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    let mut fut = Box::pin(spin.call_async(&mut store, ()));
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..5 {
        let e = engine.clone();
        let ticker = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(10));
            e.increment_epoch();
        });
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        ticker.join().unwrap();
    }
    drop(fut);
    let answer = i.get_typed_func::<(), i32, _>(&mut store, "answer").unwrap();
    assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
}

// === fuel ===

fn fuel_engine() -> Engine {
    Engine::host(Config { consume_fuel: true, ..Config::default() }).unwrap()
}

#[test]
fn fuel_is_exact_for_straight_line_code() {
    let engine = fuel_engine();
    let m = module(&engine, r#"(module (func (export "f") (result i32) (i32.add (i32.const 1) (i32.const 2))))"#);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let f = i.get_typed_func::<(), i32, _>(&mut store, "f").unwrap();
    store.set_fuel(100).unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 3);
    // i32.const, i32.const, i32.add; `end` is free.
    assert_eq!(store.get_fuel().unwrap(), 97);
}

#[test]
fn fuel_exhaustion_traps_deterministically() {
    let engine = fuel_engine();
    let m = module(&engine, SPIN);
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &m, &[]).unwrap();
        let spin = i.get_typed_func::<(), (), _>(&mut store, "spin").unwrap();
        store.set_fuel(100_000).unwrap();
        let trap = trap_of(spin.call(&mut store, ()));
        assert_eq!(trap.code(), TrapCode::OutOfFuel);
        assert_eq!(trap.to_string().lines().next(), Some("all fuel consumed"));
        let n = i.get_global(&mut store, "n").unwrap().get(&store).unwrap();
        outcomes.push((n, store.get_fuel().unwrap()));
        // Usable afterwards, with fresh fuel.
        store.set_fuel(10).unwrap();
        let answer = i.get_typed_func::<(), i32, _>(&mut store, "answer").unwrap();
        assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
    }
    // Each iteration costs 5 (global.get, i32.const, i32.add, global.set, br):
    // 100_000 / 5 iterations run, the check at the next loop header traps
    // (fuel 0 is "none left").
    assert_eq!(outcomes[0], (Val::I32(20_000), 0));
    assert!(outcomes.iter().all(|o| *o == outcomes[0]), "{outcomes:?}");
}

#[test]
fn fuel_slices_yield_in_async_calls() {
    let engine = fuel_engine();
    let m = module(&engine, SPIN);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let count = i.get_typed_func::<i32, i32, _>(&mut store, "count").unwrap();
    store.fuel_async_yield_interval(Some(1_000)).unwrap();
    store.set_fuel(1_000_000).unwrap();
    let (out, pending) = block_on(count.call_async(&mut store, 10_000));
    assert_eq!(out.unwrap(), 10_000);
    assert!(pending >= 50, "yielded {pending} times");
    let left = store.get_fuel().unwrap();
    assert!(left < 1_000_000 - 50_000, "{left}");
    // With too little fuel it still traps after the slices are used up.
    store.set_fuel(5_000).unwrap();
    let (out, pending) = block_on(count.call_async(&mut store, 1_000_000));
    assert_eq!(trap_of(out).code(), TrapCode::OutOfFuel);
    assert_eq!(pending, 4);
}

#[test]
fn fuel_api_needs_fuel_enabled() {
    let engine = Engine::host(Config::default()).unwrap();
    let mut store = Store::new(&engine, ());
    assert!(matches!(store.set_fuel(1), Err(Error::Usage(_))));
    assert!(matches!(store.get_fuel(), Err(Error::Usage(_))));
}

#[test]
fn instrumentation_is_only_emitted_when_enabled() {
    let bytes = wat::parse_str(SPIN).unwrap();
    let size = |config: Config| Engine::host(config).unwrap().precompile(&bytes).unwrap();
    let off = size(Config::default());
    let epoch = size(Config { epoch_interruption: true, ..Config::default() });
    let fuel = size(Config { consume_fuel: true, ..Config::default() });
    assert!(epoch > off && fuel > off, "off {off}, epoch {epoch}, fuel {fuel}");
}

// === nesting ===

#[test]
fn memory_fault_traps_inside_a_fiber() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(
        &engine,
        r#"(module
             (import "env" "wait" (func $wait (param i32) (result i32)))
             (memory 1)
             (func (export "oob") (param i32) (result i32)
               (i32.load (call $wait (local.get 0)))))"#,
    );
    let linker = async_linker(Arc::new(AtomicUsize::new(0)));
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let oob = i.get_typed_func::<i32, i32, _>(&mut store, "oob").unwrap();
    let (out, pending) = block_on(oob.call_async(&mut store, 70_000));
    assert_eq!(trap_of(out).code(), TrapCode::MemoryOutOfBounds);
    assert_eq!(pending, 1);
    assert_eq!(block_on(oob.call_async(&mut store, 7)).0.unwrap(), 0);
}

/// wasm -> sync host fn -> wasm (re-entered with `Func::call` on the fiber)
/// -> async host fn that suspends: the whole nest is suspended and resumed.
#[test]
fn suspension_inside_a_reentrant_call() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(
        &engine,
        r#"(module
             (import "env" "wait" (func $wait (param i32) (result i32)))
             (import "env" "reenter" (func $reenter (param i32) (result i32)))
             (func (export "inner") (param i32) (result i32) (call $wait (local.get 0)))
             (func (export "outer") (param i32) (result i32)
               (i32.mul (call $reenter (local.get 0)) (i32.const 10))))"#,
    );
    let mut linker = async_linker(Arc::new(AtomicUsize::new(0)));
    linker.func_new("env", "reenter", i32_to_i32(), |mut caller, params, results| {
        let Some(hypha_wasm::Extern::Func(inner)) = caller.get_export("inner") else {
            return Err(Trap::host("no inner"));
        };
        let mut out = [Val::I32(0)];
        inner.call(&mut caller, params, &mut out).map_err(|e| Trap::host(e.to_string()))?;
        results[0] = out[0];
        Ok(())
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let outer = i.get_typed_func::<i32, i32, _>(&mut store, "outer").unwrap();
    let (out, pending) = block_on(outer.call_async(&mut store, 4));
    assert_eq!(out.unwrap(), 50);
    assert_eq!(pending, 1);
    // Synchronously the inner async host call traps, and the trap passes
    // through both activations.
    assert!(outer.call(&mut store, 4).is_err());
    assert_eq!(block_on(outer.call_async(&mut store, 1)).0.unwrap(), 20);
}

/// An async host function that awaits a nested `call_async` into another
/// function of the same store (a fiber resumed from a fiber).
#[test]
fn async_host_fn_awaits_a_nested_call_async() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(
        &engine,
        r#"(module
             (import "env" "wait" (func $wait (param i32) (result i32)))
             (import "env" "nested" (func $nested (param i32) (result i32)))
             (func (export "inner") (param i32) (result i32) (call $wait (call $wait (local.get 0))))
             (func (export "outer") (param i32) (result i32)
               (i32.add (call $nested (local.get 0)) (i32.const 100))))"#,
    );
    let mut linker = async_linker(Arc::new(AtomicUsize::new(0)));
    linker.func_new_async("env", "nested", i32_to_i32(), |mut caller, params, results| {
        Box::pin(async move {
            let Some(hypha_wasm::Extern::Func(inner)) = caller.get_export("inner") else {
                return Err(Trap::host("no inner"));
            };
            let mut out = [Val::I32(0)];
            inner.call_async(&mut caller, params, &mut out).await.map_err(|e| Trap::host(e.to_string()))?;
            results[0] = out[0];
            Ok(())
        })
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let outer = i.get_typed_func::<i32, i32, _>(&mut store, "outer").unwrap();
    for _ in 0..3 {
        let (out, pending) = block_on(outer.call_async(&mut store, 1));
        assert_eq!(out.unwrap(), 103);
        assert_eq!(pending, 2);
    }
}

/// Loops with parameters and results (multi-value) under both kinds of
/// instrumentation: the checks must not disturb the loop header's values.
#[test]
fn instrumented_loops_with_parameters_compute_correctly() {
    let wat = r#"(module
      (func (export "fib") (param $n i32) (result i64)
        (i64.const 0) (i64.const 1)
        (loop $l (param i64 i64) (result i64 i64)
          (call $step)
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br_if $l (local.get $n)))
        (drop))
      (func $step (param i64 i64) (result i64 i64)
        (local.get 1) (i64.add (local.get 0) (local.get 1))))"#;
    for config in [
        Config::default(),
        Config { epoch_interruption: true, ..Config::default() },
        Config { consume_fuel: true, ..Config::default() },
        Config { epoch_interruption: true, consume_fuel: true, ..Config::default() },
    ] {
        let engine = Engine::host(config).unwrap();
        let m = module(&engine, wat);
        let mut store = Store::new(&engine, ());
        if engine.config().consume_fuel {
            store.set_fuel(1_000_000).unwrap();
        }
        let i = Instance::new(&mut store, &m, &[]).unwrap();
        let fib = i.get_typed_func::<i32, i64, _>(&mut store, "fib").unwrap();
        assert_eq!(fib.call(&mut store, 50).unwrap(), 12_586_269_025);
        assert_eq!(block_on(fib.call_async(&mut store, 10)).0.unwrap(), 55);
    }
}

#[test]
fn instrumentation_compiles_for_riscv64() {
    let bytes = wat::parse_str(SPIN).unwrap();
    let size = |epoch_interruption, consume_fuel| {
        let config = Config {
            target: Some("riscv64gc-unknown-none-elf".parse().unwrap()),
            epoch_interruption,
            consume_fuel,
            ..Config::default()
        };
        Engine::host(config).unwrap().precompile(&bytes).unwrap()
    };
    let off = size(false, false);
    assert!(size(true, false) > off);
    assert!(size(false, true) > off);
    assert!(size(true, true) > size(true, false));
}

/// A host function called directly by `call_async` panics on the fiber:
/// the panic reaches the poller and the store is left idle and usable.
#[test]
fn panic_on_the_fiber_leaves_the_store_usable() {
    let engine = Engine::host(Config { max_wasm_stack: 256 << 10, ..Config::default() }).unwrap();
    let mut store = Store::new(&engine, ());
    let boom = hypha_wasm::Func::new(&mut store, FuncType::new([], []), |_, _, _| panic!("host bug")).unwrap();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = block_on(boom.call_async(&mut store, &[], &mut []));
    }));
    assert!(outcome.is_err());
    let m = module(&engine, WAIT_LOOP);
    let i = async_linker(Arc::new(AtomicUsize::new(0))).instantiate(&mut store, &m).unwrap();
    let deep = i.get_typed_func::<i32, i32, _>(&mut store, "deep").unwrap();
    // The main-stack limit is computed afresh (not the dead fiber's).
    assert_eq!(trap_of(deep.call(&mut store, 0)).code(), TrapCode::StackOverflow);
    assert_eq!(trap_of(block_on(deep.call_async(&mut store, 0)).0).code(), TrapCode::StackOverflow);
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    // Not in an async call any more (no stale fiber context).
    let trap = trap_of(run.call(&mut store, 1));
    assert!(trap.to_string().contains("outside call_async"), "{trap}");
    assert_eq!(block_on(run.call_async(&mut store, 3)).0.unwrap(), 3);
}

/// A store that waited in a run queue while epochs passed gets a whole
/// slice when it resumes (the deadline moves at the resume, not at the
/// yield): otherwise it would yield at its first check every time.
#[test]
fn epoch_yield_slice_counts_from_the_resume() {
    let engine = epoch_engine();
    let m = module(
        &engine,
        r#"(module
             (func (export "count") (param $n i32) (result i32)
               (local $i i32)
               (loop $l
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
               (local.get $i)))"#,
    );
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let count = i.get_typed_func::<i32, i32, _>(&mut store, "count").unwrap();
    store.set_epoch_deadline(1);
    store.epoch_deadline_async_yield_and_update(1);
    // The deadline is reached before the call: it yields at entry.
    engine.increment_epoch();
    let mut call = pin!(count.call_async(&mut store, 1_000_000));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    // Five epochs pass while it waits to run again.
    for _ in 0..5 {
        engine.increment_epoch();
    }
    // Resumed, it has until the next epoch: the loop ends in this poll.
    match call.as_mut().poll(&mut cx) {
        Poll::Ready(result) => assert_eq!(result.unwrap(), 1_000_000),
        Poll::Pending => panic!("yielded at once: the slice was counted from the yield"),
    }
}
