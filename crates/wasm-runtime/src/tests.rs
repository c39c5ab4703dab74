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
