//! [`Trap`]: a WebAssembly trap, with its code and a wasm backtrace.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The reason a guest trapped. Messages match the spec test suite's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapCode {
    /// `unreachable` executed.
    Unreachable,
    /// Signed division overflow or float-to-int conversion out of range.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// Float-to-int conversion of NaN.
    BadConversionToInteger,
    /// Linear memory access out of bounds.
    MemoryOutOfBounds,
    /// Table access out of bounds (`table.get`, `table.init`, ...).
    TableOutOfBounds,
    /// `call_indirect` index past the end of the table.
    UndefinedElement,
    /// `call_indirect` on a null table entry.
    UninitializedElement,
    /// `call_indirect` signature mismatch.
    IndirectCallTypeMismatch,
    /// The wasm stack limit was reached.
    StackOverflow,
    /// A null reference was dereferenced.
    NullReference,
    /// `call_ref` / `return_call_ref` of a null function reference.
    NullFunctionReference,
    /// A host function returned an error.
    Host,
    /// The store's epoch deadline passed and its policy is to trap.
    Interrupt,
    /// The store ran out of fuel.
    OutOfFuel,
}

impl TrapCode {
    /// The message, worded like the spec test suite's expectation.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::NullReference => "null reference",
            TrapCode::NullFunctionReference => "null function reference",
            TrapCode::Host => "host function error",
            TrapCode::Interrupt => "interrupt",
            TrapCode::OutOfFuel => "all fuel consumed",
        }
    }
}

/// One frame of a wasm backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Function index in its module (imports counted).
    pub func_index: u32,
    /// Name from the name section, if any.
    pub func_name: Option<String>,
    /// Offset of the trapping/calling instruction in the compiled function.
    pub code_offset: u32,
}

/// A WebAssembly trap: a code, an optional host message and a backtrace
/// (innermost frame first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    code: TrapCode,
    message: Option<String>,
    backtrace: Vec<FrameInfo>,
    /// Set when a host function ended the guest on purpose (`proc_exit`).
    exit_code: Option<i32>,
}

impl Trap {
    /// A trap with the given code and no backtrace.
    #[must_use]
    pub fn new(code: TrapCode) -> Self {
        Trap { code, message: None, backtrace: Vec::new(), exit_code: None }
    }

    /// A trap raised by a host function, carrying its message.
    #[must_use]
    pub fn host(message: impl Into<String>) -> Self {
        Trap { code: TrapCode::Host, message: Some(message.into()), backtrace: Vec::new(), exit_code: None }
    }

    /// A host function ending the guest with exit status `code` (WASI
    /// `proc_exit`). Unwinds like a trap, but embedders should treat it as a
    /// normal exit: see [`Trap::exit_code`].
    #[must_use]
    pub fn exit(code: i32) -> Self {
        Trap {
            code: TrapCode::Host,
            message: Some(alloc::format!("exited with status {code}")),
            backtrace: Vec::new(),
            exit_code: Some(code),
        }
    }

    /// `Some(code)` if this is not a fault but a requested exit ([`Trap::exit`]).
    #[must_use]
    pub fn exit_code(&self) -> Option<i32> {
        self.exit_code
    }

    /// The trap code.
    #[must_use]
    pub fn code(&self) -> TrapCode {
        self.code
    }

    /// The wasm frames active when the trap happened, innermost first.
    #[must_use]
    pub fn backtrace(&self) -> &[FrameInfo] {
        &self.backtrace
    }

    pub(crate) fn set_backtrace(&mut self, frames: Vec<FrameInfo>) {
        if self.backtrace.is_empty() {
            self.backtrace = frames;
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => f.write_str(m)?,
            None => f.write_str(self.code.message())?,
        }
        for (i, frame) in self.backtrace.iter().enumerate() {
            write!(f, "\n  {i}: func[{}]", frame.func_index)?;
            if let Some(name) = &frame.func_name {
                write!(f, " <{name}>")?;
            }
            write!(f, " @ {:#x}", frame.code_offset)?;
        }
        Ok(())
    }
}

impl core::error::Error for Trap {}
