//! Tasks, run queues and timers for the Hypha kernel.
//!
//! `no_std` + `alloc`; every test here runs on the host.
#![no_std]
