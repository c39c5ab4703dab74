//! Fiber stacks: a usable region with a guard region below it.
//!
//! ```text
//!   top ──────────►  ┌──────────────────────┐  (16-byte aligned, exclusive)
//!                    │  usable stack        │  grows down
//!   limit ────────►  ├──────────────────────┤
//!                    │  guard (no access)   │  any access faults
//!   guard_base ───►  └──────────────────────┘
//! ```
//!
//! Where the memory comes from is a [`StackAllocator`]'s business: on the
//! host (`std` feature) [`MmapStackAllocator`] maps it with `mmap` and makes
//! the guard `PROT_NONE`; the kernel implements the trait over its own
//! address-space code.

use alloc::sync::Arc;
use core::fmt;

/// Alignment of a stack top (both System V x86_64 and the RISC-V psABI want 16).
pub const STACK_ALIGN: usize = 16;

// === impl StackError ===

/// Why a stack could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackError {
    /// The requested size is zero, or too small to hold the fiber's
    /// bookkeeping and its first frame.
    TooSmall {
        /// Bytes asked for.
        requested: usize,
        /// Bytes needed at least.
        minimum: usize,
    },
    /// Size arithmetic overflowed (guard + stack does not fit in `usize`).
    SizeOverflow,
    /// The addresses handed to [`StackRegion::new`] are not
    /// `guard_base <= limit < top` with `top` 16-byte aligned.
    BadLayout,
    /// The allocator could not provide memory (`errno` on the host, or an
    /// allocator-defined code).
    OutOfMemory {
        /// Allocator-specific error code (the host allocator stores `errno`).
        code: i32,
    },
    /// Making the guard region inaccessible failed (`errno` on the host).
    GuardFailed {
        /// Allocator-specific error code (the host allocator stores `errno`).
        code: i32,
    },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSmall { requested, minimum } => {
                write!(f, "fiber stack of {requested} bytes is too small (minimum {minimum})")
            }
            Self::SizeOverflow => f.write_str("fiber stack size overflows the address space"),
            Self::BadLayout => f.write_str("fiber stack region is not guard_base <= limit < top, top 16-aligned"),
            Self::OutOfMemory { code } => write!(f, "out of memory for a fiber stack (code {code})"),
            Self::GuardFailed { code } => write!(f, "could not protect a fiber stack guard page (code {code})"),
        }
    }
}

impl core::error::Error for StackError {}

// === impl StackRegion ===

/// The addresses of one fiber stack: `[guard_base, limit)` is the guard,
/// `[limit, top)` the usable stack. Plain data; it does not own memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackRegion {
    guard_base: usize,
    limit: usize,
    top: usize,
}

impl StackRegion {
    /// Describes a stack whose guard is `[guard_base, limit)` and whose usable
    /// part is `[limit, top)`.
    ///
    /// # Errors
    ///
    /// [`StackError::BadLayout`] unless `guard_base <= limit < top` and `top`
    /// is 16-byte aligned.
    pub const fn new(guard_base: usize, limit: usize, top: usize) -> Result<Self, StackError> {
        if guard_base > limit || limit >= top || !top.is_multiple_of(STACK_ALIGN) {
            return Err(StackError::BadLayout);
        }
        Ok(Self { guard_base, limit, top })
    }

    /// Lowest address of the guard region.
    #[must_use]
    pub const fn guard_base(&self) -> usize {
        self.guard_base
    }

    /// Lowest usable address: the stack pointer must stay `>= limit`.
    /// This is what the runtime's stack-limit check compares against (plus
    /// whatever red zone it keeps for host calls).
    #[must_use]
    pub const fn limit(&self) -> usize {
        self.limit
    }

    /// One past the highest usable address (the initial stack pointer side).
    #[must_use]
    pub const fn top(&self) -> usize {
        self.top
    }

    /// Usable bytes, `top - limit`.
    #[must_use]
    pub const fn usable_size(&self) -> usize {
        self.top - self.limit
    }

    /// Bytes of guard below the usable part.
    #[must_use]
    pub const fn guard_size(&self) -> usize {
        self.limit - self.guard_base
    }

    /// Is `address` inside the guard region? A fault there is a stack overflow.
    #[must_use]
    pub const fn is_guard(&self, address: usize) -> bool {
        self.guard_base <= address && address < self.limit
    }

    /// Is `address` inside the usable stack?
    #[must_use]
    pub const fn contains(&self, address: usize) -> bool {
        self.limit <= address && address < self.top
    }
}

// === impl StackAllocator ===

/// Source of guard-paged stacks. The kernel implements this over its own
/// page tables; the host uses [`MmapStackAllocator`].
///
/// # Safety
///
/// An implementation promises, for every region returned by `allocate`
/// until it is passed back to `deallocate`:
/// - `[limit, top)` is mapped readable and writable, not used by anything
///   else, and stays so until `deallocate`;
/// - every access to `[guard_base, limit)` faults (so an overflow can never
///   silently write into a neighbour), unless `guard_size()` is zero, in which
///   case the caller relies on stack-limit checks alone;
/// - the addresses may be turned back into pointers with
///   [`core::ptr::with_exposed_provenance_mut`]: memory from a Rust allocation
///   must have had its provenance exposed (`expose_provenance`); memory the
///   kernel maps itself has no Rust provenance to worry about.
pub unsafe trait StackAllocator: Send + Sync {
    /// Allocates a stack with at least `size` usable bytes.
    ///
    /// # Errors
    ///
    /// Whatever stopped the allocator ([`StackError::OutOfMemory`], ...).
    fn allocate(&self, size: usize) -> Result<StackRegion, StackError>;

    /// Returns a stack.
    ///
    /// # Safety
    ///
    /// `region` came from `allocate` on this allocator, was not deallocated
    /// yet, and no fiber is running or suspended on it any more.
    unsafe fn deallocate(&self, region: StackRegion);
}

// === impl FiberStack ===

/// An owned fiber stack: a [`StackRegion`] plus the allocator that takes it
/// back on drop.
pub struct FiberStack {
    region: StackRegion,
    allocator: Arc<dyn StackAllocator>,
}

impl fmt::Debug for FiberStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FiberStack")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl FiberStack {
    /// Allocates a stack with at least `size` usable bytes from `allocator`.
    ///
    /// # Errors
    ///
    /// Whatever the allocator reports.
    pub fn with_allocator(allocator: Arc<dyn StackAllocator>, size: usize) -> Result<Self, StackError> {
        let region = allocator.allocate(size)?;
        Ok(Self { region, allocator })
    }

    /// Allocates a host stack of at least `size` usable bytes (rounded up to
    /// whole pages) with one `PROT_NONE` guard page below it.
    ///
    /// # Errors
    ///
    /// [`StackError::TooSmall`] for `size == 0`, otherwise `mmap`/`mprotect`
    /// failures with their `errno`.
    #[cfg(feature = "std")]
    pub fn new(size: usize) -> Result<Self, StackError> {
        use std::sync::OnceLock;
        static HOST: OnceLock<Arc<dyn StackAllocator>> = OnceLock::new();
        let allocator = HOST.get_or_init(|| Arc::new(MmapStackAllocator::new()));
        Self::with_allocator(Arc::clone(allocator), size)
    }

    /// The addresses of this stack.
    #[must_use]
    pub const fn region(&self) -> StackRegion {
        self.region
    }
}

impl Drop for FiberStack {
    fn drop(&mut self) {
        // SAFETY: `region` came from `self.allocator.allocate` and is handed
        // back exactly once, here; `Fiber` drops its stack only after the
        // fiber finished or never started, so nothing runs on it any more.
        unsafe { self.allocator.deallocate(self.region) };
    }
}

// === impl MmapStackAllocator ===

/// Host stacks: one anonymous private mapping per stack, the lowest
/// `guard_pages` pages `PROT_NONE`.
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy)]
pub struct MmapStackAllocator {
    guard_pages: usize,
}

#[cfg(feature = "std")]
impl Default for MmapStackAllocator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "std")]
impl MmapStackAllocator {
    /// One guard page.
    #[must_use]
    pub const fn new() -> Self {
        Self { guard_pages: 1 }
    }

    /// `guard_pages` guard pages (at least one).
    #[must_use]
    pub const fn with_guard_pages(guard_pages: usize) -> Self {
        Self {
            guard_pages: if guard_pages == 0 { 1 } else { guard_pages },
        }
    }

    /// The host page size.
    #[must_use]
    pub fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page).unwrap_or(4096)
    }
}

#[cfg(feature = "std")]
fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

// SAFETY: `allocate` maps a fresh private anonymous region, RW above the
// guard and PROT_NONE for the guard, and `deallocate` unmaps exactly it.
#[cfg(feature = "std")]
unsafe impl StackAllocator for MmapStackAllocator {
    fn allocate(&self, size: usize) -> Result<StackRegion, StackError> {
        if size == 0 {
            return Err(StackError::TooSmall {
                requested: 0,
                minimum: 1,
            });
        }
        let page = Self::page_size();
        let usable = size.checked_next_multiple_of(page).ok_or(StackError::SizeOverflow)?;
        let guard = self.guard_pages.checked_mul(page).ok_or(StackError::SizeOverflow)?;
        let total = usable.checked_add(guard).ok_or(StackError::SizeOverflow)?;
        // SAFETY: a fresh anonymous mapping with no address hint does not
        // alias any existing Rust object.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(StackError::OutOfMemory { code: errno() });
        }
        // SAFETY: `[base, base + guard)` is the start of the mapping we just
        // made; nothing else uses it.
        if unsafe { libc::mprotect(base, guard, libc::PROT_NONE) } != 0 {
            let code = errno();
            // SAFETY: unmapping the mapping made above, which nothing uses.
            unsafe { libc::munmap(base, total) };
            return Err(StackError::GuardFailed { code });
        }
        let guard_base = base.expose_provenance();
        StackRegion::new(guard_base, guard_base + guard, guard_base + total)
    }

    unsafe fn deallocate(&self, region: StackRegion) {
        let total = region.top() - region.guard_base();
        let base = core::ptr::with_exposed_provenance_mut::<libc::c_void>(region.guard_base());
        // SAFETY: the caller hands back a region from `allocate`, i.e. one
        // whole mapping of `total` bytes at `guard_base`, no longer in use.
        let rc = unsafe { libc::munmap(base, total) };
        debug_assert_eq!(rc, 0, "munmap of a fiber stack failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_rejects_bad_layouts() {
        assert_eq!(
            StackRegion::new(0x1000, 0x2000, 0x3000).map(|r| r.usable_size()),
            Ok(0x1000)
        );
        assert_eq!(StackRegion::new(0x2000, 0x1000, 0x3000), Err(StackError::BadLayout));
        assert_eq!(StackRegion::new(0x1000, 0x3000, 0x3000), Err(StackError::BadLayout));
        assert_eq!(StackRegion::new(0x1000, 0x2000, 0x3008), Err(StackError::BadLayout));
    }

    #[test]
    fn region_classifies_addresses() {
        let r = StackRegion::new(0x1000, 0x2000, 0x5000).unwrap();
        assert!(!r.is_guard(0xfff));
        assert!(r.is_guard(0x1000));
        assert!(r.is_guard(0x1fff));
        assert!(!r.is_guard(0x2000));
        assert!(r.contains(0x2000));
        assert!(r.contains(0x4fff));
        assert!(!r.contains(0x5000));
        assert_eq!(r.guard_size(), 0x1000);
    }

    #[test]
    fn mmap_stack_is_page_rounded_and_guarded() {
        let page = MmapStackAllocator::page_size();
        let stack = FiberStack::new(page + 1).unwrap();
        let r = stack.region();
        assert_eq!(r.usable_size(), 2 * page);
        assert_eq!(r.guard_size(), page);
        assert_eq!(r.top() % STACK_ALIGN, 0);
        assert!(matches!(FiberStack::new(0), Err(StackError::TooSmall { .. })));
        assert_eq!(
            MmapStackAllocator::new().allocate(usize::MAX).err(),
            Some(StackError::SizeOverflow)
        );
    }
}
