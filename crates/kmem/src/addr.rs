//! Physical and virtual addresses, page sizes and alignment helpers.

use core::fmt;

/// Size of the smallest page (and of a physical frame): 4 KiB.
pub const PAGE_SIZE: usize = 4096;
/// `log2(PAGE_SIZE)`.
pub const PAGE_SHIFT: u32 = 12;
/// Size of a level-1 ("mega") page: 2 MiB.
pub const MEGA_PAGE_SIZE: usize = 2 * 1024 * 1024;
/// Size of a level-2 ("giga") page: 1 GiB.
pub const GIGA_PAGE_SIZE: usize = 1024 * 1024 * 1024;

/// `PAGE_SIZE` as a `u64`, for physical address arithmetic.
pub const PAGE_SIZE_U64: u64 = 4096;

// Hypha only targets 64-bit machines; `VirtAddr` and the page-table code rely
// on `usize` holding a full 64-bit virtual address.
const _: () = assert!(usize::BITS == 64, "hypha-kmem needs a 64-bit usize");

/// Converts a `usize` to `u64` (lossless on every target this crate builds for).
#[must_use]
pub const fn usize_to_u64(value: usize) -> u64 {
    // Cannot truncate: `usize` is exactly 64 bits (asserted above).
    value as u64
}

/// Converts a `u64` to `usize` (lossless on every target this crate builds for).
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    reason = "usize is asserted to be 64 bits wide at compile time"
)]
pub const fn u64_to_usize(value: u64) -> usize {
    value as usize
}

/// Rounds `value` down to a multiple of `align` (a power of two).
///
/// # Panics
///
/// Debug builds panic if `align` is not a power of two (a caller bug).
#[must_use]
pub const fn align_down(value: usize, align: usize) -> usize {
    debug_assert!(align.is_power_of_two());
    value & !(align - 1)
}

/// Rounds `value` up to a multiple of `align` (a power of two), or `None`
/// if that overflows.
#[must_use]
pub const fn align_up(value: usize, align: usize) -> Option<usize> {
    debug_assert!(align.is_power_of_two());
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Whether `value` is a multiple of `align` (a power of two).
#[must_use]
pub const fn is_aligned(value: usize, align: usize) -> bool {
    debug_assert!(align.is_power_of_two());
    value & (align - 1) == 0
}

/// `u64` version of [`align_down`].
#[must_use]
pub const fn align_down_u64(value: u64, align: u64) -> u64 {
    debug_assert!(align.is_power_of_two());
    value & !(align - 1)
}

/// `u64` version of [`align_up`].
#[must_use]
pub const fn align_up_u64(value: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

// === impl PhysAddr ===

/// A physical address.
///
/// Plain number: creating one is safe, and nothing about it says the memory
/// exists. Reaching the memory goes through a [`PhysMap`](crate::PhysMap).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct PhysAddr(u64);

impl PhysAddr {
    /// The address `0`.
    pub const ZERO: Self = Self(0);

    /// Wraps a raw physical address.
    #[must_use]
    pub const fn new(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw address.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Whether the address is a multiple of `align` (a power of two).
    #[must_use]
    pub const fn is_aligned(self, align: u64) -> bool {
        debug_assert!(align.is_power_of_two());
        self.0 & (align - 1) == 0
    }

    /// Rounds down to a multiple of `align` (a power of two).
    #[must_use]
    pub const fn align_down(self, align: u64) -> Self {
        Self(align_down_u64(self.0, align))
    }

    /// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
    #[must_use]
    pub const fn align_up(self, align: u64) -> Option<Self> {
        match align_up_u64(self.0, align) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + bytes`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, bytes: u64) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self - bytes`, or `None` on underflow.
    #[must_use]
    pub const fn checked_sub(self, bytes: u64) -> Option<Self> {
        match self.0.checked_sub(bytes) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// Adds a byte offset given as `usize`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add_usize(self, bytes: usize) -> Option<Self> {
        self.checked_add(usize_to_u64(bytes))
    }

    /// The physical frame (page) number: `addr / PAGE_SIZE`.
    #[must_use]
    pub const fn frame_number(self) -> u64 {
        self.0 >> PAGE_SHIFT
    }

    /// The address of frame number `frame`, or `None` if it does not fit.
    #[must_use]
    pub const fn from_frame_number(frame: u64) -> Option<Self> {
        if frame > (u64::MAX >> PAGE_SHIFT) {
            None
        } else {
            Some(Self(frame << PAGE_SHIFT))
        }
    }
}

impl fmt::Debug for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhysAddr({:#x})", self.0)
    }
}

impl fmt::Display for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for PhysAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

// === impl VirtAddr ===

/// A virtual address.
///
/// Plain number: whether it is canonical depends on the paging mode, see
/// [`PagingMode::is_canonical`](crate::PagingMode::is_canonical).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct VirtAddr(usize);

impl VirtAddr {
    /// The address `0`.
    pub const ZERO: Self = Self(0);

    /// Wraps a raw virtual address.
    #[must_use]
    pub const fn new(raw: usize) -> Self {
        Self(raw)
    }

    /// The address of a pointer.
    #[must_use]
    pub fn from_ptr<T: ?Sized>(ptr: *const T) -> Self {
        Self(ptr.cast::<u8>().addr())
    }

    /// The raw address.
    #[must_use]
    pub const fn as_usize(self) -> usize {
        self.0
    }

    /// The raw address as a `u64`.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        usize_to_u64(self.0)
    }

    /// The address as a raw pointer (with exposed provenance: the memory
    /// behind a virtual address was made reachable by a page-table mapping,
    /// not by a Rust allocation).
    #[must_use]
    pub fn as_mut_ptr<T>(self) -> *mut T {
        core::ptr::with_exposed_provenance_mut(self.0)
    }

    /// Whether the address is a multiple of `align` (a power of two).
    #[must_use]
    pub const fn is_aligned(self, align: usize) -> bool {
        is_aligned(self.0, align)
    }

    /// Rounds down to a multiple of `align` (a power of two).
    #[must_use]
    pub const fn align_down(self, align: usize) -> Self {
        Self(align_down(self.0, align))
    }

    /// Rounds up to a multiple of `align` (a power of two); `None` on overflow.
    #[must_use]
    pub const fn align_up(self, align: usize) -> Option<Self> {
        match align_up(self.0, align) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self + bytes`, or `None` on overflow.
    #[must_use]
    pub const fn checked_add(self, bytes: usize) -> Option<Self> {
        match self.0.checked_add(bytes) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    /// `self - bytes`, or `None` on underflow.
    #[must_use]
    pub const fn checked_sub(self, bytes: usize) -> Option<Self> {
        match self.0.checked_sub(bytes) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }
}

impl fmt::Debug for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtAddr({:#x})", self.0)
    }
}

impl fmt::Display for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::LowerHex for VirtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_helpers() {
        assert_eq!(align_down(0x1fff, PAGE_SIZE), 0x1000);
        assert_eq!(align_up(0x1001, PAGE_SIZE), Some(0x2000));
        assert_eq!(align_up(0x1000, PAGE_SIZE), Some(0x1000));
        assert_eq!(align_up(usize::MAX, PAGE_SIZE), None);
        assert!(is_aligned(0x20_0000, MEGA_PAGE_SIZE));
        assert!(!is_aligned(0x20_1000, MEGA_PAGE_SIZE));
        assert_eq!(align_up_u64(u64::MAX - 5, 8), None);
    }

    #[test]
    fn phys_addr_frames() {
        let pa = PhysAddr::new(0x8020_3000);
        assert_eq!(pa.frame_number(), 0x80203);
        assert_eq!(PhysAddr::from_frame_number(0x80203), Some(pa));
        assert_eq!(PhysAddr::from_frame_number(u64::MAX), None);
        assert!(pa.is_aligned(PAGE_SIZE_U64));
        assert_eq!(pa.checked_add(u64::MAX), None);
        assert_eq!(std::format!("{pa:?}"), "PhysAddr(0x80203000)");
    }

    #[test]
    fn virt_addr_arith() {
        let va = VirtAddr::new(0xffff_ffc0_0000_1234);
        assert_eq!(va.align_down(PAGE_SIZE).as_usize(), 0xffff_ffc0_0000_1000);
        assert_eq!(
            va.align_up(PAGE_SIZE).map(VirtAddr::as_usize),
            Some(0xffff_ffc0_0000_2000)
        );
        assert_eq!(va.checked_add(usize::MAX), None);
        assert_eq!(VirtAddr::new(4).checked_sub(5), None);
    }
}
