//! Device drivers: memory-mapped registers reached through the physical
//! memory map.

#[cfg(feature = "ktest")]
pub mod fw_cfg;
pub mod plic;
pub mod sifive_test;
pub mod uart16550;
