//! Running one `.wast` file: every directive is one command.
//!
//! Execution goes through `hypha_wasm_script` (convert, then run): the
//! host and the kernel share one set of assertions. Compile-only mode (for
//! another target's backend) walks the `.wast` directly.

use hypha_wasm::Engine;
use wast::parser::{self, ParseBuffer};
use wast::{QuoteWat, Wast, WastDirective, WastExecute};

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

/// Only compiles the modules of a file (for another target).
struct CompileOnly<'e> {
    engine: &'e Engine,
}

impl CompileOnly<'_> {
    fn directive(&self, d: WastDirective<'_>) -> Option<Result<(), String>> {
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

/// Run one file: executed through the shared script runner
/// (`hypha_wasm_script`: the `.wast` is converted to a script, exactly as
/// for the kernel, and run with the same assertions), or only compiled.
pub fn run_file(mode: &Mode, suite: &str, name: &str, src: &str) -> FileResult {
    match mode {
        Mode::Execute(engine) => {
            let file = hypha_wasm_script::convert::convert_file(suite, name, src);
            let r = hypha_wasm_script::run_file(engine, &file);
            FileResult { passed: r.passed, total: r.total, failures: r.failures }
        }
        Mode::CompileOnly(engine) => compile_file(engine, src),
    }
}

fn compile_file(engine: &Engine, src: &str) -> FileResult {
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
    let compiler = CompileOnly { engine };
    for d in wast.directives {
        let (line, col) = d.span().linecol_in(src);
        let Some(outcome) = compiler.directive(d) else { continue };
        result.total += 1;
        match outcome {
            Ok(()) => result.passed += 1,
            Err(msg) => result.failures.push(format!("{}:{}: {msg}", line + 1, col + 1)),
        }
    }
    result
}
