//! Typed function references across modules: concrete reference types in
//! signatures are compared structurally through the store's canonical
//! signature ids, whatever the type indices in each module.

use hypha_wasm::{Config, Engine, Extern, Instance, Module, Store, Val};

fn engine() -> Engine {
    Engine::host(Config::default()).unwrap()
}

const EXPORTER: &str = r#"(module
  (type $unit (func (result i32)))
  (type $takes (func (param (ref $unit)) (result i32)))
  (func $seven (type $unit) (i32.const 7))
  (func (export "apply") (type $takes) (call_ref $unit (local.get 0)))
  (func (export "seven") (type $unit) (i32.const 7))
  (elem declare func $seven))"#;

#[test]
fn concrete_ref_signatures_link_across_modules_with_other_type_indices() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let a = Module::new(&engine, &wat::parse_str(EXPORTER).unwrap()).unwrap();
    let a = Instance::new(&mut store, &a, &[]).unwrap();
    let apply = a.get_export(&mut store, "apply").unwrap();
    let seven = a.get_func(&mut store, "seven").unwrap();
    // Same structure, types declared in another order (indices differ).
    let importer = r#"(module
      (type $pad (func (param i64)))
      (type $unit (func (result i32)))
      (type $takes (func (param (ref $unit)) (result i32)))
      (import "a" "apply" (func $apply (type $takes)))
      (import "a" "seven" (func $seven (type $unit)))
      (func (export "run") (result i32) (call $apply (ref.func $seven)))
      (elem declare func $seven))"#;
    let b = Module::new(&engine, &wat::parse_str(importer).unwrap()).unwrap();
    let b = Instance::new(&mut store, &b, &[apply, Extern::Func(seven)]).unwrap();
    let run = b.get_func(&mut store, "run").unwrap();
    let mut out = [Val::I32(0)];
    run.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(7));
}

#[test]
fn concrete_ref_signature_mismatch_is_a_link_error() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let a = Module::new(&engine, &wat::parse_str(EXPORTER).unwrap()).unwrap();
    let a = Instance::new(&mut store, &a, &[]).unwrap();
    let apply = a.get_export(&mut store, "apply").unwrap();
    // `(ref $other)` where $other returns i64: a different signature.
    let importer = r#"(module
      (type $other (func (result i64)))
      (type $takes (func (param (ref $other)) (result i32)))
      (import "a" "apply" (func (type $takes))))"#;
    let b = Module::new(&engine, &wat::parse_str(importer).unwrap()).unwrap();
    assert!(Instance::new(&mut store, &b, &[apply]).is_err());
}

#[test]
fn non_null_argument_is_checked_on_dynamic_calls() {
    let engine = engine();
    let mut store = Store::new(&engine, ());
    let a = Module::new(&engine, &wat::parse_str(EXPORTER).unwrap()).unwrap();
    let a = Instance::new(&mut store, &a, &[]).unwrap();
    let apply = a.get_func(&mut store, "apply").unwrap();
    let seven = a.get_func(&mut store, "seven").unwrap();
    let mut out = [Val::I32(0)];
    // null is not a `(ref $unit)`.
    assert!(apply.call(&mut store, &[Val::FuncRef(None)], &mut out).is_err());
    apply.call(&mut store, &[Val::FuncRef(Some(seven))], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(7));
    // A function of another signature is not a `(ref $unit)` either.
    assert!(apply.call(&mut store, &[Val::FuncRef(Some(apply))], &mut out).is_err());
}
