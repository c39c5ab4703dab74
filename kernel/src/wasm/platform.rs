//! [`KernelPlatform`]: `hypha-wasm`'s [`Platform`] over kernel
//! [`Reservation`]s.
//!
//! Every `reserve` is one reservation (region kind `WasmMemory`, pages
//! read-write when committed). A linear memory (`reserve_memory`) is a
//! demand-zero reservation: `ReadWrite` (memory.grow) only makes pages
//! accessible, and the trap handler commits each page (a fresh zeroed
//! frame) when it is first loaded from or stored to, by compiled code or
//! by the kernel writing data segments or host-call results (see
//! `mem/demand.rs`). Other reservations map the runtime's protection
//! changes like this:
//!
//! - `ReadWrite` on pages never committed commits them (fresh zeroed
//!   frames): code being written, a fiber stack (and a linear memory
//!   when the demand-zero table is full); on committed pages it changes
//!   their rights back to read-write.
//! - `ReadExecute` (only through `publish_code`) makes committed pages
//!   read+execute, never writable, then runs `fence.i` here and on every
//!   other hart through the SBI remote fence.
//! - `None` decommits (unmaps and frees).
//!
//! The current activation is a per-hart slot: compiled code never
//! migrates between harts mid-call (a fiber suspended in wasm saves and
//! restores the slot around every switch, see `hypha_wasm::vm::fiber`).

extern crate alloc;

use alloc::collections::BTreeMap;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use hypha_boot_info::MAX_HARTS;
use hypha_kmem::{PAGE_SIZE, PageFlags, RegionKind, VirtAddr};
use hypha_wasm::platform::{Platform, PlatformError, Protection};

use crate::mem::{MemError, Reservation};
use crate::sync::SpinLock;

/// Each hart's innermost wasm activation (null: none).
static ACTIVATIONS: [AtomicPtr<u8>; MAX_HARTS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_HARTS];

/// The kernel platform. All engines share the reservations table.
#[derive(Debug)]
pub struct KernelPlatform {
    /// Live reservations by start address.
    reservations: SpinLock<BTreeMap<usize, Reservation>>,
}

impl KernelPlatform {
    /// A platform with no reservations.
    #[must_use]
    pub fn new() -> Self {
        Self { reservations: SpinLock::new(BTreeMap::new()) }
    }

    /// Records a fresh reservation and returns its start.
    fn insert(&self, reservation: Reservation) -> Result<NonNull<u8>, PlatformError> {
        let start = reservation.start().as_usize();
        // The range may have been another reservation's, unmapped by
        // another hart (whose unmap flushed only its own TLB): drop this
        // hart's stale translations before it writes here. Other harts
        // flush before every process poll (`proc`), the only way they
        // reach a reservation; a stale invalid entry is also harmless for
        // demand-zero memory (the fault path flushes and retries).
        crate::arch::csr::flush_tlb();
        let pointer = NonNull::new(core::ptr::with_exposed_provenance_mut::<u8>(start)).ok_or(PlatformError::OutOfMemory)?;
        self.reservations.lock().insert(start, reservation);
        Ok(pointer)
    }

    /// Runs `f` on the reservation containing `[ptr, ptr + len)` with the
    /// range's offset in it.
    fn with_reservation<T>(
        &self,
        ptr: NonNull<u8>,
        len: usize,
        f: impl FnOnce(&mut Reservation, usize) -> Result<T, PlatformError>,
    ) -> Result<T, PlatformError> {
        let start = ptr.as_ptr().addr();
        let mut reservations = self.reservations.lock();
        let (base, reservation) = reservations.range_mut(..=start).next_back().ok_or(PlatformError::Refused)?;
        let offset = start - *base;
        let end = offset.checked_add(len).ok_or(PlatformError::Refused)?;
        if end > reservation.len_bytes() {
            return Err(PlatformError::Refused);
        }
        f(reservation, offset)
    }
}

/// Whether the page at `address` is mapped.
fn is_committed(address: usize) -> bool {
    crate::mem::translate(VirtAddr::new(address)).is_some()
}

fn map_error(error: MemError) -> PlatformError {
    match error {
        MemError::OutOfMemory | MemError::OutOfAddressSpace => PlatformError::OutOfMemory,
        _ => PlatformError::Refused,
    }
}

/// Commits every page of `[offset, offset + len)` that is not committed
/// yet, and gives the committed ones `flags`. Consecutive uncommitted pages
/// are committed together.
fn commit_or_protect(reservation: &mut Reservation, offset: usize, len: usize, flags: PageFlags) -> Result<(), PlatformError> {
    let base = reservation.start().as_usize();
    // Fast path: a range never touched before (memory.grow, new code, a
    // new stack) is committed in one go.
    if !is_committed(base + offset) && !is_committed(base + offset + len - PAGE_SIZE) {
        match reservation.commit(offset, len) {
            Ok(()) => return Ok(()),
            Err(MemError::Map(_)) => {}
            Err(error) => return Err(map_error(error)),
        }
    }
    let mut page = offset;
    while page < offset + len {
        let committed = is_committed(base + page);
        let mut run = page + PAGE_SIZE;
        while run < offset + len && is_committed(base + run) == committed {
            run += PAGE_SIZE;
        }
        if committed {
            // SAFETY: making pages read-write only adds a permission
            // (write) or keeps it; nothing relies on its absence.
            unsafe { reservation.protect(page, run - page, flags) }.map_err(map_error)?;
        } else {
            reservation.commit(page, run - page).map_err(map_error)?;
        }
        page = run;
    }
    Ok(())
}

/// `fence.i` on this hart and on every other one.
fn sync_instruction_caches() {
    crate::arch::csr::fence_i();
    if crate::percpu::online_count() > 1 && crate::arch::sbi::remote_fence_i(0, usize::MAX).is_err() {
        // Without the RFENCE extension, every hart running `fence.i` before
        // it next enters wasm has the same effect: `init_traps` runs it on
        // each entry into wasm.
        log::debug!("wasm: SBI remote fence.i refused; harts fence on wasm entry");
    }
}

// SAFETY: (1) each `reserve` is a fresh kernel reservation owned by this
// table until `release`; nothing is mapped in it until committed, and
// `Reservation::commit` and the demand-zero fault path map fresh zeroed
// frames. (2) `publish_code`
// changes the pages to read+execute (never W and X together: the
// reservation refuses it) and runs `fence.i` on every hart. (3) the trap
// handler calls `wasm::handle_fault` first for every synchronous exception
// and honours its answer; `init_traps` has nothing to install. (4) the
// activation slot is per hart and compiled code does not migrate harts
// mid-call (fiber switches save and restore it).
unsafe impl Platform for KernelPlatform {
    fn page_size(&self) -> usize {
        PAGE_SIZE
    }

    fn reserve(&self, len: usize) -> Result<NonNull<u8>, PlatformError> {
        let reservation = Reservation::new(len, PageFlags::READ_WRITE, RegionKind::WasmMemory, "wasm").map_err(map_error)?;
        self.insert(reservation)
    }

    fn reserve_memory(&self, len: usize) -> Result<NonNull<u8>, PlatformError> {
        let reservation = Reservation::new_demand_zero(len, RegionKind::WasmMemory, "wasm memory").map_err(map_error)?;
        self.insert(reservation)
    }

    unsafe fn protect(&self, ptr: NonNull<u8>, len: usize, prot: Protection) -> Result<(), PlatformError> {
        if len == 0 {
            return Ok(());
        }
        if !len.is_multiple_of(PAGE_SIZE) || !ptr.as_ptr().addr().is_multiple_of(PAGE_SIZE) {
            return Err(PlatformError::Refused);
        }
        self.with_reservation(ptr, len, |reservation, offset| match prot {
            // Demand-zero memory: grow only moves the watermark; the
            // fault path commits pages on first touch.
            Protection::ReadWrite if reservation.is_demand_zero() => reservation.make_accessible(offset, len).map_err(map_error),
            Protection::ReadWrite => commit_or_protect(reservation, offset, len, PageFlags::READ_WRITE),
            Protection::ReadExecute if reservation.is_demand_zero() => Err(PlatformError::Refused),
            // SAFETY: the caller guarantees no Rust reference into the
            // range is invalidated (its contract).
            Protection::ReadExecute => unsafe {
                reservation.protect(offset, len, PageFlags::READ.union(PageFlags::EXECUTE))
            }
            .map_err(map_error),
            // SAFETY: as above; the pages are unused from now on.
            Protection::None => unsafe { reservation.decommit(offset, len) }.map_err(map_error),
        })
    }

    unsafe fn release(&self, ptr: NonNull<u8>, _len: usize) {
        // Dropped outside the lock: unmapping takes the memory locks.
        let reservation = self.reservations.lock().remove(&ptr.as_ptr().addr());
        if reservation.is_none() {
            log::error!("wasm: release of unknown reservation {:p}", ptr);
        }
        drop(reservation);
    }

    unsafe fn publish_code(&self, ptr: NonNull<u8>, len: usize) -> Result<(), PlatformError> {
        // SAFETY: forwarded caller contract: the range is complete code in
        // one live reservation.
        unsafe { self.protect(ptr, len, Protection::ReadExecute) }?;
        sync_instruction_caches();
        Ok(())
    }

    fn init_traps(&self) -> Result<(), PlatformError> {
        // The trap handler always asks `wasm::handle_fault`; what each
        // entry needs is vector state enabled on this hart and an
        // instruction fetch that sees all published code.
        crate::arch::csr::enable_vector();
        crate::arch::csr::fence_i();
        Ok(())
    }

    fn current_activation(&self) -> *mut u8 {
        current_activation()
    }

    fn set_current_activation(&self, activation: *mut u8) {
        if let Some(slot) = ACTIVATIONS.get(crate::percpu::current().index) {
            slot.store(activation, Ordering::Relaxed);
        }
    }
}

/// This hart's innermost wasm activation (null if none).
pub(super) fn current_activation() -> *mut u8 {
    ACTIVATIONS.get(crate::percpu::current().index).map_or(core::ptr::null_mut(), |slot| slot.load(Ordering::Relaxed))
}
