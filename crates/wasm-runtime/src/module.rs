//! [`Module`]: a validated, compiled module, shareable between stores.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::compile::info::{ModuleInfo, parse};
use crate::artifact::ArtifactError;
use crate::compile::{CodeImage, compile_module};
use crate::engine::Engine;
use crate::error::Result;
use crate::types::{ExternType, TableType};
use crate::vm::code::CodeObject;
use crate::vm::image::MemoryInit;
use crate::vm::layout::VmOffsets;
use crate::vm::memory::MemoryPool;

/// A compiled module. Cheap to clone.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    engine: Engine,
    info: ModuleInfo,
    offsets: VmOffsets,
    code: Arc<CodeObject>,
    func_offsets: Vec<u32>,
    array_trampolines: Vec<u32>,
    /// Engine-wide signature id of each type index.
    type_ids: Vec<u64>,
    /// Initial contents of the defined memories, laid out once (see
    /// `vm::image`); `None`: copy the data segments at instantiation.
    images: Option<Vec<MemoryInit>>,
    /// Reset reservations of dropped instances' memories, per defined memory.
    pools: Vec<Arc<MemoryPool>>,
}

impl core::fmt::Debug for Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module").field("funcs", &self.inner.info.funcs.len()).finish_non_exhaustive()
    }
}

impl Module {
    /// Validate and compile a binary module.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] (with byte offset) for malformed or invalid
    /// modules, [`crate::Error::Unsupported`] for proposals not implemented.
    pub fn new(engine: &Engine, bytes: &[u8]) -> Result<Self> {
        let (info, pending) = parse(bytes, engine.config().features)?;
        let image = compile_module(&*engine.compiler().isa, engine.config(), &info, pending)?;
        Self::from_image(engine, info, image)
    }

    /// Load a module from `bytes` and a precompiled `artifact` of them
    /// (from [`Engine::precompile_artifact`]) without compiling: the
    /// artifact must carry this engine's [`fingerprint`](Engine::fingerprint)
    /// and the SHA-256 of `bytes`. The module-level sections of `bytes`
    /// are parsed again for what instantiation needs, but nothing is
    /// validated again: the artifact records that exactly these bytes
    /// passed validation and compilation under exactly this configuration.
    ///
    /// # Errors
    /// An [`ArtifactError`] for an artifact that is not for these bytes
    /// and this engine, is corrupted or malformed; the caller should then
    /// compile with [`Module::new`].
    pub fn deserialize(engine: &Engine, bytes: &[u8], artifact: &[u8]) -> core::result::Result<Self, ArtifactError> {
        Self::deserialize_with_digest(engine, bytes, &crate::artifact::wasm_digest(bytes), artifact)
    }

    /// [`Module::deserialize`] for a caller that already knows the SHA-256
    /// of `bytes` (e.g. it keys its own module cache by it) and vouches
    /// that `sha256` is that digest; saves hashing the bytes again.
    ///
    /// # Errors
    /// As [`Module::deserialize`].
    pub fn deserialize_with_digest(
        engine: &Engine,
        bytes: &[u8],
        sha256: &[u8; 32],
        artifact: &[u8],
    ) -> core::result::Result<Self, ArtifactError> {
        let image = crate::artifact::read(artifact, &engine.fingerprint(), sha256)?;
        // The artifact was made from bytes with this digest after they
        // passed full validation: collect, do not validate again.
        let info = crate::compile::info::parse_known_valid(bytes, engine.config().features).map_err(ArtifactError::Module)?;
        if image.funcs.len() != info.num_defined_funcs() {
            return Err(ArtifactError::Malformed("function count differs from the module"));
        }
        if image.array_trampolines.len() != info.types.len() {
            return Err(ArtifactError::Malformed("trampoline count differs from the module"));
        }
        if image.host_trampolines.iter().any(|t| t.type_index as usize >= info.types.len()) {
            return Err(ArtifactError::Malformed("host trampoline for a type the module does not have"));
        }
        // Share the precompiled host trampolines through the engine's
        // cache, as if the first store had compiled them; one already
        // there (compiled or loaded before) is kept.
        // Those missing are published together (one instruction-cache
        // sync on every hart, not one each).
        let missing: Vec<_> = image
            .host_trampolines
            .iter()
            .map(|t| ((info.types[t.type_index as usize].clone(), false), t))
            .filter(|(key, _)| engine.cached_trampoline(key).is_none())
            .collect();
        if !missing.is_empty() {
            let pieces: Vec<crate::vm::code::CodePiece<'_>> = missing.iter().map(|(_, t)| (&t.bytes[..], &t.traps[..])).collect();
            let published = CodeObject::publish_pieces(engine.platform().clone(), &pieces).map_err(ArtifactError::Module)?;
            for ((key, _), code) in missing.iter().zip(published) {
                engine.cache_trampoline(key, code);
            }
        }
        Self::from_image(engine, info, image).map_err(ArtifactError::Module)
    }

    /// Publish `image`'s code and build the module around it.
    fn from_image(engine: &Engine, info: ModuleInfo, image: CodeImage) -> Result<Self> {
        let func_offsets = image.funcs.iter().map(|(s, _)| *s).collect();
        let code = Arc::new(CodeObject::publish(
            engine.platform().clone(),
            &image.bytes,
            image.traps,
            image.funcs,
            info.num_imported_funcs,
            info.name_section.clone(),
        )?);
        let images = crate::vm::image::build(&info, &**engine.platform());
        let type_ids = engine.types().intern_module(&info.types);
        let defined_memories = info.memories.len().saturating_sub(info.num_imported_memories as usize);
        let pools = (0..defined_memories).map(|_| Arc::new(MemoryPool::new(engine.platform().clone()))).collect();
        Ok(Module {
            inner: Arc::new(ModuleInner {
                images,
                type_ids,
                pools,
                engine: engine.clone(),
                offsets: VmOffsets::new(&info),
                info,
                code,
                func_offsets,
                array_trampolines: image.array_trampolines,
            }),
        })
    }

    /// Validate without compiling.
    ///
    /// # Errors
    /// As [`Module::new`].
    pub fn validate(engine: &Engine, bytes: &[u8]) -> Result<()> {
        let (_, pending) = parse(bytes, engine.config().features)?;
        for f in pending {
            let mut v = f.validator.into_validator(wasmparser::FuncValidatorAllocations::default());
            v.validate(&f.body)?;
        }
        Ok(())
    }

    /// The engine this module was compiled by.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Imports in order: (module, name, type).
    pub fn imports(&self) -> impl Iterator<Item = (&str, &str, ExternType)> + '_ {
        let info = &self.inner.info;
        info.imports.iter().map(|i| (i.module.as_str(), i.name.as_str(), info.import_type(&i.ty)))
    }

    /// Exports in order: (name, type).
    pub fn exports(&self) -> impl Iterator<Item = (&str, ExternType)> + '_ {
        let info = &self.inner.info;
        info.exports.iter().map(|(n, e)| (n.as_str(), info.entity_type(*e)))
    }

    /// Every table, imported ones first (a quota check needs their limits
    /// without parsing the bytes again).
    pub fn tables(&self) -> impl Iterator<Item = TableType> + '_ {
        self.inner.info.tables.iter().copied()
    }

    /// Contents of every custom section called `name`.
    pub fn custom_sections<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.inner.info.custom_sections.iter().filter(move |(n, _)| n == name).map(|(_, d)| &**d)
    }

    /// Name of function `index` from the name section.
    #[must_use]
    pub fn func_name(&self, index: u32) -> Option<&str> {
        crate::compile::info::function_name(self.inner.info.name_section.as_deref()?, index)
    }

    pub(crate) fn info(&self) -> &ModuleInfo {
        &self.inner.info
    }
    pub(crate) fn offsets(&self) -> VmOffsets {
        self.inner.offsets
    }
    pub(crate) fn code(&self) -> &Arc<CodeObject> {
        &self.inner.code
    }
    pub(crate) fn func_offset(&self, defined_index: usize) -> u32 {
        self.inner.func_offsets[defined_index]
    }
    pub(crate) fn array_trampoline(&self, type_index: u32) -> u32 {
        self.inner.array_trampolines[type_index as usize]
    }
    /// Engine-wide signature ids, by type index.
    pub(crate) fn type_ids(&self) -> &[u64] {
        &self.inner.type_ids
    }
    /// The reuse pool of defined memory `i`.
    pub(crate) fn memory_pool(&self, defined: usize) -> Option<&Arc<MemoryPool>> {
        self.inner.pools.get(defined)
    }
    pub(crate) fn memory_images(&self) -> Option<&[MemoryInit]> {
        self.inner.images.as_deref()
    }
}
