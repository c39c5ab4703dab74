//! [`StoreCore`]: the non-generic part of a store — every runtime object an
//! instance can reach, at stable heap addresses.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use cranelift_codegen::Context;
use cranelift_frontend::FunctionBuilderContext;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::{FuncType, GlobalType};
use crate::vm::code::CodeObject;
use crate::vm::instance::InstanceData;
use crate::vm::layout::{LIBCALL_COUNT, VMFuncRef, VMGlobal, VMRuntimeLimits};
use crate::vm::memory::{LinearMemory, MAX_PAGES};
use crate::vm::table::TableObj;
use crate::vm::traps::Activation;

/// A global owned by a store.
///
/// A global created by the host keeps its value in `own`. A global an
/// instance defines keeps it inline in that instance's vmctx (compiled code
/// reads it at a constant offset from vmctx); `value` then points there.
/// The vmctx is a heap allocation owned by the instance, and instances live
/// as long as their store, so the pointer stays valid as long as this
/// object.
#[derive(Debug)]
pub(crate) struct GlobalObj {
    /// Storage of a host-created global (unused when `value` is non-null).
    own: VMGlobal,
    /// The 16 value bytes inside a vmctx (8-byte aligned), or null.
    value: *mut u8,
    pub ty: GlobalType,
}

// === impl GlobalObj ===

impl GlobalObj {
    /// A global with its own storage.
    pub fn new(ty: GlobalType, raw: u128) -> Self {
        GlobalObj { own: VMGlobal { bytes: raw.to_le_bytes() }, value: core::ptr::null_mut(), ty }
    }

    /// A global whose 16 value bytes are at `value`.
    ///
    /// # Safety
    /// `value` must be valid for reads and writes of 16 bytes for as long
    /// as this object lives, and accessed only by compiled code (of the
    /// defining instance, or of an importing one through the pointer from
    /// `cell_ptr`) and through this object.
    pub unsafe fn inline(ty: GlobalType, value: *mut u8) -> Self {
        GlobalObj { own: VMGlobal::default(), value, ty }
    }

    /// Where compiled code of an importing instance finds the value.
    pub fn cell_ptr(&mut self) -> *mut u8 {
        if self.value.is_null() { (&raw mut self.own).cast::<u8>() } else { self.value }
    }

    /// The raw value (little-endian, 16 bytes).
    pub fn get(&self) -> u128 {
        if self.value.is_null() {
            return u128::from_le_bytes(self.own.bytes);
        }
        // SAFETY: `inline`'s contract: `value` is valid for 16-byte reads
        // while `self` lives; the read is unaligned because vmctx slots are
        // only 8-byte aligned.
        u128::from_le_bytes(unsafe { self.value.cast::<[u8; 16]>().read_unaligned() })
    }

    /// Store a raw value.
    pub fn set(&mut self, raw: u128) {
        if self.value.is_null() {
            self.own.bytes = raw.to_le_bytes();
            return;
        }
        // SAFETY: as in `get`; no wasm code runs while the host holds
        // `&mut StoreCore`, so nothing else accesses the bytes.
        unsafe { self.value.cast::<[u8; 16]>().write_unaligned(raw.to_le_bytes()) }
    }
}

/// The shim a host function's array trampoline calls:
/// `(ctx, caller_vmctx, values, len) -> status` (0 = returned, 1 = a trap
/// was recorded as pending). A direct trampoline calls a typed shim
/// `(ctx, caller_vmctx, params...) -> (status, result)` instead.
pub(crate) type HostShim = unsafe extern "C" fn(*mut HostFuncCtx, *mut u8, *mut u128, usize) -> u64;

/// The same host function called from the host (no wasm frame, so the
/// trap is returned rather than recorded):
/// `(ctx, store, caller_vmctx, values)`, `store` being the
/// `StoreContext<T>` the function belongs to.
pub(crate) type HostCall = unsafe fn(*const HostFuncCtx, *mut u8, *mut u8, &mut [u128]) -> Result<(), crate::trap::Trap>;

/// A host function as wasm sees it. Its `funcref.vmctx` points back here.
#[repr(C)]
pub(crate) struct HostFuncCtx {
    // NOTE: offset 0 is read by the wasm-to-host trampoline: a `HostShim`,
    // or for a direct trampoline a typed shim.
    pub shim: *const u8,
    /// The host-side entry (see [`HostCall`]).
    pub call: HostCall,
    /// The `StoreContext<T>` this function belongs to (type-erased).
    pub store: *mut u8,
    /// The callee object inside `owner` (a typed closure or a dynamic
    /// host function), read by `shim`/`call`, which know its type.
    pub data: *const (),
    /// Keeps `data` alive; shared with the linker definition it came from.
    pub owner: Arc<dyn Any + Send + Sync>,
    pub funcref: VMFuncRef,
}

impl core::fmt::Debug for HostFuncCtx {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostFuncCtx").field("type_id", &self.funcref.type_id).finish_non_exhaustive()
    }
}

/// Everything a store owns, apart from the embedder's data.
#[expect(clippy::vec_box, reason = "compiled code holds pointers into these objects: each needs its own stable heap address")]
pub(crate) struct StoreCore {
    pub id: u64,
    pub engine: Engine,
    pub limits: Box<VMRuntimeLimits>,
    pub libcalls: Box<[usize; LIBCALL_COUNT]>,
    pub instances: Vec<Box<InstanceData>>,
    pub memories: Vec<Box<LinearMemory>>,
    pub tables: Vec<Box<TableObj>>,
    pub globals: Vec<Box<GlobalObj>>,
    pub host_funcs: Vec<Box<HostFuncCtx>>,
    pub externrefs: Vec<Box<dyn Any + Send + Sync>>,
    host_trampolines: BTreeMap<(FuncType, bool), Arc<CodeObject>>,
    /// Every code object instances in this store execute.
    code: Vec<Arc<CodeObject>>,
    pub activation: *mut Activation,
    /// Per-memory page limit for memories created in this store.
    pub memory_limit_pages: u64,
    /// What happens when the epoch deadline passes.
    pub epoch_policy: EpochPolicy,
    /// Fuel handed out in slices while running async (see
    /// `Store::fuel_async_yield_interval`): the slice size, and fuel not
    /// yet handed out.
    pub fuel_yield_interval: Option<u64>,
    pub fuel_reserve: u64,
    /// The running `call_async` fiber's suspend handle, or null.
    pub async_cx: *const crate::vm::fiber::AsyncCx,
    /// The stack of the last finished `call_async`, reused by the next one.
    pub fiber_stack: Option<hypha_fiber::FiberStack>,
}

/// What the runtime does when a store's epoch deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpochPolicy {
    /// Trap with [`crate::TrapCode::Interrupt`].
    Trap,
    /// Inside `call_async`: yield (the future returns `Pending` after waking
    /// its task) and move the deadline `delta` epochs past the current one.
    /// Outside `call_async`: trap.
    Yield { delta: u64 },
}

impl core::fmt::Debug for StoreCore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StoreCore").field("id", &self.id).field("instances", &self.instances.len()).finish_non_exhaustive()
    }
}

static NEXT_STORE_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

impl StoreCore {
    pub fn new(engine: Engine) -> Self {
        let epoch_ptr = engine.epoch_ptr();
        StoreCore {
            id: NEXT_STORE_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed),
            engine,
            limits: Box::new(VMRuntimeLimits {
                stack_limit: 0,
                epoch_ptr,
                epoch_deadline: u64::MAX,
                fuel_consumed: 0,
            }),
            libcalls: Box::new(crate::vm::libcalls::table()),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            host_funcs: Vec::new(),
            externrefs: Vec::new(),
            host_trampolines: BTreeMap::new(),
            code: Vec::new(),
            activation: core::ptr::null_mut(),
            memory_limit_pages: MAX_PAGES,
            epoch_policy: EpochPolicy::Trap,
            fuel_yield_interval: None,
            fuel_reserve: 0,
            async_cx: core::ptr::null(),
            fiber_stack: None,
        }
    }

    /// The engine-wide id of a signature (interned).
    pub fn signature_id(&self, ty: &FuncType) -> u64 {
        self.engine.types().intern(ty)
    }

    /// The signature with engine-wide id `id`.
    pub fn type_of_id(&self, id: u64) -> Option<FuncType> {
        self.engine.types().get(id)
    }

    /// Register a code object so traps in it are recognised.
    pub fn register_code(&mut self, code: &Arc<CodeObject>) {
        if !self.code.iter().any(|c| Arc::ptr_eq(c, code)) {
            self.code.push(code.clone());
        }
    }

    /// The code object containing `pc`, if it is wasm code of this store.
    pub fn code_for(&self, pc: usize) -> Option<&CodeObject> {
        self.code.iter().find(|c| c.contains(pc)).map(|c| &**c)
    }

    /// The wasm-to-host trampoline for `ty` (the direct, register-passing
    /// kind when `direct`), compiled on first use in the engine and shared
    /// by its stores.
    /// Its entry is at offset 0; the store keeps it registered (and alive).
    pub fn host_trampoline(&mut self, ty: &FuncType, direct: bool) -> Result<Arc<CodeObject>> {
        let key = (ty.clone(), direct);
        if let Some(c) = self.host_trampolines.get(&key) {
            return Ok(c.clone());
        }
        if let Some(obj) = self.engine.cached_trampoline(&key) {
            self.register_code(&obj);
            self.host_trampolines.insert(key, obj.clone());
            return Ok(obj);
        }
        let isa = self.engine.compiler().isa.clone();
        let mut ctx = Context::new();
        let mut fctx = FunctionBuilderContext::new();
        if direct {
            crate::compile::trampoline::build_wasm_to_host_direct(&mut ctx, &mut fctx, ty, isa.default_call_conv(), isa.frontend_config());
        } else {
            crate::compile::trampoline::build_wasm_to_host(&mut ctx, &mut fctx, ty, isa.default_call_conv(), isa.frontend_config());
        }
        let code = ctx
            .compile(&*isa, &mut cranelift_codegen::control::ControlPlane::default())
            .map_err(|e| Error::Compile(alloc::format!("host trampoline: {:?}", e.inner)))?;
        let traps = code
            .buffer
            .traps()
            .iter()
            .map(|t| (t.offset, crate::compile::decode_trap(t.code)))
            .collect();
        let bytes = code.code_buffer().to_vec();
        let obj = Arc::new(CodeObject::publish(
            self.engine.platform().clone(),
            &bytes,
            traps,
            Vec::new(),
            0,
            None,
        )?);
        let obj = self.engine.cache_trampoline(&key, obj);
        self.register_code(&obj);
        self.host_trampolines.insert(key, obj.clone());
        Ok(obj)
    }
}
