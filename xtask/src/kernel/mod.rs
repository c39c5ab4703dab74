//! Building the loader + kernel image, booting it in QEMU, and reading the
//! in-kernel test results.

use crate::suite::SuiteResult;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Options of `cargo xtask run`.
#[derive(Debug, Clone)]
pub(crate) struct RunOptions {
    pub release: bool,
    pub cpus: u32,
    pub memory: String,
    pub gdb: bool,
    pub bootargs: Vec<String>,
    /// Extra WebAssembly programs to put in `/bin` (`--add`).
    pub extra_programs: Vec<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { release: false, cpus: 4, memory: "512M".to_owned(), gdb: false, bootargs: Vec::new(), extra_programs: Vec::new() }
    }
}

/// Builds and boots Hypha interactively.
pub(crate) fn run(_options: &RunOptions) -> Result<()> {
    let _qemu = crate::qemu::ensure()?;
    bail!("the kernel image is not built yet (foundation in progress)")
}

/// Builds the kernel in test mode, boots it and collects the results.
pub(crate) fn test(_filter: Option<&str>) -> Result<SuiteResult> {
    let _qemu = crate::qemu::ensure()?;
    bail!("the kernel test runner is not built yet (foundation in progress)")
}
