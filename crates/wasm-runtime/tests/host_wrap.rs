//! Typed host functions (`Func::wrap`, `Linker::func_wrap`) and typed
//! calls (`TypedFunc::call`): values of every kind cross in both
//! directions, traps and foreign references are reported, and the
//! dynamic (`func_new`) path agrees for long signatures.

use hypha_wasm::{Caller, Config, Engine, Error, ExternRef, Func, FuncType, Instance, Linker, Module, Store, Trap, Val, ValType};

fn engine() -> Engine {
    Engine::host(Config::default()).unwrap()
}

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, &wat::parse_str(wat).unwrap()).unwrap()
}

#[test]
fn wrapped_function_called_from_wasm_sees_args_and_store_data() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
                   (func (export "run") (param i32) (result f64)
                     (call $mix (local.get 0) (i64.const -5) (f32.const 1.5) (f64.const 0.25))))"#,
    );
    let mut linker = Linker::<u32>::new();
    linker.func_wrap("env", "mix", |mut caller: Caller<'_, u32>, a: i32, b: i64, c: f32, d: f64| {
        *caller.data_mut() += 1;
        f64::from(a) + b as f64 + f64::from(c) + d
    });
    let mut store = Store::new(&engine, 0u32);
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<i32, f64, _>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, 10).unwrap(), 10.0 - 5.0 + 1.5 + 0.25);
    assert_eq!(run.call(&mut store, -10).unwrap(), -10.0 - 5.0 + 1.5 + 0.25);
    assert_eq!(*store.data(), 2);
}

#[test]
fn wrapped_function_returns_several_results_and_none() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (import "env" "swap" (func $swap (param i32 i64) (result i64 i32)))
                   (import "env" "note" (func $note (param i32)))
                   (func (export "run") (result i64 i32)
                     (call $note (i32.const 3))
                     (call $swap (i32.const 7) (i64.const 9))))"#,
    );
    let mut linker = Linker::<Vec<i32>>::new();
    linker.func_wrap("env", "swap", |_: Caller<'_, Vec<i32>>, a: i32, b: i64| (b * 2, a + 1));
    linker.func_wrap("env", "note", |mut c: Caller<'_, Vec<i32>>, x: i32| c.data_mut().push(x));
    let mut store = Store::new(&engine, Vec::new());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<(), (i64, i32), _>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), (18, 8));
    assert_eq!(store.data(), &[3]);
}

#[test]
fn wrapped_function_error_is_a_trap_and_the_store_stays_usable() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (import "env" "check" (func $check (param i32) (result i32)))
                   (func (export "run") (param i32) (result i32) (call $check (local.get 0))))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func_wrap("env", "check", |_: Caller<'_, ()>, x: i32| -> Result<i32, Trap> {
        if x < 0 { Err(Trap::host("negative")) } else { Ok(x * 3) }
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<i32, i32, _>(&mut store, "run").unwrap();
    let Err(Error::Trap(t)) = run.call(&mut store, -1) else { panic!("expected a trap") };
    assert!(t.to_string().contains("negative"), "{t}");
    assert_eq!(run.call(&mut store, 5).unwrap(), 15);
}

#[test]
fn wrapped_function_called_from_the_host_directly() {
    let engine = engine();
    let mut store = Store::new(&engine, 0u32);
    let f = Func::wrap(&mut store, |mut c: Caller<'_, u32>, a: i32, b: i32| -> Result<i32, Trap> {
        *c.data_mut() += 1;
        a.checked_div(b).ok_or_else(|| Trap::host("divide by zero"))
    })
    .unwrap();
    assert_eq!(f.ty(&store).unwrap(), FuncType::new([ValType::I32, ValType::I32], [ValType::I32]));
    let typed = f.typed::<(i32, i32), i32, _>(&store).unwrap();
    assert_eq!(typed.call(&mut store, (84, 2)).unwrap(), 42);
    assert!(matches!(typed.call(&mut store, (1, 0)), Err(Error::Trap(_))));
    let mut out = [Val::I32(0)];
    f.call(&mut store, &[Val::I32(9), Val::I32(3)], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(3));
    assert_eq!(*store.data(), 3);
    // Wrong types for the typed view are refused.
    assert!(f.typed::<i32, i32, _>(&store).is_err());
}

#[test]
fn references_cross_typed_calls_and_wrapped_functions() {
    let engine = engine();
    let m = module(
        &engine,
        r#"(module (import "env" "keep" (func $keep (param externref funcref) (result externref funcref)))
                   (func $f (export "f") (result i32) (i32.const 11))
                   (func (export "run") (param externref funcref) (result externref funcref)
                     (call $keep (local.get 0) (local.get 1)))
                   (elem declare func $f))"#,
    );
    let mut linker = Linker::<()>::new();
    linker.func_wrap("env", "keep", |_: Caller<'_, ()>, e: Option<ExternRef>, f: Option<Func>| (e, f));
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let f = i.get_func(&mut store, "f").unwrap();
    let e = ExternRef::new(&mut store, 1234u64);
    let run = i.get_typed_func::<(Option<ExternRef>, Option<Func>), (Option<ExternRef>, Option<Func>), _>(&mut store, "run").unwrap();
    let (e2, f2) = run.call(&mut store, (Some(e), Some(f))).unwrap();
    assert_eq!(e2, Some(e));
    assert_eq!(f2, Some(f));
    assert_eq!(e2.unwrap().data(&store).unwrap().downcast_ref::<u64>(), Some(&1234));
    let eleven = f2.unwrap().typed::<(), i32, _>(&store).unwrap();
    assert_eq!(eleven.call(&mut store, ()).unwrap(), 11);
    assert_eq!(run.call(&mut store, (None, None)).unwrap(), (None, None));

    // A reference from another store is refused, not passed on.
    let mut other = Store::new(&engine, ());
    let foreign = ExternRef::new(&mut other, 0u8);
    assert!(matches!(run.call(&mut store, (Some(foreign), None)), Err(Error::Usage(_))));
}

#[test]
fn long_signatures_on_the_typed_and_dynamic_paths() {
    let engine = engine();
    // 10 parameters: beyond the small typed array and the dynamic path's
    // inline storage.
    let params = "(param i32 i32 i32 i32 i32 i32 i32 i32 i32 i64)";
    let args = (1..=9).map(|i| format!("(i32.const {i})")).collect::<Vec<_>>().join(" ");
    let wat = format!(
        r#"(module (import "env" "sum" (func $sum {params} (result i64)))
                   (import "env" "dyn" (func $dyn {params} (result i64)))
                   (func (export "direct") {params} (result i64)
                     (i64.add (i64.extend_i32_u (local.get 0)) (local.get 9)))
                   (func (export "run") (result i64 i64)
                     (call $sum {args} (i64.const 100))
                     (call $dyn {args} (i64.const 1000))))"#
    );
    let m = module(&engine, &wat);
    let mut linker = Linker::<()>::new();
    linker.func_wrap(
        "env",
        "sum",
        |_: Caller<'_, ()>, a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, g: i32, h: i32, i: i32, j: i64| {
            i64::from(a + b + c + d + e + f + g + h + i) + j
        },
    );
    let ty = FuncType::new([ValType::I32; 9].into_iter().chain([ValType::I64]), [ValType::I64]);
    linker.func_new("env", "dyn", ty, |_, p, r| {
        let mut total = 0i64;
        for v in p {
            total += match *v {
                Val::I32(x) => i64::from(x),
                Val::I64(x) => x,
                _ => return Err(Trap::host("bad argument")),
            };
        }
        r[0] = Val::I64(total);
        Ok(())
    });
    let mut store = Store::new(&engine, ());
    let i = linker.instantiate(&mut store, &m).unwrap();
    let run = i.get_typed_func::<(), (i64, i64), _>(&mut store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), (145, 1045));
    let direct = i
        .get_typed_func::<(i32, i32, i32, i32, i32, i32, i32, i32, i32, i64), i64, _>(&mut store, "direct")
        .unwrap();
    assert_eq!(direct.call(&mut store, (5, 0, 0, 0, 0, 0, 0, 0, 0, 7)).unwrap(), 12);
}

#[test]
fn typed_func_from_another_store_is_refused() {
    let engine = engine();
    let m = module(&engine, r#"(module (func (export "one") (result i32) (i32.const 1)))"#);
    let mut a = Store::new(&engine, ());
    let i = Instance::new(&mut a, &m, &[]).unwrap();
    let one = i.get_typed_func::<(), i32, _>(&mut a, "one").unwrap();
    let mut b = Store::new(&engine, ());
    assert!(matches!(one.call(&mut b, ()), Err(Error::Usage(_))));
    assert_eq!(one.call(&mut a, ()).unwrap(), 1);
}

#[test]
#[expect(clippy::cast_possible_truncation, reason = "the f32 result is a small integer, exactly representable")]
fn register_passing_with_many_float_and_integer_arguments() {
    let engine = engine();
    // 9 f64 and 7 i64 parameters: more than the argument registers of
    // either class, so some cross on the stack; one f32 result.
    let params = "(param f64 f64 f64 f64 f64 f64 f64 f64 f64 i64 i64 i64 i64 i64 i64 i64)";
    let args = (1..=9).map(|i| format!("(f64.const {i})")).chain((1..=7).map(|i| format!("(i64.const {})", i * 100))).collect::<Vec<_>>().join(" ");
    let wat = format!(
        r#"(module (import "env" "f" (func $f {params} (result f32)))
                   (import "env" "pick" (func $pick (param i32) (result funcref)))
                   (func $g (export "g") (result i32) (i32.const 5))
                   (func (export "run") (result f32) (call $f {args}))
                   (func (export "pick") (param i32) (result funcref) (call $pick (local.get 0)))
                   (elem declare func $g))"#
    );
    let m = module(&engine, &wat);
    let mut store = Store::new(&engine, None::<Func>);
    let mut linker = Linker::<Option<Func>>::new();
    linker.func_wrap(
        "env",
        "f",
        |_: Caller<'_, Option<Func>>,
         a: f64,
         b: f64,
         c: f64,
         d: f64,
         e: f64,
         f: f64,
         g: f64,
         h: f64,
         i: f64,
         k: i64,
         l: i64,
         m: i64,
         n: i64,
         o: i64,
         p: i64,
         q: i64| {
            let floats = a + b * 2.0 + c * 3.0 + d * 4.0 + e * 5.0 + f * 6.0 + g * 7.0 + h * 8.0 + i * 9.0;
            let ints = k + l * 2 + m * 3 + n * 4 + o * 5 + p * 6 + q * 7;
            (floats + ints as f64) as f32
        },
    );
    linker.func_wrap("env", "pick", |c: Caller<'_, Option<Func>>, x: i32| if x == 0 { None } else { *c.data() });
    let i = linker.instantiate(&mut store, &m).unwrap();
    let g = i.get_func(&mut store, "g").unwrap();
    *store.data_mut() = Some(g);
    let run = i.get_typed_func::<(), f32, _>(&mut store, "run").unwrap();
    // sum(k * k) for k = 1..=9 is 285; 100 * sum(k * k) for k = 1..=7 is 14000.
    assert_eq!(run.call(&mut store, ()).unwrap(), 14285.0);
    let pick = i.get_typed_func::<i32, Option<Func>, _>(&mut store, "pick").unwrap();
    assert_eq!(pick.call(&mut store, 0).unwrap(), None);
    assert_eq!(pick.call(&mut store, 1).unwrap(), Some(g));
}
