//! One 64-bit page-table entry.

use super::flags::PageFlags;
use crate::addr::{PAGE_SHIFT, PhysAddr};

/// Valid bit.
const VALID: u64 = 1;
/// R, W and X: all clear in a valid entry means "pointer to next table".
const RWX: u64 = 0b1110;
/// PPN field: bits 10..=53.
const PPN_SHIFT: u32 = 10;
const PPN_BITS: u32 = 44;
const PPN_MASK: u64 = ((1 << PPN_BITS) - 1) << PPN_SHIFT;

/// One past the highest physical address an entry can name (2^56).
pub const PHYS_ADDR_LIMIT: u64 = 1 << (PPN_BITS + PAGE_SHIFT);

/// A raw Sv39/Sv48 page-table entry.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pte(pub(crate) u64);

impl Pte {
    pub(crate) const INVALID: Self = Self(0);

    /// A leaf mapping `pa` with `flags` (V set).
    pub(crate) fn leaf(pa: PhysAddr, flags: PageFlags) -> Self {
        Self(Self::ppn_bits(pa) | u64::from(flags.bits()) | VALID)
    }

    /// A pointer to the next-level table at `pa`. A, D, U and G stay clear,
    /// as the spec requires for non-leaf entries.
    pub(crate) fn table(pa: PhysAddr) -> Self {
        Self(Self::ppn_bits(pa) | VALID)
    }

    fn ppn_bits(pa: PhysAddr) -> u64 {
        debug_assert!(pa.as_u64() < PHYS_ADDR_LIMIT);
        (pa.frame_number() << PPN_SHIFT) & PPN_MASK
    }

    pub(crate) fn is_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// Valid with at least one of R/W/X.
    pub(crate) fn is_leaf(self) -> bool {
        self.is_valid() && self.0 & RWX != 0
    }

    /// Valid with R/W/X all clear.
    pub(crate) fn is_table(self) -> bool {
        self.is_valid() && self.0 & RWX == 0
    }

    pub(crate) fn addr(self) -> PhysAddr {
        PhysAddr::new(((self.0 & PPN_MASK) >> PPN_SHIFT) << PAGE_SHIFT)
    }

    pub(crate) fn flags(self) -> PageFlags {
        PageFlags::from_pte_bits(self.0)
    }

    /// Same entry pointing at `pa` (all other bits kept).
    pub(crate) fn with_addr(self, pa: PhysAddr) -> Self {
        Self((self.0 & !PPN_MASK) | Self::ppn_bits(pa))
    }

    /// Same entry with the flag byte (bits 1..=7) replaced by `flags`.
    pub(crate) fn with_flags(self, flags: PageFlags) -> Self {
        Self((self.0 & !0xfe) | u64::from(flags.bits()))
    }
}

impl core::fmt::Debug for Pte {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Pte({:#x}: {:?} {:?})",
            self.0,
            self.addr(),
            self.flags()
        )
    }
}
