//! `hypha-wasi-testsuite-spec`: the one reading of the wasi-testsuite's
//! test specifications. A test is `NAME.wasm` plus an optional `NAME.json`
//! in the legacy format (`args`, `env`, `root`, `exit_code`, `stdout`,
//! `stderr`; the output keys are expected prefixes). This crate parses
//! that JSON into a [`Spec`] ([`parse_spec`], refusing what the runners
//! cannot honour with a [`SpecError`]) and lists a suite directory's tests
//! ([`discover`]).
//!
//! Two places use it: the host runner (`crates/run`, the `wasi[host]`
//! suite) and xtask (`xtask/src/kernel/wasi.rs`, which packs the tests for
//! the kernel's `wasi[kernel]` suite). It depends on nothing but
//! `serde_json`, so xtask, built before every `cargo xtask` command, does
//! not link the WebAssembly runtime through it.
//!
//! What it is not: a runner. Running a test and checking what it did stay
//! with the runtime that runs it (`crates/run/src/testsuite.rs` on the
//! host, `kernel/src/wasi_suite.rs` in the kernel), and so does the
//! kernel's JSON-free form of a spec (`xtask`'s `encode_spec`,
//! `kernel/src/wasi_suite/spec.rs`). It does not implement the
//! operation-based spec format either; such specs are refused.

mod discover;
mod spec;

pub use discover::{DiscoverError, TestCase, discover};
pub use spec::{Spec, SpecError, parse_spec};
