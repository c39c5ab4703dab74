//! [`Engine`]: configuration, the Cranelift compiler and the platform,
//! shared by modules and stores.

use alloc::sync::Arc;

use crate::compile::Compiler;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::platform::Platform;

/// A compilation and execution environment. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    config: Config,
    compiler: Compiler,
    platform: Arc<dyn Platform>,
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .field("compiler", &self.inner.compiler)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with `config` running on `platform`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for reserved switches (epochs, fuel) or an
    /// unknown target; [`Error::Compile`] if Cranelift rejects the settings.
    pub fn new(config: Config, platform: Arc<dyn Platform>) -> Result<Self> {
        if config.epoch_interruption || config.consume_fuel {
            return Err(Error::Unsupported("epoch interruption and fuel are reserved for later".into()));
        }
        let compiler = Compiler::new(&config)?;
        Ok(Engine { inner: Arc::new(EngineInner { config, compiler, platform }) })
    }

    /// An engine for the host platform.
    ///
    /// # Errors
    /// As [`Engine::new`].
    #[cfg(all(feature = "std", unix))]
    pub fn host(config: Config) -> Result<Self> {
        Self::new(config, Arc::new(crate::platform::HostPlatform))
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The platform.
    #[must_use]
    pub fn platform(&self) -> &Arc<dyn Platform> {
        &self.inner.platform
    }

    /// The target triple code is compiled for.
    #[must_use]
    pub fn target(&self) -> alloc::string::String {
        self.inner.compiler.triple_name()
    }

    pub(crate) fn compiler(&self) -> &Compiler {
        &self.inner.compiler
    }

    pub(crate) fn same(&self, other: &Engine) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Validate and compile `bytes` without loading the code: returns the
    /// size of the machine code. Works for any target, e.g. riscv64 on an
    /// x86-64 host.
    ///
    /// # Errors
    /// As [`crate::Module::new`].
    pub fn precompile(&self, bytes: &[u8]) -> Result<usize> {
        let (info, pending) = crate::compile::info::parse(bytes, self.inner.config.features)?;
        let image = crate::compile::compile_module(&*self.inner.compiler.isa, &self.inner.config, &info, pending)?;
        Ok(image.bytes.len())
    }
}
