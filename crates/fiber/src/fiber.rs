//! The typed fiber: create, resume, suspend, cancel.
//!
//! Layout at the top of a fiber stack (all on the fiber's own memory, so a
//! `Fiber` value can move freely and creating one does not allocate beyond
//! the stack itself):
//!
//! ```text
//!  top ─►  Shared<Resume, Yield, Return>   (stack pointers, value slot, flags)
//!          F (the closure, until the first resume moves it onto the frame)
//!          first switch frame  (see arch::init_stack)
//!          ... the fiber's frames grow down toward the guard ...
//! ```

use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::marker::PhantomData;
use core::mem::{self, ManuallyDrop};
use core::ptr::{self, NonNull};

#[cfg(feature = "std")]
use alloc::boxed::Box;

use crate::arch;
use crate::stack::{FiberStack, STACK_ALIGN, StackError, StackRegion};

// === impl FiberResult, Cancelled ===

/// What [`Fiber::resume`] came back with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FiberResult<Yield, Return> {
    /// The fiber called [`Suspend::suspend`] with this value; it can be resumed again.
    Yield(Yield),
    /// The closure returned this value; the fiber is finished.
    Return(Return),
}

/// Returned by [`Suspend::suspend`] when the fiber is being cancelled (the
/// [`Fiber`] was dropped, or [`Fiber::cancel`] / [`Fiber::into_stack`] was
/// called, while it was suspended).
///
/// From then on every `suspend` returns `Err(Cancelled)` at once without
/// switching, so the closure cannot yield any more: it must wind down and
/// return. Whatever it returns is dropped (or handed to `Fiber::cancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fiber cancelled")
    }
}

impl core::error::Error for Cancelled {}

// === Shared state ===

/// The value travelling across one switch.
enum Transfer<Resume, Yield, Return> {
    Empty,
    Resume(Resume),
    Cancel,
    Yield(Yield),
    Return(Return),
    #[cfg(feature = "std")]
    Panic(Box<dyn core::any::Any + Send + 'static>),
}

/// Bookkeeping at the top of the fiber stack. Only ever accessed through raw
/// pointers or shared references (interior mutability): both sides of a
/// switch touch it, and the compiler must treat the switch as a call that
/// may change it.
struct Shared<Resume, Yield, Return> {
    /// Stack pointer of whoever resumed the fiber (valid while it runs).
    parent_sp: Cell<usize>,
    /// Stack pointer of the fiber (valid while it is suspended or not started).
    fiber_sp: Cell<usize>,
    transfer: UnsafeCell<Transfer<Resume, Yield, Return>>,
    /// Set once a `Cancel` was delivered; `suspend` stops switching.
    cancelled: Cell<bool>,
    /// Where the closure waits for the first resume.
    closure: *mut u8,
    region: StackRegion,
}

impl<R, Y, Ret> Shared<R, Y, Ret> {
    /// Takes the value left by the other side of the last switch.
    ///
    /// # Safety
    ///
    /// Called by the context currently running (resumer or fiber, never both
    /// at once), with no reference into `transfer` alive.
    unsafe fn take(&self) -> Transfer<R, Y, Ret> {
        // SAFETY: per the contract, nobody else holds a reference into the
        // slot; only the context currently running touches it.
        unsafe { mem::replace(&mut *self.transfer.get(), Transfer::Empty) }
    }

    /// Leaves a value for the other side of the next switch.
    ///
    /// # Safety
    ///
    /// As for [`Shared::take`].
    unsafe fn put(&self, value: Transfer<R, Y, Ret>) {
        // SAFETY: only the running context touches the slot (contract), and
        // this shared borrow ends before the write below.
        debug_assert!(matches!(unsafe { &*self.transfer.get() }, Transfer::Empty));
        // SAFETY: as in `take`. The slot is `Empty` here (each value is
        // taken by the side it was left for), so overwriting it without
        // dropping leaks nothing.
        unsafe { self.transfer.get().write(value) };
    }

    /// Switches from the fiber back to its resumer.
    ///
    /// # Safety
    ///
    /// Called on this fiber's stack while it runs; returns when the fiber is
    /// resumed (or never, if the state is then `Done`).
    unsafe fn switch_out(&self) {
        // SAFETY: the fiber is running, so `parent_sp` holds the resumer's
        // context saved by the switch that entered the fiber; ours goes to
        // `fiber_sp` for the next resume.
        unsafe { arch::switch(self.fiber_sp.as_ptr(), self.parent_sp.get()) };
    }

    /// Switches from the resumer onto the fiber.
    ///
    /// # Safety
    ///
    /// The fiber is suspended or not started (its context is in `fiber_sp`).
    unsafe fn switch_in(&self) {
        // SAFETY: `fiber_sp` holds a context saved by `switch` or built by
        // `init_stack` on the fiber's live stack; `parent_sp` is ours to
        // overwrite. Returns once the fiber switches back.
        unsafe { arch::switch(self.parent_sp.as_ptr(), self.fiber_sp.get()) };
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Created; the closure sits on the stack, not yet called.
    NotStarted,
    /// Inside `suspend`, waiting for a resume.
    Suspended,
    /// The closure returned (or panicked, or was dropped unstarted).
    Done,
}

// === impl Fiber ===

/// A stackful coroutine running a closure on its own [`FiberStack`].
///
/// `Resume` values go in through [`resume`](Self::resume) (the first one is
/// the closure's argument), `Yield` values come out of
/// [`Suspend::suspend`], and the closure's `Return` value ends the fiber.
///
/// Not `Send`: values on the fiber stack may be tied to the thread (thread
/// locals borrowed across a suspension, lock guards). See [`SendFiber`] for
/// the opt-in used by a work-stealing executor.
///
/// **Dropping** a suspended fiber cancels it: the pending
/// [`Suspend::suspend`] returns `Err(Cancelled)` and the closure runs to its
/// end, so every value on the fiber stack is dropped normally before the
/// stack is freed. A fiber that was never resumed just drops its closure.
pub struct Fiber<'a, Resume, Yield, Return> {
    shared: NonNull<Shared<Resume, Yield, Return>>,
    state: State,
    /// Drops the closure in place if the fiber never started.
    drop_closure: unsafe fn(*mut u8),
    stack: ManuallyDrop<FiberStack>,
    /// `'a`: the closure may borrow for `'a`. The raw pointer makes the
    /// fiber `!Send`/`!Sync` and invariant in the value types.
    _marker: PhantomData<(&'a (), *mut (Resume, Yield, Return))>,
}

impl<R, Y, Ret> fmt::Debug for Fiber<'_, R, Y, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fiber")
            .field("state", &self.state)
            .field("stack", &self.stack.region())
            .finish_non_exhaustive()
    }
}

/// Rounds `addr` down to `align` (a power of two).
const fn align_down(addr: usize, align: usize) -> usize {
    addr & !(align - 1)
}

impl<'a, Resume, Yield, Return> Fiber<'a, Resume, Yield, Return> {
    /// Prepares `f` to run on `stack`. Nothing runs until the first
    /// [`resume`](Self::resume), whose value becomes `f`'s first argument.
    ///
    /// # Errors
    ///
    /// [`StackError::TooSmall`] if the stack cannot hold the bookkeeping,
    /// the closure and the first frame (the stack is freed, the closure dropped).
    pub fn new<F>(stack: FiberStack, f: F) -> Result<Self, StackError>
    where
        F: FnOnce(Resume, &Suspend<Resume, Yield, Return>) -> Return + 'a,
    {
        let region = stack.region();
        let too_small = || StackError::TooSmall {
            requested: region.usable_size(),
            minimum: mem::size_of::<Shared<Resume, Yield, Return>>()
                + mem::align_of::<Shared<Resume, Yield, Return>>()
                + mem::size_of::<F>()
                + mem::align_of::<F>()
                + STACK_ALIGN
                + arch::INIT_FRAME_SIZE,
        };
        let shared_addr = region
            .top()
            .checked_sub(mem::size_of::<Shared<Resume, Yield, Return>>())
            .map(|a| align_down(a, mem::align_of::<Shared<Resume, Yield, Return>>()));
        let closure_addr = shared_addr
            .and_then(|a| a.checked_sub(mem::size_of::<F>()))
            .map(|a| align_down(a, mem::align_of::<F>()));
        let frame_top = closure_addr.map(|a| align_down(a, STACK_ALIGN));
        let (Some(shared_addr), Some(closure_addr), Some(frame_top)) = (shared_addr, closure_addr, frame_top) else {
            return Err(too_small());
        };
        if frame_top
            .checked_sub(arch::INIT_FRAME_SIZE)
            .is_none_or(|sp| sp <= region.limit())
        {
            return Err(too_small());
        }

        let closure = ptr::with_exposed_provenance_mut::<F>(closure_addr);
        let shared = ptr::with_exposed_provenance_mut::<Shared<Resume, Yield, Return>>(shared_addr);
        // SAFETY: `[closure_addr, top)` lies in the usable part of a stack
        // this fiber owns exclusively (checked against `limit` above), and
        // both addresses are aligned for their types.
        unsafe { closure.write(f) };
        // SAFETY: `[frame_top - INIT_FRAME_SIZE, frame_top)` is owned, above
        // `limit` and below the closure; `frame_top` is 16-aligned.
        let sp = unsafe { arch::init_stack(frame_top, entry::<F, Resume, Yield, Return>, shared.cast::<u8>()) };
        // SAFETY: as for the closure; `shared` does not overlap the closure
        // (it was placed above it).
        unsafe {
            shared.write(Shared {
                parent_sp: Cell::new(0),
                fiber_sp: Cell::new(sp),
                transfer: UnsafeCell::new(Transfer::Empty),
                cancelled: Cell::new(false),
                closure: closure.cast::<u8>(),
                region,
            });
        }

        Ok(Self {
            // SAFETY: `shared_addr` is an address inside a live mapping, never 0.
            shared: unsafe { NonNull::new_unchecked(shared) },
            state: State::NotStarted,
            drop_closure: drop_closure::<F>,
            stack: ManuallyDrop::new(stack),
            _marker: PhantomData,
        })
    }

    /// The bookkeeping at the top of the stack.
    fn shared(&self) -> &Shared<Resume, Yield, Return> {
        // SAFETY: `Shared` lives at the top of `self.stack` from `new` until
        // `drop`/`into_stack`, which do not call this afterwards.
        unsafe { self.shared.as_ref() }
    }

    /// Runs the fiber until it suspends or returns. `value` is the closure's
    /// argument on the first resume and the result of the pending
    /// [`Suspend::suspend`] afterwards.
    ///
    /// With the `std` feature a panic inside the closure is caught on the
    /// fiber stack and re-raised here (the fiber is then finished).
    ///
    /// # Panics
    ///
    /// If the fiber already finished ([`is_finished`](Self::is_finished)),
    /// like polling a completed future; or re-raising the closure's panic.
    pub fn resume(&mut self, value: Resume) -> FiberResult<Yield, Return> {
        assert!(self.state != State::Done, "resumed a finished fiber");
        // SAFETY: the fiber is not running (we hold `&mut self` and it is
        // suspended or not started), so nothing references the slot.
        unsafe { self.shared().put(Transfer::Resume(value)) };
        match self.switch_in() {
            Transfer::Yield(y) => {
                self.state = State::Suspended;
                FiberResult::Yield(y)
            }
            Transfer::Return(r) => {
                self.state = State::Done;
                FiberResult::Return(r)
            }
            #[cfg(feature = "std")]
            Transfer::Panic(payload) => {
                self.state = State::Done;
                std::panic::resume_unwind(payload)
            }
            Transfer::Empty | Transfer::Resume(_) | Transfer::Cancel => {
                unreachable!("fiber switched back without leaving a yield or return value")
            }
        }
    }

    /// Cancels the fiber if it is suspended: the pending
    /// [`Suspend::suspend`] returns `Err(Cancelled)` and the closure runs to
    /// its end. Returns what it returned; `None` if the fiber never started
    /// (its closure is dropped) or had already finished.
    ///
    /// # Panics
    ///
    /// With `std`, re-raises a panic of the closure while winding down.
    pub fn cancel(&mut self) -> Option<Return> {
        match self.cancel_inner() {
            Ok(r) => r,
            #[cfg(feature = "std")]
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    /// Finishes the fiber as [`cancel`](Self::cancel) does and gives the
    /// stack back for reuse by another fiber (stack pooling).
    ///
    /// # Panics
    ///
    /// With `std`, re-raises a panic of the closure while winding down (the
    /// stack is then freed).
    #[must_use = "dropping the stack frees it; use drop(fiber) for that"]
    pub fn into_stack(mut self) -> FiberStack {
        self.cancel();
        let mut this = ManuallyDrop::new(self);
        // SAFETY: the fiber is finished (closure returned or dropped, slot
        // empty), so `Shared` is dropped once and never used again.
        unsafe { ptr::drop_in_place(this.shared.as_ptr()) };
        // SAFETY: `this` is never dropped, so the stack is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.stack) }
    }

    /// Has the closure returned (or panicked, or been dropped unstarted)?
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The stack this fiber runs on.
    #[must_use]
    pub fn stack(&self) -> StackRegion {
        self.stack.region()
    }

    /// Winds the fiber down; returns the panic payload instead of raising it.
    #[cfg_attr(
        not(feature = "std"),
        expect(clippy::unnecessary_wraps, reason = "Err carries panics with std")
    )]
    fn cancel_inner(&mut self) -> Result<Option<Return>, PanicPayload> {
        match self.state {
            State::Done => Ok(None),
            State::NotStarted => {
                // Done first: if the closure's destructor panics, `Drop`
                // must not drop it again.
                self.state = State::Done;
                // SAFETY: the fiber never ran, so the closure written by
                // `new` is still at `closure`, and it is dropped only here.
                unsafe { (self.drop_closure)(self.shared().closure) };
                Ok(None)
            }
            State::Suspended => {
                // SAFETY: the fiber is suspended, nothing references the slot.
                unsafe { self.shared().put(Transfer::Cancel) };
                let out = self.switch_in();
                self.state = State::Done;
                match out {
                    Transfer::Return(r) => Ok(Some(r)),
                    #[cfg(feature = "std")]
                    Transfer::Panic(payload) => Err(payload),
                    Transfer::Yield(_) | Transfer::Empty | Transfer::Resume(_) | Transfer::Cancel => {
                        unreachable!("a cancelled fiber switched back without returning")
                    }
                }
            }
        }
    }

    /// Switches onto the fiber and returns what it left when it switched back.
    fn switch_in(&mut self) -> Transfer<Resume, Yield, Return> {
        let shared = self.shared();
        #[cfg(feature = "std")]
        let previous = crate::current::enter(shared.region);
        // SAFETY: callers only switch in while the state is `NotStarted` or
        // `Suspended`.
        unsafe { shared.switch_in() };
        #[cfg(feature = "std")]
        crate::current::leave(previous);
        // SAFETY: the fiber is suspended or finished again; we are the
        // running context.
        unsafe { shared.take() }
    }
}

#[cfg(feature = "std")]
type PanicPayload = Box<dyn core::any::Any + Send + 'static>;
#[cfg(not(feature = "std"))]
type PanicPayload = core::convert::Infallible;

impl<R, Y, Ret> Drop for Fiber<'_, R, Y, Ret> {
    fn drop(&mut self) {
        let result = self.cancel_inner();
        // SAFETY: the fiber is finished: its closure has returned or been
        // dropped, the slot is empty, so `Shared` is dropped once and never
        // used again.
        unsafe { ptr::drop_in_place(self.shared.as_ptr()) };
        // SAFETY: dropped once, here; `into_stack` skips this `Drop`.
        unsafe { ManuallyDrop::drop(&mut self.stack) };
        #[cfg(feature = "std")]
        if let Err(payload) = result
            && !std::thread::panicking()
        {
            std::panic::resume_unwind(payload);
        }
        #[cfg(not(feature = "std"))]
        let Ok(_) = result;
    }
}

/// Drops a closure of type `F` in place.
///
/// # Safety
///
/// `p` points to a live `F` that is not used afterwards.
unsafe fn drop_closure<F>(p: *mut u8) {
    // SAFETY: forwarded from the caller.
    unsafe { ptr::drop_in_place(p.cast::<F>()) };
}

/// First Rust code on a fiber stack: runs the closure, leaves its result,
/// switches back for good.
///
/// # Safety
///
/// Entered only through `init_stack`'s frame with `data` pointing to the
/// fiber's `Shared`, whose `closure` holds an `F`, with `Transfer::Resume`
/// in the slot.
unsafe extern "C" fn entry<F, Resume, Yield, Return>(data: *mut u8) -> !
where
    F: FnOnce(Resume, &Suspend<Resume, Yield, Return>) -> Return,
{
    // SAFETY: `data` is the fiber's `Shared`, alive while the fiber runs;
    // only shared references to it exist (mutation goes through cells).
    let shared = unsafe { &*data.cast::<Shared<Resume, Yield, Return>>().cast_const() };
    // SAFETY: the closure written by `Fiber::new` is read exactly once,
    // here; `Fiber` no longer drops it because the state is not `NotStarted`
    // once this runs.
    let f = unsafe { ptr::read(shared.closure.cast::<F>()) };
    // SAFETY: we are the running context; the resumer left a value.
    let first = match unsafe { shared.take() } {
        Transfer::Resume(value) => value,
        _ => unreachable!("a fiber was started without a resume value"),
    };
    let suspend = Suspend {
        shared: ptr::from_ref(shared),
        _marker: PhantomData,
    };

    #[cfg(feature = "std")]
    let out = match std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| f(first, &suspend))) {
        Ok(r) => Transfer::Return(r),
        Err(payload) => Transfer::Panic(payload),
    };
    #[cfg(not(feature = "std"))]
    let out = Transfer::Return(f(first, &suspend));

    // SAFETY: still the running context, the slot is empty.
    unsafe { shared.put(out) };
    // SAFETY: running on the fiber's stack; the context saved here is never
    // resumed because the resumer sets the state to `Done`.
    unsafe { shared.switch_out() };
    unreachable!("a finished fiber was resumed")
}

// === impl Suspend ===

/// The fiber's side: passed by reference to the closure, lets it
/// [`suspend`](Self::suspend). It cannot leave the closure (the reference is
/// only valid during the call) nor the thread.
pub struct Suspend<Resume, Yield, Return> {
    shared: *const Shared<Resume, Yield, Return>,
    _marker: PhantomData<*mut (Resume, Yield, Return)>,
}

impl<R, Y, Ret> fmt::Debug for Suspend<R, Y, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suspend")
            .field("stack", &self.stack())
            .finish_non_exhaustive()
    }
}

impl<Resume, Yield, Return> Suspend<Resume, Yield, Return> {
    /// Switches back to the resumer, which gets `FiberResult::Yield(value)`,
    /// and returns the value of the next [`Fiber::resume`].
    ///
    /// # Errors
    ///
    /// [`Cancelled`] when the fiber is being dropped or cancelled; the
    /// closure should then return promptly. After the first `Cancelled`
    /// this returns `Err(Cancelled)` immediately (dropping `value`).
    ///
    /// # Panics
    ///
    /// If called from a different stack than this fiber's own (a `&Suspend`
    /// smuggled into a nested fiber's closure).
    pub fn suspend(&self, value: Yield) -> Result<Resume, Cancelled> {
        let shared = self.shared();
        assert!(
            shared.region.contains(arch::stack_pointer()),
            "Suspend::suspend called on another stack than its fiber's"
        );
        if shared.cancelled.get() {
            return Err(Cancelled);
        }
        // SAFETY: this fiber is the running context; nothing else touches the slot.
        unsafe { shared.put(Transfer::Yield(value)) };
        // SAFETY: we are running on this fiber's stack (checked above); the
        // next resume or cancel switches back here.
        unsafe { shared.switch_out() };
        // SAFETY: running again; the resumer left a value.
        match unsafe { shared.take() } {
            Transfer::Resume(value) => Ok(value),
            Transfer::Cancel => {
                shared.cancelled.set(true);
                Err(Cancelled)
            }
            _ => unreachable!("a fiber was resumed without a resume value"),
        }
    }

    /// Has a cancellation been delivered to this fiber?
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.shared().cancelled.get()
    }

    /// The stack this fiber runs on (its guard range and usable limit).
    #[must_use]
    pub fn stack(&self) -> StackRegion {
        self.shared().region
    }

    /// The fiber's bookkeeping.
    fn shared(&self) -> &Shared<Resume, Yield, Return> {
        // SAFETY: a `Suspend` is only reachable by reference inside the
        // closure call, while the fiber's stack and its `Shared` are alive.
        unsafe { &*self.shared }
    }
}

// === impl SendFiber ===

/// A [`Fiber`] that may move between threads while suspended, for tasks of
/// a work-stealing executor.
pub struct SendFiber<'a, Resume, Yield, Return>(Fiber<'a, Resume, Yield, Return>);

// SAFETY: `SendFiber::new` requires the closure and the value types to be
// `Send` and makes the caller promise that nothing tied to a thread lives on
// the fiber stack across a suspension.
unsafe impl<R: Send, Y: Send, Ret: Send> Send for SendFiber<'_, R, Y, Ret> {}

impl<R, Y, Ret> fmt::Debug for SendFiber<'_, R, Y, Ret> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SendFiber").field(&self.0).finish()
    }
}

impl<'a, Resume: Send, Yield: Send, Return: Send> SendFiber<'a, Resume, Yield, Return> {
    /// As [`Fiber::new`], for a fiber that may be resumed on another thread
    /// than the one it last suspended on.
    ///
    /// # Errors
    ///
    /// As [`Fiber::new`].
    ///
    /// # Safety
    ///
    /// Across every [`Suspend::suspend`] the closure holds nothing tied to
    /// the current thread or CPU: no borrow of a thread-local or per-CPU
    /// value, no guard of a lock that must be released on the locking
    /// thread, no `!Send` value shared with code outside the fiber.
    ///
    /// That includes what the compiler may hold: within one function it may
    /// compute a thread-local's address once and reuse it after a call, so
    /// code on the fiber must reach thread-locals (and per-CPU data) only
    /// through functions that are not inlined into a frame that suspends
    /// (as [`current_stack`](crate::current_stack) is).
    pub unsafe fn new<F>(stack: FiberStack, f: F) -> Result<Self, StackError>
    where
        F: FnOnce(Resume, &Suspend<Resume, Yield, Return>) -> Return + Send + 'a,
    {
        Fiber::new(stack, f).map(Self)
    }

    /// See [`Fiber::resume`].
    pub fn resume(&mut self, value: Resume) -> FiberResult<Yield, Return> {
        self.0.resume(value)
    }

    /// See [`Fiber::cancel`].
    pub fn cancel(&mut self) -> Option<Return> {
        self.0.cancel()
    }

    /// See [`Fiber::into_stack`].
    #[must_use = "dropping the stack frees it; use drop(fiber) for that"]
    pub fn into_stack(self) -> FiberStack {
        self.0.into_stack()
    }

    /// See [`Fiber::is_finished`].
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }

    /// See [`Fiber::stack`].
    #[must_use]
    pub fn stack(&self) -> StackRegion {
        self.0.stack()
    }
}
