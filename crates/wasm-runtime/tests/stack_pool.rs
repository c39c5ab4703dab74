//! The engine's idle pool of `call_async` fiber stacks
//! (`Config::async_stack_pool`), on the host.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use hypha_wasm::{Config, Engine, Linker, Module, Store};

fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn engine(pool: usize) -> Engine {
    Engine::host(Config { async_stack_size: 256 << 10, async_stack_pool: pool, ..Config::default() }).unwrap()
}

/// A store that has made one `call_async` (so it holds a fiber stack).
fn store_after_a_call(engine: &Engine, module: &Module) -> Store<()> {
    let mut store = Store::new(engine, ());
    let instance = Linker::new().instantiate(&mut store, module).unwrap();
    let run = instance.get_func(&mut store, "run").unwrap();
    let mut results = [];
    block_on(run.call_async(&mut store, &[], &mut results)).unwrap();
    store
}

fn module(engine: &Engine) -> Module {
    Module::new(engine, &wat::parse_str(r#"(module (func (export "run")))"#).unwrap()).unwrap()
}

#[test]
fn a_dropped_stores_stack_is_reused_by_the_next_store() {
    let engine = engine(2);
    let module = module(&engine);
    for _ in 0..5 {
        drop(store_after_a_call(&engine, &module));
    }
    // Each store took the one idle stack and gave it back: one in the pool.
    assert_eq!(engine.release_idle_stacks(), 1);
    assert_eq!(engine.release_idle_stacks(), 0, "released once");
}

#[test]
fn the_pool_keeps_at_most_its_capacity() {
    let engine = engine(2);
    let module = module(&engine);
    let alive: Vec<_> = (0..4).map(|_| store_after_a_call(&engine, &module)).collect();
    drop(alive);
    assert_eq!(engine.release_idle_stacks(), 2);
}

#[test]
fn without_a_pool_stacks_are_released_with_their_store() {
    let engine = engine(0);
    let module = module(&engine);
    drop(store_after_a_call(&engine, &module));
    assert_eq!(engine.release_idle_stacks(), 0);
}

#[test]
fn a_pooled_stack_still_runs_deep_wasm_and_catches_overflow() {
    let engine = Engine::host(Config { max_wasm_stack: 128 << 10, async_stack_size: 256 << 10, async_stack_pool: 1, ..Config::default() }).unwrap();
    let wat = r#"(module
        (func $down (param i32) (result i32)
          (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
            (else (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))))
        (func (export "run") (param i32) (result i32) (call $down (local.get 0))))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    for _ in 0..3 {
        let mut store = Store::new(&engine, ());
        let instance = Linker::new().instantiate(&mut store, &module).unwrap();
        let run = instance.get_func(&mut store, "run").unwrap();
        let mut results = [hypha_wasm::Val::I32(0)];
        block_on(run.call_async(&mut store, &[hypha_wasm::Val::I32(1000)], &mut results)).unwrap();
        assert!(matches!(results[0], hypha_wasm::Val::I32(1000)));
        let overflow = block_on(run.call_async(&mut store, &[hypha_wasm::Val::I32(1 << 30)], &mut results));
        assert!(overflow.is_err(), "deep recursion traps on a reused stack too");
    }
    assert_eq!(engine.release_idle_stacks(), 1);
}
