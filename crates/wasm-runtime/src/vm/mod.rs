//! The runtime underneath the API: memory layout shared with compiled
//! code, store-owned objects, instantiation, libcalls, and trap handling.

pub(crate) mod arch;
pub(crate) mod code;
pub(crate) mod fiber;
pub(crate) mod image;
pub(crate) mod instance;
pub(crate) mod layout;
pub(crate) mod libcalls;
pub(crate) mod memory;
pub(crate) mod registry;
pub(crate) mod spin;
pub(crate) mod store;
pub(crate) mod table;
pub(crate) mod traps;
