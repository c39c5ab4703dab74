//! Running a [`File`] against a `hypha-wasm` [`Engine`]: every command is
//! one check, with the same assertions as the host's `.wast` runner
//! (`hypha-wasm-spec`): NaN patterns, v128 lanes, trap messages, the
//! error kind of invalid/malformed/unlinkable modules.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use hypha_wasm::{
    Engine, Error, ExternRef, Func, FuncType, Global, GlobalType, Instance, Linker, Memory, MemoryType, Module,
    RefType, Store, Table, TableType, TrapCode, Val, ValType,
};

use crate::format::{Action, CommandKind, Expected, File, FloatPattern, V128Pattern, Value};

/// Outcome of one file.
#[derive(Debug, Default, Clone)]
pub struct FileResult {
    /// Commands that passed.
    pub passed: usize,
    /// Commands run.
    pub total: usize,
    /// `line: message` of each failure.
    pub failures: Vec<String>,
}

struct Runner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    named: BTreeMap<String, Instance>,
    definitions: BTreeMap<String, Module>,
    current: Option<Instance>,
}

/// Defines the `spectest` module every spec file may import from (the
/// host runner `hypha-wasm-spec` uses the same definitions).
///
/// # Errors
///
/// When the store refuses to create one of its globals, table or memory.
pub fn spectest(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), Error> {
    let prints: [(&str, &[ValType]); 7] = [
        ("print", &[]),
        ("print_i32", &[ValType::I32]),
        ("print_i64", &[ValType::I64]),
        ("print_f32", &[ValType::F32]),
        ("print_f64", &[ValType::F64]),
        ("print_i32_f32", &[ValType::I32, ValType::F32]),
        ("print_f64_f64", &[ValType::F64, ValType::F64]),
    ];
    for (name, params) in prints {
        let f = Func::new(store, FuncType::new(params.iter().copied(), []), |_, _, _| Ok(()))?;
        linker.define("spectest", name, f);
    }
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, v) in globals {
        let g = Global::new(store, GlobalType { content: ty, mutable: false }, v)?;
        linker.define("spectest", name, g);
    }
    let table = Table::new(store, TableType { element: RefType::FUNCREF, minimum: 10, maximum: Some(20) }, Val::FuncRef(None))?;
    linker.define("spectest", "table", table);
    let memory = Memory::new(store, MemoryType { minimum: 1, maximum: Some(2) })?;
    linker.define("spectest", "memory", memory);
    Ok(())
}

type Outcome = Result<Result<Vec<Val>, Error>, String>;

impl Runner {
    fn new(engine: &Engine) -> Result<Self, Error> {
        let mut store = Store::new(engine, ());
        if engine.config().consume_fuel {
            store.set_fuel(1 << 60)?;
        }
        store.set_epoch_deadline(1 << 40);
        let mut linker = Linker::new();
        spectest(&mut store, &mut linker)?;
        Ok(Runner {
            engine: engine.clone(),
            store,
            linker,
            named: BTreeMap::new(),
            definitions: BTreeMap::new(),
            current: None,
        })
    }

    fn instance(&self, name: Option<&str>) -> Result<Instance, String> {
        match name {
            Some(name) => self.named.get(name).copied().ok_or_else(|| format!("unknown module ${name}")),
            None => self.current.ok_or_else(|| "no current module".to_string()),
        }
    }

    fn instantiate(&mut self, bytes: &[u8]) -> Result<Instance, Error> {
        let module = Module::new(&self.engine, bytes)?;
        self.linker.instantiate(&mut self.store, &module)
    }

    fn value(&mut self, v: &Value) -> Val {
        match *v {
            Value::I32(x) => Val::I32(x),
            Value::I64(x) => Val::I64(x),
            Value::F32(x) => Val::F32(x),
            Value::F64(x) => Val::F64(x),
            Value::V128(x) => Val::V128(x),
            Value::NullFuncRef => Val::FuncRef(None),
            Value::NullExternRef => Val::ExternRef(None),
            Value::ExternRef(n) => Val::ExternRef(Some(ExternRef::new(&mut self.store, n))),
        }
    }

    fn execute(&mut self, action: &Action) -> Outcome {
        match action {
            Action::Invoke { module, name, args } => {
                let instance = self.instance(module.as_deref())?;
                let func = instance.get_func(&mut self.store, name).ok_or_else(|| format!("no export `{name}`"))?;
                let ty = func.ty(&self.store).map_err(|e| e.to_string())?;
                let args: Vec<Val> = args.iter().map(|a| self.value(a)).collect();
                let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
                Ok(func.call(&mut self.store, &args, &mut results).map(|()| results))
            }
            Action::Get { module, name } => {
                let instance = self.instance(module.as_deref())?;
                let g = instance.get_global(&mut self.store, name).ok_or_else(|| format!("no global `{name}`"))?;
                Ok(Ok(alloc::vec![g.get(&self.store).map_err(|e| e.to_string())?]))
            }
            Action::Instantiate { bytes } => Ok(self.instantiate(bytes).map(|_| Vec::new())),
        }
    }

    fn command(&mut self, kind: &CommandKind) -> Result<(), String> {
        match kind {
            CommandKind::Module { name, bytes } => {
                let instance = self.instantiate(bytes).map_err(|e| format!("module failed: {e}"))?;
                if let Some(n) = name {
                    self.named.insert(n.clone(), instance);
                }
                self.current = Some(instance);
                Ok(())
            }
            CommandKind::ModuleDefinition { name, bytes } => {
                let module = Module::new(&self.engine, bytes).map_err(|e| format!("module failed: {e}"))?;
                if let Some(n) = name {
                    self.definitions.insert(n.clone(), module);
                }
                Ok(())
            }
            CommandKind::ModuleInstance { instance, module } => {
                let m = module
                    .as_ref()
                    .and_then(|m| self.definitions.get(m).cloned())
                    .ok_or_else(|| "unknown module definition".to_string())?;
                let i = self.linker.instantiate(&mut self.store, &m).map_err(|e| format!("instantiation failed: {e}"))?;
                if let Some(n) = instance {
                    self.named.insert(n.clone(), i);
                }
                self.current = Some(i);
                Ok(())
            }
            CommandKind::Register { as_name, module } => {
                let instance = self.instance(module.as_deref())?;
                self.linker.instance(&mut self.store, as_name, instance);
                Ok(())
            }
            CommandKind::Action(action) => self.execute(action)?.map(|_| ()).map_err(|e| format!("invoke failed: {e}")),
            CommandKind::AssertReturn { action, results } => {
                let got = self.execute(action)?.map_err(|e| format!("expected return, got error: {e}"))?;
                if got.len() != results.len() {
                    return Err(format!("expected {} results, got {}", results.len(), got.len()));
                }
                for (i, (v, e)) in got.iter().zip(results).enumerate() {
                    if !matches(&self.store, v, e) {
                        return Err(format!("result {i}: got {v:?}, expected {e:?}"));
                    }
                }
                Ok(())
            }
            CommandKind::AssertTrap { action, message } => match self.execute(action)? {
                Ok(v) => Err(format!("expected trap `{message}`, got {v:?}")),
                Err(Error::Trap(t)) => {
                    let actual = t.to_string();
                    let first = actual.lines().next().unwrap_or("");
                    if first.contains(message.as_str()) || message.starts_with(first) {
                        Ok(())
                    } else {
                        Err(format!("expected trap `{message}`, got `{first}`"))
                    }
                }
                Err(e) => Err(format!("expected trap `{message}`, got error {e}")),
            },
            CommandKind::AssertExhaustion { action, message } => match self.execute(action)? {
                Err(Error::Trap(t)) if t.code() == TrapCode::StackOverflow => Ok(()),
                other => Err(format!("expected `{message}`, got {other:?}")),
            },
            CommandKind::AssertInvalid { bytes, message } | CommandKind::AssertMalformed { bytes, message } => {
                match Module::new(&self.engine, bytes) {
                    Ok(_) => Err(format!("expected invalid/malformed module `{message}`, but it compiled")),
                    Err(Error::Invalid { .. }) => Ok(()),
                    Err(e) => Err(format!("expected invalid module `{message}`, got other error: {e}")),
                }
            }
            // Checked by the converter on the host: the text does not parse.
            CommandKind::MalformedText { .. } => Ok(()),
            CommandKind::AssertUnlinkable { bytes, message } => match self.instantiate(bytes) {
                Ok(_) => Err(format!("expected unlinkable `{message}`, but it linked")),
                Err(Error::Link(_)) => Ok(()),
                Err(e) => Err(format!("expected link error `{message}`, got {e}")),
            },
            CommandKind::Unsupported { reason } => Err(reason.clone()),
        }
    }
}

fn f32_matches(bits: u32, p: FloatPattern<u32>) -> bool {
    match p {
        FloatPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        FloatPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        FloatPattern::Bits(v) => v == bits,
    }
}

fn f64_matches(bits: u64, p: FloatPattern<u64>) -> bool {
    match p {
        FloatPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        FloatPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        FloatPattern::Bits(v) => v == bits,
    }
}

fn v128_matches(v: u128, p: &V128Pattern) -> bool {
    let bytes = v.to_le_bytes();
    match p {
        V128Pattern::Bits(b) => v == *b,
        V128Pattern::F32x4(lanes) => lanes.iter().enumerate().all(|(i, p)| {
            let mut lane = [0; 4];
            lane.copy_from_slice(&bytes[i * 4..i * 4 + 4]);
            f32_matches(u32::from_le_bytes(lane), *p)
        }),
        V128Pattern::F64x2(lanes) => lanes.iter().enumerate().all(|(i, p)| {
            let mut lane = [0; 8];
            lane.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            f64_matches(u64::from_le_bytes(lane), *p)
        }),
    }
}

/// Whether `v` matches the expectation `e`.
#[must_use]
pub fn matches(store: &Store<()>, v: &Val, e: &Expected) -> bool {
    match (e, v) {
        (Expected::I32(a), Val::I32(b)) => a == b,
        (Expected::I64(a), Val::I64(b)) => a == b,
        (Expected::F32(p), Val::F32(b)) => f32_matches(*b, *p),
        (Expected::F64(p), Val::F64(b)) => f64_matches(*b, *p),
        (Expected::V128(p), Val::V128(b)) => v128_matches(*b, p),
        (Expected::RefNull, Val::FuncRef(None) | Val::ExternRef(None))
        | (Expected::RefFunc, Val::FuncRef(Some(_)))
        | (Expected::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (Expected::RefExtern(Some(n)), Val::ExternRef(Some(r))) => {
            r.data(store).and_then(|d| d.downcast_ref::<u32>()).is_some_and(|d| d == n)
        }
        (Expected::Either(options), _) => options.iter().any(|o| matches(store, v, o)),
        _ => false,
    }
}

/// Runs every command of `file` in a fresh store on `engine`.
#[must_use]
pub fn run_file(engine: &Engine, file: &File) -> FileResult {
    let mut result = FileResult::default();
    let mut runner = match Runner::new(engine) {
        Ok(r) => r,
        Err(e) => {
            result.total = file.commands.len();
            result.failures.push(format!("runner setup failed: {e}"));
            return result;
        }
    };
    for command in &file.commands {
        result.total += 1;
        match runner.command(&command.kind) {
            Ok(()) => result.passed += 1,
            Err(msg) => result.failures.push(format!("{}: {msg}", command.line)),
        }
    }
    result
}

/// The proposals a suite runs with: `core-wasm2` with exactly the Wasm 2.0
/// feature set (so its 2.0-only rejections are checked too, as the host
/// runner does), everything else with the engine's defaults.
#[must_use]
pub fn suite_features(suite: &str) -> hypha_wasm::Features {
    if suite == "core-wasm2" {
        hypha_wasm::Features {
            tail_call: false,
            extended_const: false,
            multi_memory: false,
            function_references: false,
            ..hypha_wasm::Features::default()
        }
    } else {
        hypha_wasm::Features::default()
    }
}
