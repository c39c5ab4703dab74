//! The runtime's error type: everything that can go wrong before or around
//! running guest code. Guest faults while running are [`Trap`]s.

use alloc::string::String;
use core::fmt;

use crate::trap::Trap;

/// Why a runtime operation failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The module bytes are not well-formed or do not validate.
    Invalid {
        /// Byte offset in the module where the problem was found.
        offset: usize,
        /// What the validator said.
        message: String,
    },
    /// The module uses something this runtime does not implement (yet).
    Unsupported(String),
    /// Cranelift failed to compile a function (a runtime bug or an
    /// implementation limit, never the guest's fault once validated).
    Compile(String),
    /// An import could not be resolved or had the wrong type.
    Link(String),
    /// A store or engine resource limit was hit (memory reservation, table size...).
    Resource(String),
    /// The guest trapped (during instantiation or a call).
    Trap(Trap),
    /// An API misuse by the embedder: wrong argument count or types,
    /// an object from another store, and the like.
    Usage(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid { offset, message } => {
                write!(f, "invalid module at offset {offset:#x}: {message}")
            }
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Compile(m) => write!(f, "compilation failed: {m}"),
            Error::Link(m) => write!(f, "link error: {m}"),
            Error::Resource(m) => write!(f, "resource limit: {m}"),
            Error::Trap(t) => write!(f, "{t}"),
            Error::Usage(m) => write!(f, "usage error: {m}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<Trap> for Error {
    fn from(t: Trap) -> Self {
        Error::Trap(t)
    }
}

impl From<wasmparser::BinaryReaderError> for Error {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        Error::Invalid { offset: e.offset(), message: String::from(e.message()) }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
