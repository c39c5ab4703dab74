//! `hypha-run`: run WASI preview 1 commands on the host with Hypha's
//! WebAssembly runtime (`hypha-wasm`) and WASI (`hypha-wasi`).
//!
//! The library holds what the two binaries share: command-line parsing
//! ([`cli`]), setting up a WASI context and running `_start` ([`runner`]),
//! and the wasi-testsuite harness ([`testsuite`]).
//!
//! What it is not: the kernel's loader (the kernel uses `hypha-wasm-wasi`
//! directly with its own backends), nor a benchmark harness
//! (`bench/runtime`).

pub mod cli;
pub mod runner;
pub mod testsuite;
