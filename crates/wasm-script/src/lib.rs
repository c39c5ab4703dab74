//! Spec-test scripts for `hypha-wasm`: the WebAssembly spec suite's
//! `.wast` files converted on the host into a compact binary [`Script`]
//! (modules as binaries plus commands), and the runner that executes a
//! script against an [`Engine`](hypha_wasm::Engine) and applies the
//! assertions: `assert_return` with NaN patterns and v128 lanes,
//! `assert_trap`/`assert_uninstantiable` by message, `assert_exhaustion`,
//! `assert_invalid`/`assert_malformed` (binary; text-only malformed cases
//! are checked by the converter) and `assert_unlinkable`.
//!
//! `no_std` + `alloc`: the kernel runs the same [`run_file`] on riscv64 as
//! the host tests do on x86-64. The converter needs the `wast` crate and
//! is behind the `convert` feature (host only).
//!
//! Not here: finding the suite's files and reporting (xtask, the kernel's
//! spec runner), the runtime itself.
#![no_std]

extern crate alloc;

#[cfg(feature = "convert")]
pub mod convert;
pub mod format;
pub mod run;
#[cfg(feature = "std")]
pub mod suites;

pub use format::{Action, Command, CommandKind, DecodeError, Expected, File, FloatPattern, Script, V128Pattern, Value};
pub use run::{FileResult, matches, run_file, spectest, suite_features};
