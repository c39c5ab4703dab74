//! In-kernel tests of the WebAssembly platform: compiled code runs, traps
//! (out-of-bounds, unreachable, stack overflow on a fiber) come back as
//! `Trap` values with the right code while the kernel keeps running, and
//! `memory.grow` makes pages accessible that are committed on first touch
//! (demand-zero). The modules are encoded by a tiny binary
//! builder below (no text parser in the kernel).

extern crate alloc;

use alloc::vec::Vec;
use core::future::Future as _;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use hypha_wasm::{Error, Instance, MemoryStrategy, Module, Store, TrapCode, Val};

// === a minimal module encoder ===

const I32: u8 = 0x7f;
const F64: u8 = 0x7c;

fn leb(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = u8::try_from(value & 0x7f).unwrap_or(0);
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(out: &mut Vec<u8>, id: u8, items: &[Vec<u8>]) {
    let mut body = Vec::new();
    leb(&mut body, u32::try_from(items.len()).unwrap_or(0));
    for item in items {
        body.extend_from_slice(item);
    }
    out.push(id);
    leb(out, u32::try_from(body.len()).unwrap_or(0));
    out.extend_from_slice(&body);
}

/// A function: its type index, its code (no locals; `end` appended).
struct Function<'a> {
    ty: u32,
    code: &'a [u8],
    export: &'a str,
}

/// `types`: (params, results); `memory`: (minimum, maximum) pages.
fn module(types: &[(&[u8], &[u8])], functions: &[Function<'_>], memory: Option<(u32, Option<u32>)>) -> Vec<u8> {
    module_importing(types, None, functions, memory)
}

/// As [`module`], with function 0 imported as `env.host` of type `import`
/// (the defined functions follow it in the index space).
fn module_importing(
    types: &[(&[u8], &[u8])],
    import: Option<u32>,
    functions: &[Function<'_>],
    memory: Option<(u32, Option<u32>)>,
) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    let types: Vec<Vec<u8>> = types
        .iter()
        .map(|(params, results)| {
            let mut t = alloc::vec![0x60];
            leb(&mut t, u32::try_from(params.len()).unwrap_or(0));
            t.extend_from_slice(params);
            leb(&mut t, u32::try_from(results.len()).unwrap_or(0));
            t.extend_from_slice(results);
            t
        })
        .collect();
    section(&mut out, 1, &types);
    if let Some(ty) = import {
        let mut i = alloc::vec![3];
        i.extend_from_slice(b"env");
        i.push(4);
        i.extend_from_slice(b"host");
        i.push(0);
        leb(&mut i, ty);
        section(&mut out, 2, &[i]);
    }
    let first = u32::from(import.is_some());
    let indices: Vec<Vec<u8>> = functions
        .iter()
        .map(|f| {
            let mut v = Vec::new();
            leb(&mut v, f.ty);
            v
        })
        .collect();
    section(&mut out, 3, &indices);
    if let Some((minimum, maximum)) = memory {
        let mut m = Vec::new();
        match maximum {
            Some(maximum) => {
                m.push(1);
                leb(&mut m, minimum);
                leb(&mut m, maximum);
            }
            None => {
                m.push(0);
                leb(&mut m, minimum);
            }
        }
        section(&mut out, 5, &[m]);
    }
    let mut exports: Vec<Vec<u8>> = functions
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let mut e = Vec::new();
            leb(&mut e, u32::try_from(f.export.len()).unwrap_or(0));
            e.extend_from_slice(f.export.as_bytes());
            e.push(0);
            leb(&mut e, first + u32::try_from(index).unwrap_or(0));
            e
        })
        .collect();
    if memory.is_some() {
        // (export "memory" (memory 0))
        exports.push(alloc::vec![6, b'm', b'e', b'm', b'o', b'r', b'y', 2, 0]);
    }
    section(&mut out, 7, &exports);
    let bodies: Vec<Vec<u8>> = functions
        .iter()
        .map(|f| {
            let mut body = alloc::vec![0];
            body.extend_from_slice(f.code);
            body.push(0x0b);
            let mut sized = Vec::new();
            leb(&mut sized, u32::try_from(body.len()).unwrap_or(0));
            sized.extend_from_slice(&body);
            sized
        })
        .collect();
    section(&mut out, 10, &bodies);
    out
}

/// `body` on a big kernel stack (compiling needs more than a hart stack).
fn big(body: impl FnOnce()) {
    super::on_big_stack(super::BIG_STACK, body).expect("a big kernel stack");
}

fn instantiate(strategy: Option<MemoryStrategy>, bytes: &[u8]) -> (Store<()>, Instance) {
    let engine = super::new_engine(strategy).expect("engine");
    let module = Module::new(&engine, bytes).expect("module compiles");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instance");
    (store, instance)
}

fn trap_code(result: Result<impl core::fmt::Debug, Error>) -> TrapCode {
    match result {
        Err(Error::Trap(trap)) => trap.code(),
        other => panic!("expected a trap, got {other:?}"),
    }
}

crate::ktest! {
    fn compiled_function_runs() {
        big(|| {
            let bytes = module(
                &[(&[I32, I32], &[I32]), (&[F64, F64], &[F64])],
                &[
                    Function { ty: 0, code: &[0x20, 0, 0x20, 1, 0x6a], export: "add" },
                    Function { ty: 1, code: &[0x20, 0, 0x20, 1, 0xa2], export: "mul" },
                ],
                None,
            );
            let (mut store, instance) = instantiate(None, &bytes);
            let add = instance.get_typed_func::<(i32, i32), i32, _>(&mut store, "add").expect("add");
            assert_eq!(add.call(&mut store, (2, 40)).expect("add runs"), 42);
            let mul = instance.get_func(&mut store, "mul").expect("mul");
            let mut results = [Val::F64(0)];
            mul.call(&mut store, &[Val::F64(1.5f64.to_bits()), Val::F64(4.0f64.to_bits())], &mut results).expect("mul runs");
            assert_eq!(results[0], Val::F64(6.0f64.to_bits()));
        });
    }
}

crate::ktest! {
    fn out_of_bounds_load_traps_and_the_kernel_continues() {
        big(|| {
            let regions = crate::mem::stats().regions;
            for strategy in [MemoryStrategy::GuardPages, MemoryStrategy::BoundsChecks] {
                let bytes = module(
                    &[(&[I32], &[I32])],
                    &[Function { ty: 0, code: &[0x20, 0, 0x28, 2, 0], export: "load" }],
                    Some((1, None)),
                );
                let (mut store, instance) = instantiate(Some(strategy), &bytes);
                let load = instance.get_typed_func::<i32, i32, _>(&mut store, "load").expect("load");
                assert_eq!(trap_code(load.call(&mut store, 65536)), TrapCode::MemoryOutOfBounds, "{strategy:?}");
                assert_eq!(trap_code(load.call(&mut store, 65533)), TrapCode::MemoryOutOfBounds, "{strategy:?}");
                assert_eq!(trap_code(load.call(&mut store, -1)), TrapCode::MemoryOutOfBounds, "{strategy:?}");
                // The store (and the kernel) carry on.
                assert_eq!(load.call(&mut store, 65532).expect("in bounds"), 0);
            }
            assert_eq!(crate::mem::stats().regions, regions, "every reservation was released");
        });
    }
}

crate::ktest! {
    fn unreachable_traps_with_a_backtrace() {
        big(|| {
            let bytes = module(&[(&[], &[])], &[Function { ty: 0, code: &[0x00], export: "boom" }], None);
            let (mut store, instance) = instantiate(None, &bytes);
            let boom = instance.get_typed_func::<(), (), _>(&mut store, "boom").expect("boom");
            match boom.call(&mut store, ()) {
                Err(Error::Trap(trap)) => {
                    assert_eq!(trap.code(), TrapCode::Unreachable);
                    assert_eq!(trap.backtrace().first().map(|frame| frame.func_index), Some(0));
                }
                other => panic!("expected a trap, got {other:?}"),
            }
            assert_eq!(trap_code(boom.call(&mut store, ())), TrapCode::Unreachable, "and again");
        });
    }
}

crate::ktest! {
    fn stack_overflow_by_recursion_traps_inside_a_fiber() {
        big(|| {
            // (func $f (call $f))
            let bytes = module(&[(&[], &[])], &[Function { ty: 0, code: &[0x10, 0], export: "f" }], None);
            let (mut store, instance) = instantiate(None, &bytes);
            let f = instance.get_func(&mut store, "f").expect("f");
            // Synchronously, on this (big) fiber stack.
            assert_eq!(trap_code(f.call(&mut store, &[], &mut [])), TrapCode::StackOverflow);
            // Asynchronously, on the runtime's own guard-paged fiber stack
            // (allocated through the kernel platform).
            let mut results = [];
            let mut call = pin!(f.call_async(&mut store, &[], &mut results));
            let mut cx = Context::from_waker(Waker::noop());
            let outcome = loop {
                if let Poll::Ready(outcome) = call.as_mut().poll(&mut cx) {
                    break outcome;
                }
            };
            assert_eq!(trap_code(outcome), TrapCode::StackOverflow);
        });
    }
}

crate::ktest! {
    fn memory_grow_commits_zeroed_pages() {
        big(|| {
            let bytes = module(
                &[(&[I32], &[I32]), (&[I32, I32], &[])],
                &[
                    Function { ty: 0, code: &[0x20, 0, 0x40, 0], export: "grow" },
                    Function { ty: 0, code: &[0x20, 0, 0x28, 2, 0], export: "load" },
                    Function { ty: 1, code: &[0x20, 0, 0x20, 1, 0x36, 2, 0], export: "store" },
                ],
                Some((1, Some(3))),
            );
            let (mut store, instance) = instantiate(None, &bytes);
            let grow = instance.get_typed_func::<i32, i32, _>(&mut store, "grow").expect("grow");
            let load = instance.get_typed_func::<i32, i32, _>(&mut store, "load").expect("load");
            let poke = instance.get_typed_func::<(i32, i32), (), _>(&mut store, "store").expect("store");
            assert_eq!(trap_code(load.call(&mut store, 65536 + 100)), TrapCode::MemoryOutOfBounds);
            assert_eq!(grow.call(&mut store, 1).expect("grow"), 1);
            assert_eq!(load.call(&mut store, 65536 + 100).expect("new page"), 0, "fresh pages read zero");
            poke.call(&mut store, (65536 + 100, 7)).expect("store");
            assert_eq!(load.call(&mut store, 65536 + 100).expect("load"), 7);
            assert_eq!(grow.call(&mut store, 1).expect("grow"), 2);
            assert_eq!(grow.call(&mut store, 1).expect("grow past the maximum"), -1);
            assert_eq!(load.call(&mut store, 3 * 65536 - 4).expect("last word"), 0);
            assert_eq!(trap_code(load.call(&mut store, 3 * 65536)), TrapCode::MemoryOutOfBounds);
        });
    }
}

crate::ktest! {
    fn a_kernel_fault_during_a_wasm_call_is_not_a_wasm_trap() {
        use core::sync::atomic::{AtomicBool, Ordering};
        static CAUGHT: AtomicBool = AtomicBool::new(false);
        big(|| {
            // (import "env" "host" (func)) (func (export "run") call 0)
            let bytes = module_importing(&[(&[], &[])], Some(0), &[Function { ty: 0, code: &[0x10, 0], export: "run" }], None);
            let engine = super::new_engine(None).expect("engine");
            let module = Module::new(&engine, &bytes).expect("module compiles");
            let mut store = Store::new(&engine, ());
            let host = hypha_wasm::Func::new(&mut store, hypha_wasm::FuncType::new([], []), |_, _, _| {
                // Kernel code (not compiled wasm) faults while this hart
                // has a wasm activation: the wasm hook must leave it to
                // the kernel (here: the recovery point).
                let fault = crate::trap::catch_fault(|| {
                    let address = core::ptr::with_exposed_provenance::<u64>(0x1000);
                    // SAFETY: deliberately reads an unmapped lower-half
                    // address; the fault is caught by `catch_fault`.
                    let _ = unsafe { address.read_volatile() };
                });
                CAUGHT.store(fault.is_err(), Ordering::Release);
                Ok(())
            })
            .expect("host function");
            let instance = Instance::new(&mut store, &module, &[host.into()]).expect("instance");
            let run = instance.get_typed_func::<(), (), _>(&mut store, "run").expect("run");
            run.call(&mut store, ()).expect("the call returns normally, not as a trap");
            assert!(CAUGHT.load(Ordering::Acquire), "the kernel's recovery point saw the fault");
        });
    }
}

/// Bytes of the instance's exported memory that are committed (backed by
/// frames), from the kernel's demand-zero bookkeeping.
fn committed(store: &mut Store<()>, instance: &Instance) -> usize {
    let memory = instance.get_memory(store, "memory").expect("memory export");
    let base = memory.data(store).expect("memory data").as_ptr().addr();
    crate::mem::demand_usage(base).expect("the memory is a demand-zero area").1
}

crate::ktest! {
    fn memory_grow_commits_only_touched_pages() {
        big(|| {
            for strategy in [MemoryStrategy::GuardPages, MemoryStrategy::BoundsChecks] {
                let bytes = module(
                    &[(&[I32], &[I32]), (&[I32, I32], &[])],
                    &[
                        Function { ty: 0, code: &[0x20, 0, 0x40, 0], export: "grow" },
                        Function { ty: 0, code: &[0x20, 0, 0x28, 2, 0], export: "load" },
                        Function { ty: 1, code: &[0x20, 0, 0x20, 1, 0x36, 2, 0], export: "store" },
                    ],
                    Some((1, Some(1024))),
                );
                let (mut store, instance) = instantiate(Some(strategy), &bytes);
                let grow = instance.get_typed_func::<i32, i32, _>(&mut store, "grow").expect("grow");
                let load = instance.get_typed_func::<i32, i32, _>(&mut store, "load").expect("load");
                let poke = instance.get_typed_func::<(i32, i32), (), _>(&mut store, "store").expect("store");
                assert_eq!(committed(&mut store, &instance), 0, "{strategy:?}: instantiating touched nothing");
                let frames = crate::mem::stats().frames_free;
                // 512 more wasm pages: 32 MiB accessible, nothing committed.
                assert_eq!(grow.call(&mut store, 512).expect("grow"), 1);
                assert_eq!(committed(&mut store, &instance), 0, "{strategy:?}: grow commits nothing");
                assert!(frames - crate::mem::stats().frames_free < 4, "{strategy:?}: grow took no data frames");
                // Three stores in three pages far apart, then a load from an
                // untouched page: four frames, the fresh page reads zero.
                for address in [100, 200 * 65536 + 8, 513 * 65536 - 4] {
                    poke.call(&mut store, (address, 0x5a5a)).expect("store");
                    assert_eq!(load.call(&mut store, address).expect("load back"), 0x5a5a);
                }
                assert_eq!(load.call(&mut store, 300 * 65536 + 12).expect("fresh page"), 0, "{strategy:?}: reads zero");
                assert_eq!(committed(&mut store, &instance), 4 * hypha_kmem::PAGE_SIZE, "{strategy:?}: only touched pages");
                // Beyond the accessible size it is still a trap.
                assert_eq!(trap_code(load.call(&mut store, 513 * 65536)), TrapCode::MemoryOutOfBounds, "{strategy:?}");
                assert_eq!(trap_code(poke.call(&mut store, (600 * 65536, 1))), TrapCode::MemoryOutOfBounds, "{strategy:?}");
                assert_eq!(committed(&mut store, &instance), 4 * hypha_kmem::PAGE_SIZE, "{strategy:?}: traps commit nothing");
            }
        });
    }
}
