//! API tests on the host.

use crate::*;

fn engine() -> Engine {
    Engine::host(Config::default()).unwrap()
}

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, &wat::parse_str(wat).unwrap()).unwrap()
}

#[test]
fn typed_call() {
    let engine = engine();
    let m = module(&engine, r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#);
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let add = i.get_typed_func::<(i32, i32), i32, _>(&mut store, "add").unwrap();
    assert_eq!(add.call(&mut store, (2, 40)).unwrap(), 42);
}

#[test]
fn trap_leaves_store_usable_and_has_backtrace() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (func $boom (export "boom") (result i32) unreachable)
                   (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s))"#,
    );
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let boom = i.get_typed_func::<(), i32, _>(&mut store, "boom").unwrap();
    let Err(Error::Trap(t)) = boom.call(&mut store, ()) else { panic!("expected a trap") };
    assert_eq!(t.code(), TrapCode::Unreachable);
    assert_eq!(t.backtrace()[0].func_name.as_deref(), Some("boom"));
    let div = i.get_typed_func::<(i32, i32), i32, _>(&mut store, "div").unwrap();
    let Err(Error::Trap(t)) = div.call(&mut store, (1, 0)) else { panic!("expected a trap") };
    assert_eq!(t.code(), TrapCode::IntegerDivisionByZero);
    assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
}

#[test]
fn host_function_through_linker() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (import "env" "double" (func $d (param i32) (result i32)))
                   (func (export "run") (param i32) (result i32) local.get 0 call $d i32.const 1 i32.add))"#,
    );
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new();
    linker.func_new("env", "double", FuncType::new([ValType::I32], [ValType::I32]), |mut caller, params, results| {
        *caller.data_mut() += 1;
        let Val::I32(x) = params[0] else { return Err(Trap::host("bad argument")) };
        results[0] = Val::I32(x * 2);
        Ok(())
    });
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, 20).unwrap(), 41);
    assert_eq!(*store.data(), 1);
}

#[test]
fn memory_grow_honours_maximum_and_store_limit() {
    for strategy in [MemoryStrategy::GuardPages, MemoryStrategy::BoundsChecks] {
        let engine = Engine::host(Config { memory_strategy: strategy, ..Config::default() }).unwrap();
        let m = module(
            &engine,
            r#"(module (memory 1 3) (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
                       (func (export "load") (param i32) (result i32) local.get 0 i32.load))"#,
        );
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &m, &[]).unwrap();
        let grow = i.get_typed_func::<i32, i32, _>(&mut store, "grow").unwrap();
        let load = i.get_typed_func::<i32, i32, _>(&mut store, "load").unwrap();
        assert_eq!(grow.call(&mut store, 1).unwrap(), 1);
        assert_eq!(grow.call(&mut store, 5).unwrap(), -1);
        assert_eq!(load.call(&mut store, 2 * 65536 - 4).unwrap(), 0);
        let Err(Error::Trap(t)) = load.call(&mut store, 2 * 65536 - 3) else { panic!("expected a trap") };
        assert_eq!(t.code(), TrapCode::MemoryOutOfBounds);

        let mut limited = Store::new(&engine, ());
        limited.set_memory_limit_pages(2);
        let i = Instance::new(&mut limited, &m, &[]).unwrap();
        let grow = i.get_typed_func::<i32, i32, _>(&mut limited, "grow").unwrap();
        assert_eq!(grow.call(&mut limited, 1).unwrap(), 1);
        assert_eq!(grow.call(&mut limited, 1).unwrap(), -1);
    }
}

#[test]
fn malformed_module_reports_offset() {
    let engine = engine();
    let Err(Error::Invalid { offset, .. }) = Module::new(&engine, b"\0asm\x01\0\0\0\x01\x05") else {
        panic!("expected an invalid-module error")
    };
    assert!(offset >= 8);
    assert!(matches!(Module::new(&engine, b"not wasm"), Err(Error::Invalid { .. })));
}

#[test]
fn disabled_feature_is_rejected() {
    let engine = Engine::host(Config { features: Features { simd: false, ..Features::default() }, ..Config::default() }).unwrap();
    let bytes = wat::parse_str(r#"(module (func (result v128) v128.const i64x2 0 0))"#).unwrap();
    assert!(matches!(Module::new(&engine, &bytes), Err(Error::Invalid { .. })));
}

#[test]
fn compiles_for_riscv64() {
    let config = Config { target: Some("riscv64gc-unknown-none-elf".parse().unwrap()), ..Config::default() };
    let engine = Engine::host(config).unwrap();
    let bytes = wat::parse_str(
        r#"(module (memory 1) (func $f (param i32) (result i32) local.get 0 i32.load)
                   (func (export "g") (result i32) i32.const 4 call $f)
                   (func (export "v") (param v128) (result v128) local.get 0 local.get 0 i32x4.add))"#,
    )
    .unwrap();
    assert!(engine.precompile(&bytes).unwrap() > 0);
}

/// Defined globals live inline in the vmctx: the host's `Global` handle,
/// the defining instance's code and an importing instance's code must all
/// see the same value, for i32, v128 and funcref globals.
#[test]
fn defined_globals_are_shared_with_host_and_importers() {
    let engine = engine();
    let a = module(
        &engine,
        r#"(module
             (global $n (export "n") (mut i32) (i32.const 7))
             (global $v (export "v") (mut v128) (v128.const i64x2 1 2))
             (global $f (export "f") (mut funcref) (ref.null func))
             (func $inc (export "inc") (result i32)
               global.get $n i32.const 1 i32.add global.set $n global.get $n)
             (func (export "vhi") (result i64) global.get $v i64x2.extract_lane 1)
             (func (export "fnull") (result i32) global.get $f ref.is_null)
             (func (export "setf") ref.func $inc global.set $f))"#,
    );
    let b = module(
        &engine,
        r#"(module
             (import "a" "n" (global $n (mut i32)))
             (import "a" "v" (global $v (mut v128)))
             (func (export "bump") (result i32)
               global.get $n i32.const 100 i32.add global.set $n global.get $n)
             (func (export "setv") (param i64) v128.const i64x2 0 0 local.get 0 i64x2.replace_lane 1 global.set $v))"#,
    );
    let mut store = Store::new(&engine, ());
    let ia = Instance::new(&mut store, &a, &[]).unwrap();
    let n = ia.get_global(&mut store, "n").unwrap();
    let v = ia.get_global(&mut store, "v").unwrap();
    let inc = ia.get_typed_func::<(), i32, _>(&mut store, "inc").unwrap();
    assert_eq!(inc.call(&mut store, ()).unwrap(), 8);
    assert_eq!(n.get(&store).unwrap(), Val::I32(8));
    n.set(&mut store, Val::I32(40)).unwrap();
    assert_eq!(inc.call(&mut store, ()).unwrap(), 41);

    let mut linker = Linker::new();
    linker.define("a", "n", n).define("a", "v", v);
    let ib = linker.instantiate(&mut store, &b).unwrap();
    let bump = ib.get_typed_func::<(), i32, _>(&mut store, "bump").unwrap();
    assert_eq!(bump.call(&mut store, ()).unwrap(), 141);
    assert_eq!(inc.call(&mut store, ()).unwrap(), 142);
    assert_eq!(n.get(&store).unwrap(), Val::I32(142));

    let vhi = ia.get_typed_func::<(), i64, _>(&mut store, "vhi").unwrap();
    assert_eq!(vhi.call(&mut store, ()).unwrap(), 2);
    let setv = ib.get_typed_func::<i64, (), _>(&mut store, "setv").unwrap();
    setv.call(&mut store, 99).unwrap();
    assert_eq!(vhi.call(&mut store, ()).unwrap(), 99);
    assert_eq!(v.get(&store).unwrap(), Val::V128(99u128 << 64));
    v.set(&mut store, Val::V128(5u128 << 64)).unwrap();
    assert_eq!(vhi.call(&mut store, ()).unwrap(), 5);

    let fnull = ia.get_typed_func::<(), i32, _>(&mut store, "fnull").unwrap();
    assert_eq!(fnull.call(&mut store, ()).unwrap(), 1);
    ia.get_typed_func::<(), (), _>(&mut store, "setf").unwrap().call(&mut store, ()).unwrap();
    assert_eq!(fnull.call(&mut store, ()).unwrap(), 0);
}
