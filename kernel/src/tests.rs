//! In-kernel tests of the kernel core (traps, timers, IPIs, boot handoff).
//! Compiled only with the `ktest` feature.

mod boot;
mod harness;
mod interrupts;
mod traps;
