//! Device drivers: memory-mapped registers reached through the physical
//! memory map.

pub mod plic;
pub mod sifive_test;
pub mod uart16550;
