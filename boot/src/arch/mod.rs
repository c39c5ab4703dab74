//! Architecture-specific parts of the loader; only riscv64 exists.

mod riscv64;

pub use riscv64::*;
