//! Memory images: data segments laid out once per module and mapped
//! copy-on-write into each instance must behave exactly like copying the
//! segments: contents, privacy between instances, segments that cannot
//! use an image, and segment order.

use hypha_wasm::{Config, Engine, Error, Extern, Global, GlobalType, Instance, Module, MemoryStrategy, Store, Val, ValType};

fn module(engine: &Engine, wat: &str) -> Module {
    Module::new(engine, &wat::parse_str(wat).unwrap()).unwrap()
}

const DATA: &str = r#"(module
  (memory (export "mem") 2)
  (data (i32.const 70000) "hello")
  (data (i32.const 65536) "AB")
  (data (i32.const 65537) "xy")
  (data (i32.const 131067) "end!!")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))"#;

fn check_instances(strategy: MemoryStrategy) {
    let engine = Engine::host(Config { memory_strategy: strategy, ..Config::default() }).unwrap();
    let m = module(&engine, DATA);
    let mut store = Store::new(&engine, ());
    let a = Instance::new(&mut store, &m, &[]).unwrap();
    let b = Instance::new(&mut store, &m, &[]).unwrap();
    let load_a = a.get_typed_func::<i32, i32, _>(&mut store, "load8").unwrap();
    let load_b = b.get_typed_func::<i32, i32, _>(&mut store, "load8").unwrap();
    let store_a = a.get_typed_func::<(i32, i32), (), _>(&mut store, "store8").unwrap();
    // Later segments overwrite earlier ones; gaps and the rest are zero.
    for (addr, byte) in [(65536, b'A'), (65537, b'x'), (65538, b'y'), (70000, b'h'), (70004, b'o'), (131071, b'!'), (0, 0), (65535, 0), (70005, 0)] {
        assert_eq!(load_a.call(&mut store, addr).unwrap(), i32::from(byte), "at {addr}");
    }
    // Writes stay private to their instance.
    store_a.call(&mut store, (70000, i32::from(b'J'))).unwrap();
    store_a.call(&mut store, (100, 7)).unwrap();
    assert_eq!(load_a.call(&mut store, 70000).unwrap(), i32::from(b'J'));
    assert_eq!(load_b.call(&mut store, 70000).unwrap(), i32::from(b'h'));
    assert_eq!(load_b.call(&mut store, 100).unwrap(), 0);
    // A new store starts from the image again.
    let mut other = Store::new(&engine, ());
    let c = Instance::new(&mut other, &m, &[]).unwrap();
    let load_c = c.get_typed_func::<i32, i32, _>(&mut other, "load8").unwrap();
    assert_eq!(load_c.call(&mut other, 70000).unwrap(), i32::from(b'h'));
    // The memory export sees the same bytes.
    let mem = c.get_memory(&mut other, "mem").unwrap();
    assert_eq!(&mem.data(&other).unwrap()[70000..70005], b"hello");
}

#[test]
fn image_contents_and_privacy_with_guard_pages() {
    check_instances(MemoryStrategy::GuardPages);
}

#[test]
fn image_contents_and_privacy_with_bounds_checks() {
    check_instances(MemoryStrategy::BoundsChecks);
}

#[test]
fn segments_with_global_offsets_are_still_copied() {
    let engine = Engine::host(Config::default()).unwrap();
    let m = module(
        &engine,
        r#"(module
          (import "env" "base" (global $base i32))
          (memory (export "mem") 1)
          (data (global.get $base) "dyn")
          (data (i32.const 10) "fixed"))"#,
    );
    let mut store = Store::new(&engine, ());
    let base = Global::new(&mut store, GlobalType { content: ValType::I32, mutable: false }, Val::I32(200)).unwrap();
    let i = Instance::new(&mut store, &m, &[Extern::Global(base)]).unwrap();
    let mem = i.get_memory(&mut store, "mem").unwrap();
    let data = mem.data(&store).unwrap();
    assert_eq!(&data[200..203], b"dyn");
    assert_eq!(&data[10..15], b"fixed");
}

#[test]
fn out_of_bounds_segment_traps_after_earlier_segments_were_written() {
    let engine = Engine::host(Config::default()).unwrap();
    let shared = module(&engine, r#"(module (memory (export "mem") 1))"#);
    let mut store = Store::new(&engine, ());
    let s = Instance::new(&mut store, &shared, &[]).unwrap();
    let mem = s.get_export(&mut store, "mem").unwrap();
    // Imported memory: no image; the first segment lands, the second traps.
    let m = module(
        &engine,
        r#"(module (import "env" "mem" (memory 1))
                   (data (i32.const 0) "ok")
                   (data (i32.const 65535) "too long"))"#,
    );
    assert!(matches!(Instance::new(&mut store, &m, &[mem]), Err(Error::Trap(_))));
    let mem = s.get_memory(&mut store, "mem").unwrap();
    assert_eq!(&mem.data(&store).unwrap()[0..2], b"ok");
    // A defined memory whose segment does not fit: no image, same trap.
    let m = module(&engine, r#"(module (memory 1) (data (i32.const 65530) "too long"))"#);
    assert!(matches!(Instance::new(&mut store, &m, &[]), Err(Error::Trap(_))));
}

#[test]
fn memory_init_of_active_segment_sees_it_dropped() {
    let engine = Engine::host(Config::default()).unwrap();
    // memory.init of an active (already applied, so dropped) segment with
    // length 0 at offset 0 is fine, any other length traps.
    let m = module(
        &engine,
        r#"(module (memory 1) (data $d (i32.const 0) "abc")
             (func (export "init") (param i32) (memory.init $d (i32.const 0) (i32.const 0) (local.get 0))))"#,
    );
    let mut store = Store::new(&engine, ());
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let init = i.get_typed_func::<i32, (), _>(&mut store, "init").unwrap();
    init.call(&mut store, 0).unwrap();
    assert!(matches!(init.call(&mut store, 1), Err(Error::Trap(_))));
}

const REUSE: &str = r#"(module
  (memory (export "mem") 2 4)
  (data (i32.const 65536) "image")
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))"#;

/// Instantiate, write inside and outside the image, grow, write there;
/// drop the store. Returns where the memory was.
fn dirty_and_drop(engine: &Engine, m: &Module) -> usize {
    let mut store = Store::new(engine, ());
    let i = Instance::new(&mut store, m, &[]).unwrap();
    let base = i.get_memory(&mut store, "mem").unwrap().data(&store).unwrap().as_ptr() as usize;
    let store8 = i.get_typed_func::<(i32, i32), (), _>(&mut store, "store8").unwrap();
    let grow = i.get_typed_func::<i32, i32, _>(&mut store, "grow").unwrap();
    store8.call(&mut store, (65536, i32::from(b'X'))).unwrap();
    store8.call(&mut store, (5, 9)).unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 2);
    store8.call(&mut store, (3 * 65536 + 7, 42)).unwrap();
    base
}

fn check_reuse(strategy: MemoryStrategy) {
    let engine = Engine::host(Config { memory_strategy: strategy, ..Config::default() }).unwrap();
    let m = module(&engine, REUSE);
    // Several rounds: every new instance (on reused reservations after
    // the first) starts from the module's initial memory.
    for _ in 0..6 {
        let old = dirty_and_drop(&engine, &m);
        let mut store = Store::new(&engine, ());
        let i = Instance::new(&mut store, &m, &[]).unwrap();
        // The host platform can reset memories: the reservation is reused.
        assert_eq!(i.get_memory(&mut store, "mem").unwrap().data(&store).unwrap().as_ptr() as usize, old);
        let load8 = i.get_typed_func::<i32, i32, _>(&mut store, "load8").unwrap();
        let size = i.get_typed_func::<(), i32, _>(&mut store, "size").unwrap();
        assert_eq!(size.call(&mut store, ()).unwrap(), 2);
        assert_eq!(load8.call(&mut store, 65536).unwrap(), i32::from(b'i'));
        assert_eq!(load8.call(&mut store, 5).unwrap(), 0);
        // The pages the last instance grew into are out of bounds again.
        assert!(matches!(load8.call(&mut store, 3 * 65536 + 7), Err(Error::Trap(_))));
        let grow = i.get_typed_func::<i32, i32, _>(&mut store, "grow").unwrap();
        assert_eq!(grow.call(&mut store, 2).unwrap(), 2);
        assert_eq!(load8.call(&mut store, 3 * 65536 + 7).unwrap(), 0);
    }
}

#[test]
fn reused_memories_start_fresh_with_guard_pages() {
    check_reuse(MemoryStrategy::GuardPages);
}

#[test]
fn reused_memories_start_fresh_with_bounds_checks() {
    check_reuse(MemoryStrategy::BoundsChecks);
}

#[test]
fn stores_with_a_lower_memory_limit_do_not_reuse_bigger_reservations() {
    let engine = Engine::host(Config { memory_strategy: MemoryStrategy::BoundsChecks, ..Config::default() }).unwrap();
    let m = module(&engine, REUSE);
    let _ = dirty_and_drop(&engine, &m);
    let mut store = Store::new(&engine, ());
    store.set_memory_limit_pages(3);
    let i = Instance::new(&mut store, &m, &[]).unwrap();
    let grow = i.get_typed_func::<i32, i32, _>(&mut store, "grow").unwrap();
    let load8 = i.get_typed_func::<i32, i32, _>(&mut store, "load8").unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 1).unwrap(), 2);
    assert!(matches!(load8.call(&mut store, 3 * 65536), Err(Error::Trap(_))));
}
