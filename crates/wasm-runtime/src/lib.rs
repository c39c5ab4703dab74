//! Hypha's WebAssembly runtime.
//!
//! `no_std` + `alloc`, with a `std` feature providing the host platform.
#![no_std]
