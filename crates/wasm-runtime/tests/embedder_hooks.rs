//! The embedder hooks the kernel uses: `Config::compile_executor` (parallel
//! compilation on the embedder's workers) and `Suspender` (sync host code
//! waiting on a future inside `call_async`).

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hypha_wasm::{CompileExecutor, Config, Engine, Error, FuncType, Linker, Module, Store, Suspender, Val, ValType};

/// Runs jobs on scoped std threads and counts them.
#[derive(Debug, Default)]
struct Threads {
    jobs_run: AtomicUsize,
    batches: AtomicUsize,
}

impl CompileExecutor for Threads {
    fn parallelism(&self) -> usize {
        3
    }
    fn run(&self, jobs: usize, job: &(dyn Fn(usize) + Sync)) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        std::thread::scope(|s| {
            for i in 0..jobs {
                s.spawn(move || {
                    job(i);
                    self.jobs_run.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
    }
}

#[test]
fn compile_executor_compiles_every_function_in_order() {
    let threads = Arc::new(Threads::default());
    let config = Config { compile_executor: Some(threads.clone()), ..Config::default() };
    let engine = Engine::host(config).unwrap();
    // 40 functions, each returning its own index plus the next one's result.
    let mut wat = String::from("(module\n");
    for i in 0..40 {
        if i == 39 {
            wat.push_str(&format!("(func $f{i} (result i32) (i32.const {i}))\n"));
        } else {
            wat.push_str(&format!("(func $f{i} (result i32) (i32.add (i32.const {i}) (call $f{})))\n", i + 1));
        }
    }
    wat.push_str("(export \"sum\" (func $f0)))");
    let module = Module::new(&engine, &wat::parse_str(&wat).unwrap()).unwrap();
    assert_eq!(threads.batches.load(Ordering::Relaxed), 1, "one batch per module");
    assert_eq!(threads.jobs_run.load(Ordering::Relaxed), 3, "parallelism() jobs");
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new().instantiate(&mut store, &module).unwrap();
    let sum = instance.get_typed_func::<(), i32, _>(&mut store, "sum").unwrap();
    assert_eq!(sum.call(&mut store, ()).unwrap(), (0..40).sum::<i32>());
}

#[test]
fn compile_executor_reports_invalid_function_bodies() {
    let config = Config { compile_executor: Some(Arc::new(Threads::default())), ..Config::default() };
    let engine = Engine::host(config).unwrap();
    // Function 1 of 3 adds an i64 to an i32: invalid.
    let wat = "(module (func) (func (result i32) (i32.add (i32.const 1) (i64.const 2))) (func))";
    let bytes = wat::parse_str(wat).unwrap();
    assert!(matches!(Module::new(&engine, &bytes), Err(Error::Invalid { .. })));
}

/// Pending until `ready` is set; registers its waker.
struct Gate {
    ready: Arc<Mutex<(bool, Option<Waker>)>>,
}

impl Future for Gate {
    type Output = i32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
        let mut state = self.ready.lock().unwrap();
        if state.0 {
            Poll::Ready(7)
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

struct Data {
    suspender: Option<Suspender>,
    gate: Arc<Mutex<(bool, Option<Waker>)>>,
}

#[test]
fn suspender_blocks_sync_host_code_until_the_future_is_ready() {
    let engine = Engine::host(Config::default()).unwrap();
    let wat = r#"(module (import "env" "read" (func $read (result i32)))
                         (func (export "run") (result i32) (i32.add (call $read) (i32.const 1))))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut linker: Linker<Data> = Linker::new();
    // A plain (sync) host function that waits through the store's Suspender.
    linker.func_new("env", "read", FuncType::new([], [ValType::I32]), |caller, _params, results| {
        let suspender = caller.data().suspender.expect("suspender installed");
        let gate = Gate { ready: caller.data().gate.clone() };
        // SAFETY: we are inside a host call of this store on this thread.
        let value = unsafe { suspender.block_on(gate) }?;
        results[0] = Val::I32(value);
        Ok(())
    });
    let gate = Arc::new(Mutex::new((false, None)));
    let mut store = Store::new(&engine, Data { suspender: None, gate: gate.clone() });
    let suspender = store.suspender();
    store.data_mut().suspender = Some(suspender);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<(), i32, _>(&mut store, "run").unwrap();

    let mut call = pin!(run.call_async(&mut store, ()));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(call.as_mut().poll(&mut cx).is_pending(), "suspended inside the sync host function");
    assert!(call.as_mut().poll(&mut cx).is_pending(), "still waiting");
    assert!(gate.lock().unwrap().1.is_some(), "the gate saw the call's waker");
    gate.lock().unwrap().0 = true;
    match call.as_mut().poll(&mut cx) {
        Poll::Ready(result) => assert_eq!(result.unwrap(), 8),
        Poll::Pending => panic!("the call should finish once the gate opens"),
    }
}

#[test]
fn suspender_outside_call_async_is_an_error() {
    let engine = Engine::host(Config::default()).unwrap();
    let wat = r#"(module (import "env" "read" (func $read (result i32))) (func (export "run") (result i32) (call $read)))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut linker: Linker<Data> = Linker::new();
    linker.func_new("env", "read", FuncType::new([], [ValType::I32]), |caller, _params, results| {
        let suspender = caller.data().suspender.expect("suspender installed");
        // SAFETY: inside a host call of this store on this thread.
        assert!(!unsafe { suspender.in_async_call() });
        // SAFETY: as above.
        results[0] = Val::I32(unsafe { suspender.block_on(std::future::ready(1)) }?);
        Ok(())
    });
    let mut store = Store::new(&engine, Data { suspender: None, gate: Arc::new(Mutex::new((false, None))) });
    let suspender = store.suspender();
    store.data_mut().suspender = Some(suspender);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let run = instance.get_typed_func::<(), i32, _>(&mut store, "run").unwrap();
    assert!(matches!(run.call(&mut store, ()), Err(Error::Trap(_))), "sync call cannot suspend");
}
