//! End-to-end tests of the WASI glue: real modules calling real WASI
//! functions through a hypha-wasm linker.

use hypha_wasi::WasiCtx;
use hypha_wasi::host::{HostFs, MemoryOutput, host_ctx};
use hypha_wasm::{Config, Engine, Error, FuncType, Linker, Module, Store, TrapCode};

fn engine() -> Engine {
    Engine::host(Config::default()).unwrap()
}

struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("hypha-wasm-wasi-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Instantiate `wat` with WASI over `ctx` and run `_start`.
fn run(wat: &str, ctx: WasiCtx<HostFs>) -> (Result<i32, Error>, Store<WasiCtx<HostFs>>) {
    let engine = engine();
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut linker = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx<HostFs>| c);
    let mut store = Store::new(&engine, ctx);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let r = hypha_wasm_wasi::run_command(&mut store, instance);
    (r, store)
}

#[test]
fn every_import_is_defined_with_its_signature() {
    let mut linker = Linker::<WasiCtx<HostFs>>::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |c: &mut WasiCtx<HostFs>| c);
    let dir = Scratch::new("sigs");
    let mut store = Store::new(&engine(), host_ctx(&dir.0).unwrap());
    for sig in hypha_wasi::IMPORTS {
        let Some(hypha_wasm::Extern::Func(f)) = linker.get(&mut store, hypha_wasi::MODULE, sig.name).unwrap() else {
            panic!("{} not defined", sig.name)
        };
        assert_eq!(f.ty(&store).unwrap(), hypha_wasm_wasi::func_type(sig), "{}", sig.name);
    }
}

#[test]
fn proc_exit_is_an_exit_status_not_a_trap() {
    let dir = Scratch::new("exit");
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (i32.const 42)) unreachable))"#;
    let (r, _) = run(wat, host_ctx(&dir.0).unwrap());
    assert_eq!(r.unwrap(), 42);
}

#[test]
fn return_from_start_is_status_zero_and_real_traps_stay_errors() {
    let dir = Scratch::new("traps");
    let ok = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
    assert_eq!(run(ok, host_ctx(&dir.0).unwrap()).0.unwrap(), 0);
    let trap = r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#;
    match run(trap, host_ctx(&dir.0).unwrap()).0 {
        Err(Error::Trap(t)) => {
            assert_eq!(t.code(), TrapCode::Unreachable);
            assert_eq!(t.exit_code(), None);
            assert!(!t.backtrace().is_empty());
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn args_environ_and_fd_write_reach_guest_memory() {
    let dir = Scratch::new("args");
    let mut ctx = host_ctx(&dir.0).unwrap();
    ctx.set_args(["prog", "hello"]);
    ctx.push_env("K", "v");
    let out = MemoryOutput::new();
    ctx.set_stdout(Box::new(out.clone()));
    // Writes argv[1] and then environ[0] to stdout, exits with argc.
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "args_sizes_get" (func $asz (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "args_get" (func $aget (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "environ_get" (func $eget (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start")
          (if (call $asz (i32.const 0) (i32.const 4)) (then unreachable))
          (if (call $aget (i32.const 100) (i32.const 200)) (then unreachable))
          (if (call $eget (i32.const 300) (i32.const 400)) (then unreachable))
          ;; iovec 0: argv[1], 5 bytes; iovec 1: environ[0], 3 bytes
          (i32.store (i32.const 16) (i32.load (i32.const 104)))
          (i32.store (i32.const 20) (i32.const 5))
          (i32.store (i32.const 24) (i32.load (i32.const 300)))
          (i32.store (i32.const 28) (i32.const 3))
          (if (call $w (i32.const 1) (i32.const 16) (i32.const 2) (i32.const 32)) (then unreachable))
          (call $exit (i32.load (i32.const 0)))))"#;
    let (r, _) = run(wat, ctx);
    assert_eq!(r.unwrap(), 2);
    assert_eq!(out.contents(), b"helloK=v");
}

#[test]
fn bad_pointer_is_efault_and_missing_memory_is_efault() {
    let dir = Scratch::new("fault");
    // random_get far past the end of a 1-page memory: EFAULT (21).
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (func (export "_start") (call $exit (call $r (i32.const 65530) (i32.const 100)))))"#;
    assert_eq!(run(wat, host_ctx(&dir.0).unwrap()).0.unwrap(), 21);
    let no_memory = r#"(module
        (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (func (export "_start") (call $exit (call $r (i32.const 0) (i32.const 1)))))"#;
    assert_eq!(run(no_memory, host_ctx(&dir.0).unwrap()).0.unwrap(), 21);
}

#[test]
fn files_in_the_preopen_are_created_on_the_host() {
    let dir = Scratch::new("files");
    // path_open(fd 3, "out.txt", O_CREAT) then fd_write "data".
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "out.txt")
        (data (i32.const 200) "data")
        (func (export "_start")
          (local $e i32)
          (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 7)
              (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 0)))
          (if (local.get $e) (then (call $exit (local.get $e))))
          (i32.store (i32.const 16) (i32.const 200))
          (i32.store (i32.const 20) (i32.const 4))
          (call $exit (call $w (i32.load (i32.const 0)) (i32.const 16) (i32.const 1) (i32.const 24)))))"#;
    let (r, store) = run(wat, host_ctx(&dir.0).unwrap());
    assert_eq!(r.unwrap(), 0);
    drop(store);
    assert_eq!(std::fs::read(dir.0.join("out.txt")).unwrap(), b"data");
}

#[test]
fn store_data_can_wrap_the_context() {
    struct Data {
        calls: u32,
        wasi: WasiCtx<HostFs>,
    }
    let dir = Scratch::new("wrap");
    let engine = engine();
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))
        (import "env" "count" (func $count))
        (func (export "_start") (call $count) (drop (call $y))))"#;
    let module = Module::new(&engine, &wat::parse_str(wat).unwrap()).unwrap();
    let mut linker = Linker::new();
    hypha_wasm_wasi::add_to_linker(&mut linker, |d: &mut Data| &mut d.wasi);
    linker.func_new("env", "count", FuncType::new([], []), |mut c, _, _| {
        c.data_mut().calls += 1;
        Ok(())
    });
    let mut store = Store::new(&engine, Data { calls: 0, wasi: host_ctx(&dir.0).unwrap() });
    let instance = linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(hypha_wasm_wasi::run_command(&mut store, instance).unwrap(), 0);
    assert_eq!(store.data().calls, 1);
}

#[test]
fn exit_status_passes_other_errors_through() {
    assert_eq!(hypha_wasm_wasi::exit_status(Ok(())).unwrap(), 0);
    let e = hypha_wasm_wasi::exit_status(Err(Error::Usage("x".into()))).unwrap_err();
    assert!(matches!(e, Error::Usage(_)));
    assert_eq!(hypha_wasm_wasi::exit_status(Err(Error::Trap(hypha_wasm::Trap::exit(-1)))).unwrap(), -1);
}
