//! [`Func`]: a function in a store (wasm or host), dynamic and typed calls,
//! and host functions via [`Caller`].

#![expect(clippy::multiple_unsafe_ops_per_block, reason = "funcref field reads of one live store object")]

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::marker::PhantomData;

use crate::error::{Error, Result};
use crate::externs::Extern;
use crate::instance::Instance;
use crate::store::{AsContextMut, StoreContext};
use crate::trap::Trap;
use crate::types::{FuncType, ValType};
use crate::values::Val;
use crate::vm::layout::VMFuncRef;
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

unsafe extern "C" fn host_shim<T: 'static>(ctx: *mut HostFuncCtx, caller_vmctx: *mut u8, values: *mut u128, len: usize) -> u64 {
    // SAFETY: `ctx` is the HostFuncCtx this trampoline was created for; its
    // `store` is the live StoreContext<T> currently running wasm, and no
    // other Rust reference to it is in use while wasm runs.
    let ctx = unsafe { &*ctx };
    // SAFETY: as above.
    let store = unsafe { &mut *ctx.store.cast::<StoreContext<T>>() };
    // SAFETY: the trampoline passes a stack array of `len` slots.
    let slots = unsafe { core::slice::from_raw_parts_mut(values, len) };
    let outcome = call_host::<T>(ctx, store, caller_vmctx, slots);
    match outcome {
        Ok(()) => 0,
        Err(trap) => {
            // SAFETY: the store is running wasm (we were called from it).
            unsafe { crate::vm::traps::set_pending(&raw mut store.core, trap) };
            1
        }
    }
}

fn call_host<T: 'static>(
    ctx: &HostFuncCtx,
    store: &mut StoreContext<T>,
    caller_vmctx: *mut u8,
    slots: &mut [u128],
) -> Result<(), Trap> {
    let f = ctx.func.downcast_ref::<HostFn<T>>().ok_or_else(|| Trap::host("host function of another store type"))?.clone();
    let params: Vec<Val> =
        ctx.ty.params().iter().zip(slots.iter()).map(|(t, raw)| Val::from_raw(*raw, *t, &store.core)).collect();
    let mut results: Vec<Val> = ctx.ty.results().iter().map(|t| Val::default_for(*t)).collect();
    f(Caller { store: &mut *store, caller_vmctx }, &params, &mut results)?;
    for (i, (r, t)) in results.iter().zip(ctx.ty.results()).enumerate() {
        if !r.matches(&store.core, *t) {
            return Err(Trap::host("host function returned a value of the wrong type"));
        }
        slots[i] = r.to_raw(&store.core).map_err(|_| Trap::host("host function returned a foreign reference"))?;
    }
    Ok(())
}

impl Func {
    /// A host function of type `ty`.
    ///
    /// # Errors
    /// If the wasm-to-host trampoline cannot be compiled or published.
    pub fn new<T: 'static>(
        store: &mut impl AsContextMut<Data = T>,
        ty: FuncType,
        f: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), Trap> + Send + Sync + 'static,
    ) -> Result<Func> {
        let f: HostFn<T> = Arc::new(f);
        Self::from_host_fn(store.as_context_mut(), ty, f)
    }

    pub(crate) fn from_host_fn<T: 'static>(cx: &mut StoreContext<T>, ty: FuncType, f: HostFn<T>) -> Result<Func> {
        let store_ptr: *mut StoreContext<T> = cx;
        let core = &mut cx.core;
        let code = core.host_trampoline(&ty)?;
        let type_id = core.type_id(&ty);
        let mut ctx = Box::new(HostFuncCtx {
            shim: host_shim::<T>,
            store: store_ptr.cast(),
            func: Box::new(f),
            ty,
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
        store.core.type_of_id(id).cloned().ok_or_else(|| Error::Usage("unknown signature".into()))
    }

    /// The store-canonical signature id, `None` for a foreign store.
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
            // A host function: call its shim directly (no wasm on the stack).
            let ctx = vmctx.cast::<HostFuncCtx>();
            // SAFETY: host funcrefs' vmctx is their HostFuncCtx, owned by this store.
            let ctx_ref = unsafe { &*ctx };
            call_host::<T>(ctx_ref, cx, core::ptr::null_mut(), slots).map_err(Error::Trap)?;
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

/// A Rust type that maps to one wasm value type.
pub trait WasmTy: Sized {
    /// The wasm type.
    fn ty() -> ValType;
    /// To a value.
    fn into_val(self) -> Val;
    /// From a value of the right type.
    fn from_val(v: Val) -> Option<Self>;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $conv:expr, $back:expr) => {
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
        }
    };
}
wasm_ty!(i32, I32, Val::I32, |v| if let Val::I32(x) = v { Some(x) } else { None });
wasm_ty!(i64, I64, Val::I64, |v| if let Val::I64(x) = v { Some(x) } else { None });
wasm_ty!(f32, F32, |x: f32| Val::F32(x.to_bits()), |v| if let Val::F32(x) = v { Some(f32::from_bits(x)) } else { None });
wasm_ty!(f64, F64, |x: f64| Val::F64(x.to_bits()), |v| if let Val::F64(x) = v { Some(f64::from_bits(x)) } else { None });
wasm_ty!(u128, V128, Val::V128, |v| if let Val::V128(x) = v { Some(x) } else { None });

/// Parameter lists of typed functions: `()`, a [`WasmTy`], or a tuple.
pub trait WasmParams {
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// To values.
    fn into_vals(self) -> Vec<Val>;
}

/// Result lists of typed functions.
pub trait WasmResults: Sized {
    /// The wasm types.
    fn types() -> Vec<ValType>;
    /// From values of the right types.
    fn from_vals(v: &[Val]) -> Option<Self>;
}

impl<A: WasmTy> WasmParams for A {
    fn types() -> Vec<ValType> {
        alloc::vec![A::ty()]
    }
    fn into_vals(self) -> Vec<Val> {
        alloc::vec![self.into_val()]
    }
}

impl<A: WasmTy> WasmResults for A {
    fn types() -> Vec<ValType> {
        alloc::vec![A::ty()]
    }
    fn from_vals(v: &[Val]) -> Option<Self> {
        A::from_val(*v.first()?)
    }
}

macro_rules! tuples {
    ($(($($n:ident),*)),*) => {$(
        #[expect(non_snake_case, reason = "type parameters double as bindings")]
        impl<$($n: WasmTy),*> WasmParams for ($($n,)*) {
            fn types() -> Vec<ValType> { alloc::vec![$($n::ty()),*] }
            fn into_vals(self) -> Vec<Val> { let ($($n,)*) = self; alloc::vec![$($n.into_val()),*] }
        }
        impl<$($n: WasmTy),*> WasmResults for ($($n,)*) {
            fn types() -> Vec<ValType> { alloc::vec![$($n::ty()),*] }
            fn from_vals(v: &[Val]) -> Option<Self> {
                let mut it = v.iter();
                Some(($($n::from_val(*it.next()?)?,)*))
            }
        }
    )*};
}
impl WasmParams for () {
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn into_vals(self) -> Vec<Val> {
        Vec::new()
    }
}

impl WasmResults for () {
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn from_vals(_: &[Val]) -> Option<Self> {
        Some(())
    }
}

tuples!((A, B), (A, B, C), (A, B, C, D), (A, B, C, D, E));

/// A function with statically known parameter and result types.
#[derive(Debug, Clone, Copy)]
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Call the function.
    ///
    /// # Errors
    /// [`Error::Trap`] if it traps; [`Error::Usage`] with a foreign store.
    pub fn call(&self, store: &mut impl AsContextMut, params: P) -> Result<R> {
        let cx = store.as_context_mut();
        let ty = self.func.ty(cx)?;
        let params = params.into_vals();
        let mut results: Vec<Val> = ty.results().iter().map(|t| Val::default_for(*t)).collect();
        self.func.call_unchecked(cx, &ty, &params, &mut results)?;
        R::from_vals(&results).ok_or_else(|| Error::Usage("result types".into()))
    }

    /// The untyped function.
    #[must_use]
    pub fn func(&self) -> Func {
        self.func
    }
}
