//! [`Platform`]: the few services the runtime needs from its host.
//!
//! The host implementation ([`HostPlatform`], `std` feature, Unix) uses
//! mmap/mprotect/sigaction; the kernel implements the same trait over its
//! address-space regions and trap vector.

#[cfg(all(feature = "std", unix))]
mod host;

#[cfg(all(feature = "std", unix))]
pub use host::HostPlatform;

use alloc::boxed::Box;
use core::any::Any;
use core::fmt;
use core::ptr::NonNull;

/// Access rights for a range of pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// No access: reserved address space, guard pages.
    None,
    /// Data: linear memory, code being written.
    ReadWrite,
    /// Published code. Never combined with write.
    ReadExecute,
}

/// A platform operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// Out of address space or memory.
    OutOfMemory,
    /// The platform refused the operation (bad range, rights...).
    Refused,
    /// The platform cannot do this at all.
    Unsupported,
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlatformError::OutOfMemory => "out of memory or address space",
            PlatformError::Refused => "operation refused by the platform",
            PlatformError::Unsupported => "not supported by this platform",
        })
    }
}

/// What a platform fault handler learned from the faulting context.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// Program counter of the faulting instruction.
    pub pc: usize,
    /// Frame pointer register at the fault.
    pub fp: usize,
    /// The thread's current activation (from [`Platform::current_activation`]).
    pub activation: *mut u8,
}

/// What the platform fault handler must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Not a wasm fault: handle it as the platform would without the runtime.
    NotWasm,
    /// Resume at `pc` with the first argument register set to `arg0`.
    /// The target restores the registers and stack saved at the entry to
    /// wasm and never returns to the faulting code.
    Resume {
        /// Where to continue.
        pc: usize,
        /// Value for the first integer argument register.
        arg0: usize,
    },
}

/// The initial contents of a linear memory, laid out once per module: its
/// active data segments at their offsets, within a page-aligned window of
/// the memory (see [`Platform::map_image`]).
#[derive(Debug)]
pub struct MemoryImage {
    bytes: Box<[u8]>,
    prepared: Option<Box<dyn Any + Send + Sync>>,
}

impl MemoryImage {
    /// An image of `bytes` (a multiple of the platform page size), with
    /// what [`Platform::prepare_image`] made of them.
    pub(crate) fn new(platform: &dyn Platform, bytes: Box<[u8]>) -> Self {
        let prepared = platform.prepare_image(&bytes);
        MemoryImage { bytes, prepared }
    }

    /// The contents.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What the platform's [`Platform::prepare_image`] returned for it.
    #[must_use]
    pub fn prepared(&self) -> Option<&(dyn Any + Send + Sync)> {
        self.prepared.as_deref()
    }
}

/// Host services for the runtime. All sizes are in bytes and multiples of
/// [`Platform::page_size`] unless stated.
///
/// # Safety
///
/// Implementors promise:
/// 1. `reserve` returns a range nobody else uses until `release`, initially
///    inaccessible, whose committed pages read as zero the first time.
/// 2. `publish_code` makes the range executable and not writable, and makes
///    the new instructions visible to instruction fetch on every CPU.
/// 3. After `init_traps`, a synchronous fault (bad access, illegal
///    instruction, arithmetic fault) on a thread whose current activation is
///    non-null calls [`handle_fault`] and honours its [`FaultAction`].
/// 4. `current_activation` returns what `set_current_activation` last stored
///    on the same thread (or fiber).
/// 5. After `map_image(dst, image)` returns `Ok`, the range reads as the
///    image's bytes, stays read-write and private to that memory (writes
///    never reach the image or other memories), and is released with the
///    reservation around it.
/// 6. After `discard(ptr, len)` returns `Ok`, the range reads exactly as
///    it did when it was committed: zero, or the image for pages given one
///    by `map_image` — nothing written since survives.
pub unsafe trait Platform: Send + Sync + fmt::Debug + 'static {
    /// Smallest unit of protection.
    fn page_size(&self) -> usize;

    /// Reserve `len` bytes of inaccessible address space.
    ///
    /// # Errors
    /// [`PlatformError::OutOfMemory`] when no range is available.
    fn reserve(&self, len: usize) -> Result<NonNull<u8>, PlatformError>;

    /// Reserve `len` bytes of inaccessible address space for a linear
    /// memory. Its pages are only ever made `ReadWrite` contiguously from
    /// the start (a memory growing) or `None` from some offset to the end
    /// of what is accessible (a memory reset), never `ReadExecute`, so a
    /// platform may commit them lazily, on first touch, and let
    /// `protect(.., ReadWrite)` only mark them accessible (demand-zero
    /// paging). The default is [`Platform::reserve`].
    ///
    /// # Errors
    /// [`PlatformError::OutOfMemory`] when no range is available.
    fn reserve_memory(&self, len: usize) -> Result<NonNull<u8>, PlatformError> {
        self.reserve(len)
    }

    /// Change the rights of `[ptr, ptr + len)`; committing memory is
    /// `protect(.., ReadWrite)`.
    ///
    /// # Safety
    /// The range lies inside one live reservation and no Rust reference
    /// into it is invalidated by the change.
    ///
    /// # Errors
    /// [`PlatformError::OutOfMemory`] when backing memory is exhausted.
    unsafe fn protect(&self, ptr: NonNull<u8>, len: usize, prot: Protection) -> Result<(), PlatformError>;

    /// Give back a whole reservation.
    ///
    /// # Safety
    /// `ptr`/`len` are exactly what `reserve` returned, and nothing uses
    /// the range any more.
    unsafe fn release(&self, ptr: NonNull<u8>, len: usize);

    /// Make freshly written code executable (read+execute, icache synced).
    ///
    /// # Safety
    /// The range lies inside one live reservation and holds complete code.
    ///
    /// # Errors
    /// When the platform refuses the protection change.
    unsafe fn publish_code(&self, ptr: NonNull<u8>, len: usize) -> Result<(), PlatformError>;

    /// Install the fault handler (idempotent) and prepare the calling
    /// thread to run wasm (e.g. an alternate signal stack).
    ///
    /// # Errors
    /// When the handler cannot be installed.
    fn init_traps(&self) -> Result<(), PlatformError>;

    /// The calling thread's innermost wasm activation (null if none).
    fn current_activation(&self) -> *mut u8;

    /// Set the calling thread's innermost wasm activation.
    fn set_current_activation(&self, activation: *mut u8);

    /// Enter wasm on the calling thread: prepare it as [`Platform::init_traps`]
    /// does and make `activation` its current activation, returning the
    /// previous one (restored with `set_current_activation` on the way
    /// out). Called on every host-to-wasm call; the default does the three
    /// steps, platforms may do them in one.
    ///
    /// # Errors
    /// As [`Platform::init_traps`]; the current activation is then unchanged.
    fn enter_wasm(&self, activation: *mut u8) -> Result<*mut u8, PlatformError> {
        self.init_traps()?;
        let previous = self.current_activation();
        self.set_current_activation(activation);
        Ok(previous)
    }

    /// Throw away what was written to `[ptr, ptr + len)` (committed pages
    /// of one reservation): afterwards the range reads as zero, or as the
    /// image where `map_image` mapped one, and stays accessible. Lets the
    /// runtime reuse a dropped memory's reservation for the next instance
    /// of the same module instead of releasing it. The default,
    /// [`PlatformError::Unsupported`], makes the runtime release instead.
    ///
    /// # Safety
    /// The range is page-aligned, lies inside one live reservation, and no
    /// Rust reference points into it.
    ///
    /// # Errors
    /// When the platform cannot do it; the range must then be released.
    unsafe fn discard(&self, ptr: NonNull<u8>, len: usize) -> Result<(), PlatformError> {
        let _ = (ptr, len);
        Err(PlatformError::Unsupported)
    }

    /// Prepare a memory image (called once per module and memory, with a
    /// multiple of [`Platform::page_size`] bytes) so that
    /// [`Platform::map_image`] can map it copy-on-write, e.g. as a file.
    /// The default, `None`, makes `map_image` copy.
    fn prepare_image(&self, bytes: &[u8]) -> Option<Box<dyn Any + Send + Sync>> {
        let _ = bytes;
        None
    }

    /// Give `[dst, dst + image.bytes().len())` the image's contents, at
    /// instantiation: map it copy-on-write when `prepare_image` made that
    /// possible, else copy it (the default).
    ///
    /// # Safety
    /// The range is page-aligned, lies inside one live reservation, is
    /// committed read-write, and no Rust reference points into it.
    ///
    /// # Errors
    /// When the mapping fails (the memory must then not be used).
    unsafe fn map_image(&self, dst: NonNull<u8>, image: &MemoryImage) -> Result<(), PlatformError> {
        let bytes = image.bytes();
        // SAFETY: the caller guarantees the range is committed, writable
        // and unaliased; `bytes` is the image's own allocation.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), bytes.len()) };
        Ok(())
    }
}

/// Called by a platform fault handler: decides whether the fault is a wasm
/// trap and, if so, records it and says where to resume.
///
/// # Safety
/// `fault.activation` is null or the live activation of the faulting
/// thread, and `fault.pc`/`fault.fp` come from the faulting context.
#[must_use]
pub unsafe fn handle_fault(fault: &Fault) -> FaultAction {
    // SAFETY: forwarded from this function's contract.
    unsafe { crate::vm::traps::handle_fault(fault) }
}
