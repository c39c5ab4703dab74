//! Running one `.wast` file: every directive is one command.

use std::collections::HashMap;

use hypha_wasm::{Engine, Error, Instance, Linker, Module, Store, TrapCode, Val};
use wast::core::WastRetCore;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet};

/// Outcome of one file.
#[derive(Debug, Default)]
pub struct FileResult {
    pub passed: usize,
    pub total: usize,
    pub failures: Vec<String>,
}

/// What to do with each module.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Instantiate and run everything.
    Execute(Engine),
    /// Only compile modules (for another target).
    CompileOnly(Engine),
}

struct Runner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    named: HashMap<String, Instance>,
    definitions: HashMap<String, Module>,
    current: Option<Instance>,
}

impl Runner {
    fn new(engine: &Engine) -> Result<Self, Error> {
        let mut store = Store::new(engine, ());
        if engine.config().consume_fuel {
            store.set_fuel(1 << 60)?;
        }
        let mut linker = Linker::new();
        hypha_wasm_script::spectest(&mut store, &mut linker)?;
        Ok(Runner {
            engine: engine.clone(),
            store,
            linker,
            named: HashMap::new(),
            definitions: HashMap::new(),
            current: None,
        })
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<Instance, String> {
        match id {
            Some(id) => self.named.get(id.name()).copied().ok_or_else(|| format!("unknown module ${}", id.name())),
            None => self.current.ok_or_else(|| "no current module".to_string()),
        }
    }

    fn instantiate(&mut self, bytes: &[u8]) -> Result<Instance, Error> {
        let module = Module::new(&self.engine, bytes)?;
        self.linker.instantiate(&mut self.store, &module)
    }

    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Result<Vec<Val>, Error>, String> {
        let instance = self.instance(inv.module)?;
        let func = instance.get_func(&mut self.store, inv.name).ok_or_else(|| format!("no export `{}`", inv.name))?;
        let ty = func.ty(&self.store).map_err(|e| e.to_string())?;
        let args = inv.args.iter().map(|a| crate::values::arg(&mut self.store, a)).collect::<Result<Vec<_>, _>>()?;
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        Ok(func.call(&mut self.store, &args, &mut results).map(|()| results))
    }

    fn execute(&mut self, exec: &mut WastExecute<'_>) -> Result<Result<Vec<Val>, Error>, String> {
        match exec {
            WastExecute::Invoke(inv) => self.invoke(inv),
            WastExecute::Wat(wat) => {
                let bytes = wat.encode().map_err(|e| e.to_string())?;
                Ok(self.instantiate(&bytes).map(|_| Vec::new()))
            }
            WastExecute::Get { module, global, .. } => {
                let instance = self.instance(*module)?;
                let g = instance.get_global(&mut self.store, global).ok_or_else(|| format!("no global `{global}`"))?;
                Ok(Ok(vec![g.get(&self.store).map_err(|e| e.to_string())?]))
            }
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Result<(), String> {
        match d {
            WastDirective::Module(mut m) => {
                let name = m.name().map(|n| n.name().to_string());
                let bytes = m.encode().map_err(|e| e.to_string())?;
                let instance = self.instantiate(&bytes).map_err(|e| format!("module failed: {e}"))?;
                if let Some(n) = name {
                    self.named.insert(n, instance);
                }
                self.current = Some(instance);
                Ok(())
            }
            WastDirective::ModuleDefinition(mut m) => {
                let name = m.name().map(|n| n.name().to_string());
                let bytes = m.encode().map_err(|e| e.to_string())?;
                let module = Module::new(&self.engine, &bytes).map_err(|e| format!("module failed: {e}"))?;
                if let Some(n) = name {
                    self.definitions.insert(n, module);
                }
                Ok(())
            }
            WastDirective::ModuleInstance { instance, module, .. } => {
                let m = module
                    .and_then(|m| self.definitions.get(m.name()).cloned())
                    .ok_or_else(|| "unknown module definition".to_string())?;
                let i = self.linker.instantiate(&mut self.store, &m).map_err(|e| format!("instantiation failed: {e}"))?;
                if let Some(n) = instance {
                    self.named.insert(n.name().to_string(), i);
                }
                self.current = Some(i);
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let instance = self.instance(module)?;
                self.linker.instance(&mut self.store, name, instance);
                Ok(())
            }
            WastDirective::Invoke(inv) => self.invoke(&inv)?.map(|_| ()).map_err(|e| format!("invoke failed: {e}")),
            WastDirective::AssertReturn { mut exec, results, .. } => {
                let got = self.execute(&mut exec)?.map_err(|e| format!("expected return, got error: {e}"))?;
                if got.len() != results.len() {
                    return Err(format!("expected {} results, got {}", results.len(), got.len()));
                }
                for (i, (v, e)) in got.iter().zip(&results).enumerate() {
                    if !crate::values::matches(&self.store, v, e)? {
                        return Err(format!("result {i}: got {v:?}, expected {}", describe(e)));
                    }
                }
                Ok(())
            }
            WastDirective::AssertTrap { mut exec, message, .. } => match self.execute(&mut exec)? {
                Ok(v) => Err(format!("expected trap `{message}`, got {v:?}")),
                Err(Error::Trap(t)) => {
                    let actual = t.to_string();
                    let first = actual.lines().next().unwrap_or("");
                    if first.contains(message) || message.starts_with(first) {
                        Ok(())
                    } else {
                        Err(format!("expected trap `{message}`, got `{first}`"))
                    }
                }
                Err(e) => Err(format!("expected trap `{message}`, got error {e}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call)? {
                Err(Error::Trap(t)) if t.code() == TrapCode::StackOverflow => Ok(()),
                other => Err(format!("expected `{message}`, got {other:?}")),
            },
            WastDirective::AssertInvalid { mut module, message, .. }
            | WastDirective::AssertMalformed { mut module, message, .. } => {
                let Ok(bytes) = module.encode() else { return Ok(()) };
                match Module::new(&self.engine, &bytes) {
                    Ok(_) => Err(format!("expected invalid/malformed module `{message}`, but it compiled")),
                    Err(Error::Invalid { .. }) => Ok(()),
                    Err(e) => Err(format!("expected invalid module `{message}`, got other error: {e}")),
                }
            }
            WastDirective::AssertUnlinkable { mut module, message, .. } => {
                let bytes = module.encode().map_err(|e| e.to_string())?;
                match self.instantiate(&bytes) {
                    Ok(_) => Err(format!("expected unlinkable `{message}`, but it linked")),
                    Err(Error::Link(_)) => Ok(()),
                    Err(e) => Err(format!("expected link error `{message}`, got {e}")),
                }
            }
            other => Err(format!("unsupported directive {:?}", std::mem::discriminant(&other))),
        }
    }

    fn compile_only(&mut self, d: WastDirective<'_>) -> Option<Result<(), String>> {
        let mut m = match d {
            WastDirective::Module(m) | WastDirective::ModuleDefinition(m) => m,
            WastDirective::AssertTrap { exec: WastExecute::Wat(w), .. }
            | WastDirective::AssertUnlinkable { module: w, .. } => QuoteWat::Wat(w),
            _ => return None,
        };
        let bytes = match m.encode() {
            Ok(b) => b,
            Err(e) => return Some(Err(e.to_string())),
        };
        Some(self.engine.precompile(&bytes).map(|_| ()).map_err(|e| e.to_string()))
    }
}

fn describe(e: &WastRet<'_>) -> String {
    match e {
        WastRet::Core(WastRetCore::I32(v)) => format!("i32 {v}"),
        WastRet::Core(WastRetCore::I64(v)) => format!("i64 {v}"),
        other => format!("{other:?}"),
    }
}

fn buffer(src: &str) -> Result<ParseBuffer<'_>, wast::Error> {
    let mut lexer = wast::lexer::Lexer::new(src);
    lexer.allow_confusing_unicode(true);
    ParseBuffer::new_with_lexer(lexer)
}

/// Count the commands of a file without running it.
pub fn count(src: &str) -> usize {
    let Ok(buf) = buffer(src) else { return 1 };
    parser::parse::<Wast<'_>>(&buf).map_or(1, |w| w.directives.len())
}

/// Run one file.
pub fn run_file(mode: &Mode, src: &str) -> FileResult {
    let mut result = FileResult::default();
    let buf = match buffer(src) {
        Ok(b) => b,
        Err(e) => {
            result.total = 1;
            result.failures.push(format!("lex error: {e}"));
            return result;
        }
    };
    let wast = match parser::parse::<Wast<'_>>(&buf) {
        Ok(w) => w,
        Err(e) => {
            result.total = 1;
            result.failures.push(format!("parse error: {e}"));
            return result;
        }
    };
    let engine = match mode {
        Mode::Execute(e) | Mode::CompileOnly(e) => e,
    };
    let mut runner = match Runner::new(engine) {
        Ok(r) => r,
        Err(e) => {
            result.total = wast.directives.len();
            result.failures.push(format!("runner setup failed: {e}"));
            return result;
        }
    };
    for d in wast.directives {
        let (line, col) = d.span().linecol_in(src);
        let outcome = match mode {
            Mode::Execute(_) => Some(runner.directive(d)),
            Mode::CompileOnly(_) => runner.compile_only(d),
        };
        let Some(outcome) = outcome else { continue };
        result.total += 1;
        match outcome {
            Ok(()) => result.passed += 1,
            Err(msg) => result.failures.push(format!("{}:{}: {msg}", line + 1, col + 1)),
        }
    }
    result
}
