//! The kernel heap: `talc` behind the kernel's interrupt-safe spin lock,
//! growing on demand by mapping fresh frames at the top of a fixed virtual
//! reservation (see `space::HEAP_RESERVATION`).
//!
//! Allocation failure is never a panic here: `alloc` returns null (Rust's
//! `try_reserve`/`Box::try_new`-style callers see an error; infallible
//! collections end in the alloc error handler, a kernel bug report).

use super::{MemError, space};
use crate::sync::SpinLock;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{NonNull, null_mut};
use hypha_kmem::{PAGE_SIZE, VirtAddr, align_up};
use talc::{OomHandler, Span, Talc};

/// Heap mapped at boot.
const INITIAL_BYTES: usize = 1024 * 1024;
/// Smallest growth step.
const GROW_MIN_BYTES: usize = 256 * 1024;
/// Slack for talc's chunk tags and alignment padding when growing.
const GROW_SLACK_BYTES: usize = 256;

/// How the heap grows: the reservation and how much of it is mapped.
#[derive(Debug)]
struct Grower {
    /// Start of the reservation (0 before `init`).
    start: usize,
    /// End of the mapped part.
    mapped_end: usize,
    /// End of the reservation.
    reserved_end: usize,
    /// The span talc manages (empty until the first claim).
    heap: Span,
}

impl Grower {
    /// Maps at least `min_bytes` more and hands them to talc.
    fn grow(talc: &mut Talc<Self>, min_bytes: usize) -> Result<(), MemError> {
        let grower = &talc.oom_handler;
        if grower.start == 0 {
            return Err(MemError::NotInitialized);
        }
        let wanted =
            align_up(min_bytes.max(GROW_MIN_BYTES), PAGE_SIZE).ok_or(MemError::InvalidSize)?;
        let mapped_end = grower.mapped_end;
        if wanted > grower.reserved_end - mapped_end {
            return Err(MemError::OutOfAddressSpace);
        }
        // Fail fast when the frames cannot possibly suffice, instead of
        // mapping all free memory and rolling it back.
        let (_, free_frames) = super::frames::counts();
        if wanted / PAGE_SIZE > free_frames {
            return Err(MemError::OutOfMemory);
        }
        space::map_new_memory(VirtAddr::new(mapped_end), wanted, space::KERNEL_RW)?;
        let new_end = mapped_end + wanted;
        let base: *mut u8 = core::ptr::with_exposed_provenance_mut(grower.start);
        let acme: *mut u8 = core::ptr::with_exposed_provenance_mut(new_end);
        let requested = Span::new(base, acme);
        let heap = if grower.heap.is_empty() {
            // SAFETY: `[start, new_end)` was just mapped read-write for the
            // kernel and is used by nothing else; it does not contain null.
            unsafe { talc.claim(requested) }.map_err(|()| MemError::OutOfMemory)?
        } else {
            // SAFETY: `heap` came from `claim`/`extend` on this talc, and the
            // added `[mapped_end, new_end)` was just mapped read-write and is
            // used by nothing else.
            unsafe { talc.extend(talc.oom_handler.heap, requested) }
        };
        talc.oom_handler.heap = heap;
        talc.oom_handler.mapped_end = new_end;
        Ok(())
    }
}

impl OomHandler for Grower {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        let needed = layout
            .size()
            .saturating_add(layout.align())
            .saturating_add(GROW_SLACK_BYTES);
        Self::grow(talc, needed).map_err(|_| ())
    }
}

/// `Talc` holds raw pointers into the heap, which makes it `!Send`.
struct HeapState(Talc<Grower>);

// SAFETY: the pointers inside point into the kernel heap, which is mapped
// (global) in the one kernel address space every hart shares, so the
// allocator may be used from any hart; `SpinLock` serialises all access.
unsafe impl Send for HeapState {}

/// The global allocator.
struct KernelHeap {
    state: SpinLock<HeapState>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    state: SpinLock::new(HeapState(Talc::new(Grower {
        start: 0,
        mapped_end: 0,
        reserved_end: 0,
        heap: Span::empty(),
    }))),
};

// SAFETY: every method forwards to talc under the lock, with the layouts
// and pointers the caller passed (GlobalAlloc's own contract); talc only
// hands out memory inside the heap spans it was given, which are mapped
// read-write for as long as the kernel runs (the heap never shrinks).
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut state = self.state.lock();
        // SAFETY: GlobalAlloc callers pass a non-zero-sized layout.
        unsafe { state.0.malloc(layout) }.map_or(null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(ptr) = NonNull::new(ptr) else { return };
        let mut state = self.state.lock();
        // SAFETY: the caller guarantees `ptr` came from this allocator with
        // `layout` and is not used after this call.
        unsafe { state.0.free(ptr, layout) };
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(old) = NonNull::new(ptr) else {
            return null_mut();
        };
        let mut state = self.state.lock();
        if new_size > layout.size() {
            // SAFETY: the caller guarantees `ptr` is a live allocation of
            // `layout` and `new_size` is a valid size for its alignment.
            unsafe { state.0.grow(old, layout, new_size) }.map_or(null_mut(), NonNull::as_ptr)
        } else {
            // SAFETY: as above, with `new_size` <= the current size.
            unsafe { state.0.shrink(old, layout, new_size) };
            ptr
        }
    }
}

/// Sets the heap's reservation and maps the first [`INITIAL_BYTES`].
pub(super) fn init() -> Result<(), MemError> {
    let start = space::heap_base()?;
    let mut state = HEAP.state.lock();
    let talc = &mut state.0;
    talc.oom_handler.start = start;
    talc.oom_handler.mapped_end = start;
    talc.oom_handler.reserved_end = start + space::HEAP_RESERVATION;
    Grower::grow(talc, INITIAL_BYTES)
}

/// Heap statistics.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HeapStats {
    pub used_bytes: usize,
    pub capacity_bytes: usize,
    pub reserved_bytes: usize,
}

/// Current heap statistics.
pub(super) fn stats() -> HeapStats {
    let state = HEAP.state.lock();
    let counters = state.0.get_counters();
    let grower = &state.0.oom_handler;
    HeapStats {
        used_bytes: counters.allocated_bytes,
        capacity_bytes: grower.mapped_end - grower.start,
        reserved_bytes: grower.reserved_end - grower.start,
    }
}
