//! [`Func`]: a function in a store (wasm or host), dynamic and typed calls,
//! and host functions via [`Caller`].

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "funcref field reads of one live store object")]

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::marker::PhantomData;
use core::ptr;

use crate::error::{Error, Result};
use crate::externs::Extern;
use crate::instance::Instance;
use crate::store::{AsContextMut, StoreContext};
use crate::trap::Trap;
use crate::types::{FuncType, ValType};
use crate::values::{ExternRef, Val};
use crate::engine::Engine;
use crate::vm::code::CodeObject;
use crate::vm::layout::VMFuncRef;
use crate::vm::spin::SpinLock;
use crate::vm::store::{HostFuncCtx, StoreCore};

/// The closure type of host functions.
pub type HostFn<T> = Arc<dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync>;

/// A function handle. Only valid with the store that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Func {
    store_id: u64,
    ptr: *const VMFuncRef,
}

// SAFETY: a Func is an inert handle; dereferencing it requires the owning
// store, whose id is checked on every use.
unsafe impl Send for Func {}
// SAFETY: as above.
unsafe impl Sync for Func {}

/// What a host function sees of the store and its caller.
pub struct Caller<'a, T> {
    store: &'a mut StoreContext<T>,
    caller_vmctx: *mut u8,
}

impl<T> core::fmt::Debug for Caller<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

impl<T: 'static> Caller<'_, T> {
    /// The embedder's data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// An export of the calling instance (e.g. its memory), if called from wasm.
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        let core = &self.store.core;
        let index = core.instances.iter().position(|i| i.vmctx.as_ptr().cast::<u8>() == self.caller_vmctx.cast_const())?;
        Instance::from_index(core, index).get_export(&mut *self.store, name)
    }
}

impl<T> Caller<'_, T> {
    /// The store body behind this caller, for the async glue.
    pub(crate) fn core_ptr(&mut self) -> *mut StoreCore {
        &raw mut self.store.core
    }
}

impl<T: 'static> AsContextMut for Caller<'_, T> {
    type Data = T;
    fn as_context_mut(&mut self) -> &mut StoreContext<T> {
        self.store
    }
}

// === host function entries ===

/// A host function's callee object (what `HostFuncCtx::data` points at):
/// knows how to read its arguments from and write its results to the raw
/// value array.
pub(crate) trait HostCallee<T>: Send + Sync + 'static {
    /// Run the function with arguments in `slots` (slot `i` = parameter
    /// `i`), writing the results back to `slots`.
    ///
    /// # Safety
    /// `store` is the live store the function belongs to, not otherwise
    /// borrowed during the call; `slots` holds at least as many slots as
    /// the function has parameters and results.
    unsafe fn invoke(&self, store: *mut StoreContext<T>, caller_vmctx: *mut u8, slots: &mut [u128]) -> Result<(), Trap>;
}

/// The entry compiled wasm-to-host trampolines call (see `HostShim`).
///
/// # Safety
/// `ctx` is a live `HostFuncCtx` whose `data` is an `H` and whose `store`
/// is the `StoreContext<T>` that is running wasm, with no Rust reference
/// to it in use; `values` holds `len` slots with the arguments.
unsafe extern "C" fn host_shim<T: 'static, H: HostCallee<T>>(ctx: *mut HostFuncCtx, caller_vmctx: *mut u8, values: *mut u128, len: usize) -> u64 {
    // SAFETY: see the function contract; `store` is a plain field read.
    let store = unsafe { (*ctx).store };
    // SAFETY: the trampoline passes a stack array of `len` slots that
    // nothing else references during the call.
    let slots = unsafe { core::slice::from_raw_parts_mut(values, len) };
    // SAFETY: forwarded contract.
    match unsafe { host_call::<T, H>(ctx, store, caller_vmctx, slots) } {
        Ok(()) => 0,
        Err(trap) => {
            // SAFETY: the store is running wasm (we were called from it)
            // and the host function's borrow of it has ended.
            unsafe { crate::vm::traps::set_pending(&raw mut (*store.cast::<StoreContext<T>>()).core, trap) };
            1
        }
    }
}

/// The host-side entry (see `HostCall`): run host function `ctx` with its
/// store `store`.
///
/// # Safety
/// `ctx` is a live `HostFuncCtx` whose `data` is an `H`; `store` is its
/// `StoreContext<T>`, not otherwise borrowed during the call.
unsafe fn host_call<T: 'static, H: HostCallee<T>>(ctx: *const HostFuncCtx, store: *mut u8, caller_vmctx: *mut u8, slots: &mut [u128]) -> Result<(), Trap> {
    // SAFETY: `data` points into `owner`, an `H` kept alive by the store
    // for as long as the function exists; it is only ever shared.
    let callee = unsafe { &*(*ctx).data.cast::<H>() };
    // SAFETY: forwarded contract (the trampoline sizes `slots` for the
    // function's type, which is the callee's).
    unsafe { callee.invoke(store.cast::<StoreContext<T>>(), caller_vmctx, slots) }
}

/// A host function ready to be put in stores: its type, its callee
/// object and the entries that know the callee's type. Cloning shares the
/// callee.
pub(crate) struct HostDef<T> {
    pub ty: FuncType,
    /// What the trampoline calls: a `HostShim` for the array trampoline,
    /// a typed shim for the direct one (`direct`).
    shim: CodePtr,
    direct: bool,
    call: crate::vm::store::HostCall,
    owner: Arc<dyn Any + Send + Sync>,
    /// The trampoline and signature id last used for this definition, by
    /// engine: a linker instantiating into many stores of one engine
    /// looks them up once.
    resolved: Arc<SpinLock<Option<Resolved>>>,
    _data: PhantomData<fn(T)>,
}

/// The address of a shim function.
#[derive(Clone, Copy)]
struct CodePtr(*const u8);

// SAFETY: the address of a function of this program: immutable code.
unsafe impl Send for CodePtr {}
// SAFETY: as above.
unsafe impl Sync for CodePtr {}

/// What a host function definition needs from an engine.
struct Resolved {
    engine: Engine,
    trampoline: Arc<CodeObject>,
    type_id: u64,
}

impl<T> Clone for HostDef<T> {
    fn clone(&self) -> Self {
        HostDef {
            ty: self.ty.clone(),
            shim: self.shim,
            direct: self.direct,
            call: self.call,
            owner: self.owner.clone(),
            resolved: self.resolved.clone(),
            _data: PhantomData,
        }
    }
}

impl<T: 'static> HostDef<T> {
    /// A definition running `callee` for functions of type `ty`.
    pub(crate) fn new<H: HostCallee<T>>(ty: FuncType, callee: H) -> Self {
        let shim: crate::vm::store::HostShim = host_shim::<T, H>;
        Self::with_shim(ty, callee, shim as *const u8, false)
    }

    /// A definition whose trampoline calls `shim`: the array shim, or
    /// (`direct`) a typed shim taking and returning values in registers.
    fn with_shim<H: HostCallee<T>>(ty: FuncType, callee: H, shim: *const u8, direct: bool) -> Self {
        HostDef {
            ty,
            shim: CodePtr(shim),
            direct,
            call: host_call::<T, H>,
            owner: Arc::new(callee),
            resolved: Arc::new(SpinLock::new(None)),
            _data: PhantomData,
        }
    }

    /// The wasm-to-host trampoline and signature id in `core`'s engine.
    fn resolve(&self, core: &mut StoreCore) -> Result<(Arc<CodeObject>, u64)> {
        let cached = self.resolved.with(|r| {
            r.as_ref().filter(|r| r.engine.same(&core.engine)).map(|r| (r.trampoline.clone(), r.type_id))
        });
        if let Some((trampoline, type_id)) = cached {
            core.register_code(&trampoline);
            return Ok((trampoline, type_id));
        }
        let trampoline = core.host_trampoline(&self.ty, self.direct)?;
        let type_id = core.signature_id(&self.ty);
        let engine = core.engine.clone();
        let entry = Resolved { engine, trampoline: trampoline.clone(), type_id };
        self.resolved.with(|r| *r = Some(entry));
        Ok((trampoline, type_id))
    }

    /// A dynamically typed host function (`&[Val]` in, `&mut [Val]` out).
    pub(crate) fn dynamic(ty: FuncType, f: HostFn<T>) -> Self {
        let callee = DynHost { ty: ty.clone(), f };
        Self::new(ty, callee)
    }
}

/// Parameters/results of one dynamic host call held on the stack (no
/// allocation) when there are at most this many.
const INLINE_VALS: usize = 8;

/// A dynamically typed host function and its signature.
struct DynHost<T> {
    ty: FuncType,
    f: HostFn<T>,
}

impl<T: 'static> HostCallee<T> for DynHost<T> {
    unsafe fn invoke(&self, store: *mut StoreContext<T>, caller_vmctx: *mut u8, slots: &mut [u128]) -> Result<(), Trap> {
        let (np, nr) = (self.ty.params().len(), self.ty.results().len());
        if np <= INLINE_VALS && nr <= INLINE_VALS {
            let mut params = [Val::I32(0); INLINE_VALS];
            let mut results = [Val::I32(0); INLINE_VALS];
            // SAFETY: forwarded contract.
            unsafe { self.run(store, caller_vmctx, slots, &mut params[..np], &mut results[..nr]) }
        } else {
            let mut params = alloc::vec![Val::I32(0); np];
            let mut results = alloc::vec![Val::I32(0); nr];
            // SAFETY: forwarded contract.
            unsafe { self.run(store, caller_vmctx, slots, &mut params, &mut results) }
        }
    }
}

impl<T: 'static> DynHost<T> {
    /// # Safety
    /// As [`HostCallee::invoke`].
    unsafe fn run(
        &self,
        store: *mut StoreContext<T>,
        caller_vmctx: *mut u8,
        slots: &mut [u128],
        params: &mut [Val],
        results: &mut [Val],
    ) -> Result<(), Trap> {
        {
            // SAFETY: contract; this shared borrow ends before the call.
            let core = unsafe { &(*store).core };
            for ((p, t), raw) in params.iter_mut().zip(self.ty.params()).zip(slots.iter()) {
                *p = Val::from_raw(*raw, *t, core);
            }
        }
        for (r, t) in results.iter_mut().zip(self.ty.results()) {
            *r = Val::default_for(*t);
        }
        // SAFETY: contract: the store is ours for the call.
        (self.f)(Caller { store: unsafe { &mut *store }, caller_vmctx }, params, results)?;
        // SAFETY: contract; the caller's borrow ended with the call.
        let core = unsafe { &(*store).core };
        for ((r, t), slot) in results.iter().zip(self.ty.results()).zip(slots.iter_mut()) {
            if !r.matches(core, *t) {
                return Err(Trap::host("host function returned a value of the wrong type"));
            }
            *slot = r.to_raw(core).map_err(|_| Trap::host("host function returned a foreign reference"))?;
        }
        Ok(())
    }
}

impl Func {
    /// A host function of type `ty`, with dynamically typed parameters
    /// and results (see [`Func::wrap`] for the faster typed form).
    ///
    /// # Errors
    /// If the wasm-to-host trampoline cannot be compiled or published.
    pub fn new<T: 'static>(
        store: &mut impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync + 'static,
    ) -> Result<Func> {
        let f: HostFn<T> = Arc::new(f);
        Self::from_host_def(store.as_context_mut(), &HostDef::dynamic(ty, f))
    }

    /// A host function from a Rust closure with typed parameters and
    /// results: `Fn(Caller<'_, T>, A1, A2, ...) -> R`, where each `Ai` is a
    /// [`WasmTy`] (`i32`, `i64`, `f32`, `f64`, `u128` for v128,
    /// `Option<Func>`, `Option<ExternRef>`) and `R` is `()`, a [`WasmTy`],
    /// a tuple of them, or a `Result<_, Trap>` of those. Values cross
    /// without any allocation or dynamic type checks.
    ///
    /// ```
    /// # use hypha_wasm::*;
    /// let engine = Engine::host(Config::default())?;
    /// let mut store = Store::new(&engine, 0u32);
    /// let add = Func::wrap(&mut store, |mut caller: Caller<'_, u32>, a: i32, b: i32| {
    ///     *caller.data_mut() += 1;
    ///     a.wrapping_add(b)
    /// })?;
    /// let add = add.typed::<(i32, i32), i32, _>(&store)?;
    /// assert_eq!(add.call(&mut store, (40, 2))?, 42);
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// If the wasm-to-host trampoline cannot be compiled or published.
    pub fn wrap<T: 'static, Params, Results>(
        store: &mut impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<Func> {
        Self::from_host_def(store.as_context_mut(), &f.into_host_def().0)
    }

    pub(crate) fn from_host_def<T: 'static>(cx: &mut StoreContext<T>, def: &HostDef<T>) -> Result<Func> {
        let store_ptr: *mut StoreContext<T> = cx;
        let core = &mut cx.core;
        let (trampoline, type_id) = def.resolve(core)?;
        let code = trampoline.addr(0);
        let owner = def.owner.clone();
        let data = Arc::as_ptr(&owner).cast::<()>();
        let mut ctx = Box::new(HostFuncCtx {
            shim: def.shim.0,
            call: def.call,
            store: store_ptr.cast(),
            data,
            owner,
            funcref: VMFuncRef { code, vmctx: core::ptr::null_mut(), type_id, array_call: core::ptr::null() },
        });
        let ctx_ptr: *mut HostFuncCtx = &raw mut *ctx;
        ctx.funcref.vmctx = ctx_ptr.cast();
        let ptr: *const VMFuncRef = &raw const ctx.funcref;
        core.host_funcs.push(ctx);
        Ok(Func { store_id: core.id, ptr })
    }

    pub(crate) fn store_id(&self) -> u64 {
        self.store_id
    }

    pub(crate) fn raw(&self) -> *const VMFuncRef {
        self.ptr
    }

    pub(crate) fn from_raw(core: &StoreCore, ptr: *const VMFuncRef) -> Option<Func> {
        if ptr.is_null() { None } else { Some(Func { store_id: core.id, ptr }) }
    }

    fn check(&self, core: &StoreCore) -> Result<()> {
        if self.store_id == core.id { Ok(()) } else { Err(Error::Usage("function from another store".into())) }
    }

    /// The function's signature.
    ///
    /// # Errors
    /// [`Error::Usage`] if `store` is not the function's store.
    pub fn ty<T>(&self, store: &StoreContext<T>) -> Result<FuncType> {
        self.check(&store.core)?;
        // SAFETY: the funcref belongs to this live store (id checked).
        let id = unsafe { (*self.ptr).type_id };
        store.core.type_of_id(id).ok_or_else(|| Error::Usage("unknown signature".into()))
    }

    /// The engine-wide signature id, `None` for a foreign store.
    pub(crate) fn type_id(&self, core: &StoreCore) -> Option<u64> {
        self.check(core).ok()?;
        // SAFETY: the funcref belongs to this live store (id checked).
        Some(unsafe { (*self.ptr).type_id })
    }

    /// Call with dynamically typed arguments; results are written to `results`.
    ///
    /// # Errors
    /// [`Error::Usage`] for argument mismatches, [`Error::Trap`] if the
    /// callee traps (the store stays usable).
    pub fn call(&self, store: &mut impl AsContextMut, params: &[Val], results: &mut [Val]) -> Result<()> {
        let cx = store.as_context_mut();
        let ty = self.checked_ty(cx, params, results)?;
        self.call_unchecked(cx, &ty, params, results)
    }

    /// The signature, after checking `params` and `results` against it.
    pub(crate) fn checked_ty<T>(&self, cx: &StoreContext<T>, params: &[Val], results: &[Val]) -> Result<FuncType> {
        let ty = self.ty(cx)?;
        if params.len() != ty.params().len() || results.len() != ty.results().len() {
            return Err(Error::Usage("wrong number of arguments or results".into()));
        }
        for (p, t) in params.iter().zip(ty.params()) {
            if !p.matches(&cx.core, *t) {
                return Err(Error::Usage(alloc::format!("argument of type {} where {t} expected", p.ty())));
            }
        }
        Ok(ty)
    }

    fn call_unchecked<T: 'static>(&self, cx: &mut StoreContext<T>, ty: &FuncType, params: &[Val], results: &mut [Val]) -> Result<()> {
        let mut slots = Self::arg_slots(cx, ty, params)?;
        self.call_raw(cx, &mut slots, 0)?;
        Self::read_results(cx, ty, &slots, results);
        Ok(())
    }

    /// The raw argument/result array for a call of type `ty`.
    pub(crate) fn arg_slots<T>(cx: &StoreContext<T>, ty: &FuncType, params: &[Val]) -> Result<Vec<u128>> {
        let mut slots: Vec<u128> = alloc::vec![0; ty.params().len().max(ty.results().len()).max(1)];
        for (slot, p) in slots.iter_mut().zip(params) {
            *slot = p.to_raw(&cx.core)?;
        }
        Ok(slots)
    }

    /// Typed results from the raw array.
    pub(crate) fn read_results<T>(cx: &StoreContext<T>, ty: &FuncType, slots: &[u128], results: &mut [Val]) {
        for ((r, t), raw) in results.iter_mut().zip(ty.results()).zip(slots) {
            *r = Val::from_raw(*raw, *t, &cx.core);
        }
    }

    /// Call with raw, already checked arguments in `slots` (results are
    /// written back there). `stack_floor` as for `vm::traps::invoke`.
    pub(crate) fn call_raw<T: 'static>(&self, cx: &mut StoreContext<T>, slots: &mut [u128], stack_floor: usize) -> Result<()> {
        // SAFETY: the funcref belongs to this live store.
        let (array_call, vmctx) = unsafe { ((*self.ptr).array_call, (*self.ptr).vmctx) };
        if array_call.is_null() {
            // A host function: call it directly (no wasm on the stack).
            let ctx = vmctx.cast::<HostFuncCtx>().cast_const();
            // SAFETY: host funcrefs' vmctx is their HostFuncCtx, owned by
            // this store; `cx` is its store, reborrowed only by the call.
            unsafe { ((*ctx).call)(ctx, ptr::from_mut(cx).cast(), ptr::null_mut(), slots) }.map_err(Error::Trap)?;
        } else {
            // SAFETY: the store is live, the funcref is a wasm function of
            // it, and `slots` is big enough and holds typed arguments.
            unsafe { crate::vm::traps::invoke(&raw mut cx.core, self.ptr, slots.as_mut_ptr(), stack_floor)? };
        }
        Ok(())
    }

    /// A typed view of this function.
    ///
    /// # Errors
    /// [`Error::Usage`] if the signature does not match `P -> R`.
    pub fn typed<P: WasmParams, R: WasmResults, T>(&self, store: &StoreContext<T>) -> Result<TypedFunc<P, R>> {
        let ty = self.ty(store)?;
        if ty.params() != P::types().as_slice() || ty.results() != R::types().as_slice() {
            return Err(Error::Usage("function signature does not match the requested types".into()));
        }
        let _ = ty;
        Ok(TypedFunc { func: *self, _marker: PhantomData })
    }
}

// === typed values ===

/// A Rust type that maps to one wasm value type.
///
/// Implemented for `i32`, `i64`, `f32`, `f64`, `u128` (v128),
/// `Option<Func>` (funcref) and `Option<ExternRef>` (externref).
pub trait WasmTy: Sized + private::Sealed {
    /// The wasm type.
    fn ty() -> ValType;
    /// To a value.
    fn into_val(self) -> Val;
    /// From a value of the right type.
    fn from_val(v: Val) -> Option<Self>;
    /// The raw slot form; `None` for a reference into another store.
    #[doc(hidden)]
    fn into_raw(self, store_id: u64) -> Option<u128>;
    /// From the raw slot form (the slot holds a value of type `ty()`).
    #[doc(hidden)]
    fn from_raw(raw: u128, store_id: u64) -> Self;
    /// The register form typed host functions get and return (x86-64:
    /// passed like this type in the C calling convention).
    #[doc(hidden)]
    type Abi: Copy;
    /// Whether values cross in registers ([`WasmTy::Abi`]); v128 does not.
    #[doc(hidden)]
    const REG: bool;
    /// From the register form.
    #[doc(hidden)]
    fn from_abi(abi: Self::Abi, store_id: u64) -> Self;
    /// To the register form; `None` for a reference into another store.
    #[doc(hidden)]
    fn into_abi(self, store_id: u64) -> Option<Self::Abi>;
}

mod private {
    /// Seals [`super::WasmTy`]: the raw conversions are the runtime's.
    pub trait Sealed {}
}

/// The low 64 bits of a raw slot.
#[expect(clippy::cast_possible_truncation, reason = "a raw slot holds scalars in its low bits; the truncation is the decoding")]
fn low64(raw: u128) -> u64 {
    raw as u64
}

/// The low 32 bits of a raw slot.
#[expect(clippy::cast_possible_truncation, reason = "as `low64`")]
fn low32(raw: u128) -> u32 {
    raw as u32
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $conv:expr, $back:expr, $to_raw:expr, $from_raw:expr) => {
        wasm_ty!($t, $vt, $conv, $back, $to_raw, $from_raw, $t, true, |x| x, |x| x);
    };
    ($t:ty, $vt:ident, $conv:expr, $back:expr, $to_raw:expr, $from_raw:expr, $abi:ty, $reg:expr, $from_abi:expr, $into_abi:expr) => {
        impl private::Sealed for $t {}
        impl WasmTy for $t {
            fn ty() -> ValType {
                ValType::$vt
            }
            fn into_val(self) -> Val {
                $conv(self)
            }
            fn from_val(v: Val) -> Option<Self> {
                $back(v)
            }
            #[inline]
            fn into_raw(self, _store_id: u64) -> Option<u128> {
                Some($to_raw(self))
            }
            #[inline]
            fn from_raw(raw: u128, _store_id: u64) -> Self {
                $from_raw(raw)
            }
            type Abi = $abi;
            const REG: bool = $reg;
            #[inline]
            fn from_abi(abi: $abi, _store_id: u64) -> Self {
                $from_abi(abi)
            }
            #[inline]
            fn into_abi(self, _store_id: u64) -> Option<$abi> {
                Some($into_abi(self))
            }
        }
    };
}
wasm_ty!(i32, I32, Val::I32, |v| if let Val::I32(x) = v { Some(x) } else { None },
    |x: i32| u128::from(x.cast_unsigned()), |r| low32(r).cast_signed());
wasm_ty!(i64, I64, Val::I64, |v| if let Val::I64(x) = v { Some(x) } else { None },
    |x: i64| u128::from(x.cast_unsigned()), |r| low64(r).cast_signed());
wasm_ty!(f32, F32, |x: f32| Val::F32(x.to_bits()), |v| if let Val::F32(x) = v { Some(f32::from_bits(x)) } else { None },
    |x: f32| u128::from(x.to_bits()), |r| f32::from_bits(low32(r)));
wasm_ty!(f64, F64, |x: f64| Val::F64(x.to_bits()), |v| if let Val::F64(x) = v { Some(f64::from_bits(x)) } else { None },
    |x: f64| u128::from(x.to_bits()), |r| f64::from_bits(low64(r)));
// v128 crosses through the value array only (`REG` is false, so the
// register form is never used; it is a placeholder).
wasm_ty!(u128, V128, Val::V128, |v| if let Val::V128(x) = v { Some(x) } else { None }, |x| x, |r| r,
    u64, false, u128::from, |x: u128| low64(x));

impl private::Sealed for Option<Func> {}
impl WasmTy for Option<Func> {
    fn ty() -> ValType {
        ValType::FuncRef
    }
    fn into_val(self) -> Val {
        Val::FuncRef(self)
    }
    fn from_val(v: Val) -> Option<Self> {
        if let Val::FuncRef(f) = v { Some(f) } else { None }
    }
    fn into_raw(self, store_id: u64) -> Option<u128> {
        match self {
            None => Some(0),
            Some(f) if f.store_id == store_id => Some(f.ptr as usize as u128),
            Some(_) => None,
        }
    }
    fn from_raw(raw: u128, store_id: u64) -> Self {
        Self::from_abi(low64(raw), store_id)
    }
    type Abi = u64;
    const REG: bool = true;
    fn from_abi(abi: u64, store_id: u64) -> Self {
        let ptr = usize::try_from(abi).unwrap_or(0) as *const VMFuncRef;
        if ptr.is_null() { None } else { Some(Func { store_id, ptr }) }
    }
    fn into_abi(self, store_id: u64) -> Option<u64> {
        self.into_raw(store_id).map(low64)
    }
}

impl private::Sealed for Option<ExternRef> {}
impl WasmTy for Option<ExternRef> {
    fn ty() -> ValType {
        ValType::ExternRef
    }
    fn into_val(self) -> Val {
        Val::ExternRef(self)
    }
    fn from_val(v: Val) -> Option<Self> {
        if let Val::ExternRef(r) = v { Some(r) } else { None }
    }
    fn into_raw(self, store_id: u64) -> Option<u128> {
        match self {
            None => Some(0),
            Some(r) if r.store_id() == store_id => Some(r.raw()),
            Some(_) => None,
        }
    }
    fn from_raw(raw: u128, store_id: u64) -> Self {
        ExternRef::from_raw(store_id, low64(raw))
    }
    type Abi = u64;
    const REG: bool = true;
    fn from_abi(abi: u64, store_id: u64) -> Self {
        ExternRef::from_raw(store_id, abi)
    }
    fn into_abi(self, store_id: u64) -> Option<u64> {
        self.into_raw(store_id).map(low64)
    }
}

/// Parameter lists of typed functions: `()`, a [`WasmTy`], or a tuple of
/// up to 16.
pub trait WasmParams {
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// To values.
    fn into_vals(self) -> Vec<Val>;
    /// Number of values.
    #[doc(hidden)]
    const LEN: usize;
    /// Write to the first `LEN` raw slots; `None` for a reference into
    /// another store.
    #[doc(hidden)]
    fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()>;
}

/// Result lists of typed functions: `()`, a [`WasmTy`], or a tuple of up
/// to 16.
pub trait WasmResults: Sized {
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// From values of the right types.
    fn from_vals(v: &[Val]) -> Option<Self>;
    /// Number of values.
    #[doc(hidden)]
    const LEN: usize;
    /// Read from the first `LEN` raw slots (which hold values of these types).
    #[doc(hidden)]
    fn load_raw(slots: &[u128], store_id: u64) -> Self;
    /// Write to the first `LEN` raw slots; `None` for a reference into
    /// another store.
    #[doc(hidden)]
    fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()>;
    /// The register form of the result, for lists of at most one value
    /// (a placeholder for longer ones).
    #[doc(hidden)]
    type Abi: Copy;
    /// Whether the results can be returned in registers ([`WasmResults::Abi`]).
    #[doc(hidden)]
    const REG: bool;
    /// To the register form; `None` for a reference into another store.
    #[doc(hidden)]
    fn into_abi(self, store_id: u64) -> Option<Self::Abi>;
}

impl<A: WasmTy> WasmParams for A {
    fn types() -> Vec<ValType> {
        alloc::vec![A::ty()]
    }
    fn into_vals(self) -> Vec<Val> {
        alloc::vec![self.into_val()]
    }
    const LEN: usize = 1;
    #[inline]
    fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()> {
        *slots.first_mut()? = self.into_raw(store_id)?;
        Some(())
    }
}

impl<A: WasmTy> WasmResults for A {
    fn types() -> Vec<ValType> {
        alloc::vec![A::ty()]
    }
    fn from_vals(v: &[Val]) -> Option<Self> {
        A::from_val(*v.first()?)
    }
    const LEN: usize = 1;
    #[inline]
    fn load_raw(slots: &[u128], store_id: u64) -> Self {
        A::from_raw(slots.first().copied().unwrap_or(0), store_id)
    }
    type Abi = A::Abi;
    const REG: bool = A::REG;
    #[inline]
    fn into_abi(self, store_id: u64) -> Option<A::Abi> {
        WasmTy::into_abi(self, store_id)
    }
    #[inline]
    fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()> {
        *slots.first_mut()? = self.into_raw(store_id)?;
        Some(())
    }
}

impl WasmParams for () {
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn into_vals(self) -> Vec<Val> {
        Vec::new()
    }
    const LEN: usize = 0;
    fn store_raw(self, _: &mut [u128], _: u64) -> Option<()> {
        Some(())
    }
}

impl WasmResults for () {
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn from_vals(_: &[Val]) -> Option<Self> {
        Some(())
    }
    const LEN: usize = 0;
    fn load_raw(_: &[u128], _: u64) -> Self {}
    type Abi = u64;
    const REG: bool = true;
    fn into_abi(self, _: u64) -> Option<u64> {
        Some(0)
    }
    fn store_raw(self, _: &mut [u128], _: u64) -> Option<()> {
        Some(())
    }
}

macro_rules! tuples {
    ($(($($n:ident $v:ident),*)),*) => {$(
        impl<$($n: WasmTy),*> WasmParams for ($($n,)*) {
            fn types() -> Vec<ValType> { alloc::vec![$($n::ty()),*] }
            fn into_vals(self) -> Vec<Val> { let ($($v,)*) = self; alloc::vec![$($v.into_val()),*] }
            const LEN: usize = [$(stringify!($n)),*].len();
            #[inline]
            fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()> {
                let ($($v,)*) = self;
                let mut it = slots.iter_mut();
                $(*it.next()? = $v.into_raw(store_id)?;)*
                Some(())
            }
        }
        impl<$($n: WasmTy),*> WasmResults for ($($n,)*) {
            fn types() -> Vec<ValType> { alloc::vec![$($n::ty()),*] }
            fn from_vals(v: &[Val]) -> Option<Self> {
                let mut it = v.iter();
                Some(($($n::from_val(*it.next()?)?,)*))
            }
            const LEN: usize = [$(stringify!($n)),*].len();
            #[inline]
            fn load_raw(slots: &[u128], store_id: u64) -> Self {
                let mut it = slots.iter();
                ($($n::from_raw(it.next().copied().unwrap_or(0), store_id),)*)
            }
            // Tuples of results go through the value array.
            type Abi = u64;
            const REG: bool = false;
            fn into_abi(self, _: u64) -> Option<u64> {
                Some(0)
            }
            #[inline]
            fn store_raw(self, slots: &mut [u128], store_id: u64) -> Option<()> {
                let ($($v,)*) = self;
                let mut it = slots.iter_mut();
                $(*it.next()? = $v.into_raw(store_id)?;)*
                Some(())
            }
        }
    )*};
}

tuples!(
    (A1 a1),
    (A1 a1, A2 a2),
    (A1 a1, A2 a2, A3 a3),
    (A1 a1, A2 a2, A3 a3, A4 a4),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16)
);

/// Most values a typed call passes or returns (the longest tuple).
const MAX_TYPED: usize = 16;
/// Slots of the array used for calls with at most this many values.
const SMALL_TYPED: usize = 4;

// === typed host functions ===

/// What a typed host function may return: results ([`WasmResults`]:
/// `()`, a [`WasmTy`], a tuple) or `Result<results, Trap>`.
pub trait WasmRet {
    /// The results.
    #[doc(hidden)]
    type Results: WasmResults;
    /// The results, or the trap to raise.
    #[doc(hidden)]
    fn into_results(self) -> Result<Self::Results, Trap>;
}

impl<R: WasmResults> WasmRet for R {
    type Results = R;
    #[inline]
    fn into_results(self) -> Result<R, Trap> {
        Ok(self)
    }
}

impl<R: WasmResults> WasmRet for Result<R, Trap> {
    type Results = R;
    #[inline]
    fn into_results(self) -> Result<R, Trap> {
        self
    }
}

/// A Rust closure usable as a typed host function: implemented for
/// `Fn(Caller<'_, T>, A1, ..., An) -> R` with every `Ai: WasmTy` (up to
/// 16) and `R: WasmRet`. See [`Func::wrap`] and [`crate::Linker::func_wrap`].
///
/// Name the [`Caller`] type in the closure (`|caller: Caller<'_, T>, x:
/// i32| ...`) so the closure accepts it for every lifetime.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The definition the linker and stores instantiate.
    #[doc(hidden)]
    fn into_host_def(self) -> HostDefinition<T>;
}

/// An opaque host function definition (see [`IntoFunc`]).
#[doc(hidden)]
pub struct HostDefinition<T>(pub(crate) HostDef<T>);

impl<T> core::fmt::Debug for HostDefinition<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("HostDefinition").field(&self.0.ty).finish()
    }
}

/// A typed closure as a host function callee.
struct Typed<F, P, R> {
    f: F,
    _types: PhantomData<fn(P) -> R>,
}

/// What a direct (register-passing) typed shim returns: the status (0 =
/// returned, 1 = a trap was recorded) and the result, if any. `repr(C)`:
/// on x86-64 the status comes back in `rax` and the result in `rdx` or
/// `xmm0`, as the direct trampoline's call expects.
#[repr(C)]
#[derive(Clone, Copy)]
struct DirectRet<X> {
    status: u64,
    value: X,
}

/// Whether typed host functions of these shapes take the direct,
/// register-passing trampoline on this target: x86-64 System V only for
/// now (there `DirectRet` comes back in registers, where Windows would
/// return it through memory); the array path works everywhere.
const fn direct_ok(params_reg: bool, results: usize, results_reg: bool) -> bool {
    cfg!(all(target_arch = "x86_64", unix)) && params_reg && results <= 1 && results_reg
}

macro_rules! into_func {
    ($(($($a:ident $v:ident),*)),*) => {$(
        impl<T, F, R, $($a,)*> IntoFunc<T, ($($a,)*), R> for F
        where
            T: 'static,
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: WasmRet + 'static,
            $($a: WasmTy + 'static,)*
        {
            fn into_host_def(self) -> HostDefinition<T> {
                let ty = FuncType::new(<($($a,)*) as WasmResults>::types(), <R::Results as WasmResults>::types());
                let callee = Typed::<F, ($($a,)*), R> { f: self, _types: PhantomData };
                let params_reg = true $(&& $a::REG)*;
                let results = <R::Results as WasmResults>::LEN;
                if direct_ok(params_reg, results, <R::Results as WasmResults>::REG) {
                    let shim = Typed::<F, ($($a,)*), R>::direct::<T> as *const u8;
                    HostDefinition(HostDef::with_shim(ty, callee, shim, true))
                } else {
                    HostDefinition(HostDef::new(ty, callee))
                }
            }
        }

        impl<F, R, $($a,)*> Typed<F, ($($a,)*), R>
        where
            R: WasmRet + 'static,
            $($a: WasmTy + 'static,)*
        {
            /// The entry the direct trampoline calls (see
            /// `build_wasm_to_host_direct`): arguments and the result in
            /// registers.
            ///
            /// # Safety
            /// `ctx` is a live `HostFuncCtx` whose `data` is a `Self` and
            /// whose `store` is the `StoreContext<T>` running wasm, with no
            /// Rust reference to it in use.
            unsafe extern "C" fn direct<T: 'static>(
                ctx: *mut HostFuncCtx,
                caller_vmctx: *mut u8,
                $($v: $a::Abi,)*
            ) -> DirectRet<<R::Results as WasmResults>::Abi>
            where
                F: Fn(Caller<'_, T>, $($a),*) -> R,
            {
                // SAFETY: contract; plain field reads.
                let (store, data) = unsafe { ((*ctx).store.cast::<StoreContext<T>>(), (*ctx).data.cast::<Self>()) };
                // SAFETY: contract: `data` is our callee, alive with the store.
                let this = unsafe { &*data };
                // SAFETY: contract: the store is live and ours for the call.
                let store_id = unsafe { (*store).core.id };
                // SAFETY: as above.
                let outcome = (this.f)(Caller { store: unsafe { &mut *store }, caller_vmctx }, $($a::from_abi($v, store_id)),*)
                    .into_results()
                    .and_then(|r| r.into_abi(store_id).ok_or_else(|| Trap::host("host function returned a foreign reference")));
                match outcome {
                    Ok(value) => DirectRet { status: 0, value },
                    Err(trap) => {
                        // SAFETY: the store is running wasm and the host
                        // function's borrow of it has ended.
                        unsafe { crate::vm::traps::set_pending(&raw mut (*store).core, trap) };
                        // SAFETY: the value is ignored when the status is
                        // non-zero; an all-zero register is a valid value
                        // of every `Abi` type (integers, floats).
                        DirectRet { status: 1, value: unsafe { core::mem::zeroed() } }
                    }
                }
            }
        }

        impl<T, F, R, $($a,)*> HostCallee<T> for Typed<F, ($($a,)*), R>
        where
            T: 'static,
            F: Fn(Caller<'_, T>, $($a),*) -> R + Send + Sync + 'static,
            R: WasmRet + 'static,
            $($a: WasmTy + 'static,)*
        {
            #[inline]
            unsafe fn invoke(&self, store: *mut StoreContext<T>, caller_vmctx: *mut u8, slots: &mut [u128]) -> Result<(), Trap> {
                // SAFETY: contract: the store is live and ours for the call.
                let store_id = unsafe { (*store).core.id };
                let ($($v,)*) = <($($a,)*) as WasmResults>::load_raw(slots, store_id);
                // SAFETY: as above.
                let results = (self.f)(Caller { store: unsafe { &mut *store }, caller_vmctx }, $($v),*).into_results()?;
                results.store_raw(slots, store_id).ok_or_else(|| Trap::host("host function returned a foreign reference"))
            }
        }
    )*};
}

into_func!(
    (),
    (A1 a1),
    (A1 a1, A2 a2),
    (A1 a1, A2 a2, A3 a3),
    (A1 a1, A2 a2, A3 a3, A4 a4),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15),
    (A1 a1, A2 a2, A3 a3, A4 a4, A5 a5, A6 a6, A7 a7, A8 a8, A9 a9, A10 a10, A11 a11, A12 a12, A13 a13, A14 a14, A15 a15, A16 a16)
);

// === typed calls ===

/// A function with statically known parameter and result types.
#[derive(Debug, Clone, Copy)]
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Call the function. Arguments and results cross in a stack array:
    /// no allocation, no dynamic type checks (the types were checked when
    /// the `TypedFunc` was made).
    ///
    /// # Errors
    /// [`Error::Trap`] if it traps; [`Error::Usage`] with a foreign store
    /// or a reference argument from another store.
    pub fn call(&self, store: &mut impl AsContextMut, params: P) -> Result<R> {
        // Small signatures get a small array (less stack to touch).
        if P::LEN <= SMALL_TYPED && R::LEN <= SMALL_TYPED {
            self.call_with::<SMALL_TYPED>(store.as_context_mut(), params)
        } else {
            self.call_with::<MAX_TYPED>(store.as_context_mut(), params)
        }
    }

    #[inline]
    fn call_with<const N: usize>(&self, cx: &mut StoreContext<impl Sized + 'static>, params: P) -> Result<R> {
        self.func.check(&cx.core)?;
        let store_id = cx.core.id;
        let mut slots = [0u128; N];
        params.store_raw(&mut slots, store_id).ok_or_else(|| Error::Usage("reference from another store".into()))?;
        self.func.call_raw(cx, &mut slots, 0)?;
        Ok(R::load_raw(&slots, store_id))
    }

    /// The untyped function.
    #[must_use]
    pub fn func(&self) -> Func {
        self.func
    }
}
