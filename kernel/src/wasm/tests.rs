//! In-kernel tests of the WebAssembly platform.
