//! Architecture-specific parts of the kernel; only riscv64 exists.

mod riscv64;

pub use riscv64::*;
