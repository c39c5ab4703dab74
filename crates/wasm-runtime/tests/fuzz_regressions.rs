//! Every input the fuzzer (`crates/wasm-fuzz`) found to crash hypha-wasm,
//! replayed: each module in `tests/fuzz-regressions/` must compile (or be
//! rejected with an error), instantiate and run its exports under fuel on
//! both memory strategies without panicking.

use hypha_wasm::{Config, Engine, Extern, Instance, MemoryStrategy, Module, Store, Val};

fn run(engine: &Engine, wasm: &[u8]) -> Result<(), hypha_wasm::Error> {
    let module = Module::new(engine, wasm)?;
    let mut store = Store::new(engine, ());
    store.set_memory_limit_pages(256);
    store.set_fuel(20_000)?;
    let instance = Instance::new(&mut store, &module, &[])?;
    for (_, export) in instance.exports(&mut store) {
        let Extern::Func(f) = export else { continue };
        let ty = f.ty(&store)?;
        let params: Vec<Val> = ty.params().iter().map(|t| Val::default_for(*t)).collect();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        store.set_fuel(20_000)?;
        // Traps are fine; only panics and crashes are bugs.
        let _ = f.call(&mut store, &params, &mut results);
    }
    Ok(())
}

#[test]
fn fuzz_regressions_do_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "no regression inputs in {}", dir.display());
    for strategy in [MemoryStrategy::GuardPages, MemoryStrategy::BoundsChecks] {
        let engine = Engine::host(Config { memory_strategy: strategy, consume_fuel: true, ..Config::default() }).unwrap();
        for file in &files {
            let wasm = std::fs::read(file).unwrap();
            // These are valid modules: they must compile and instantiate.
            run(&engine, &wasm).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
