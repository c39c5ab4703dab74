//! Sv39 and Sv48: how many levels, how wide a virtual address is.

use crate::addr::VirtAddr;

/// The RISC-V virtual-memory scheme a page table uses, chosen at run time
/// (Sv48 when the CPU has it, else Sv39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PagingMode {
    /// Three levels, 39-bit virtual addresses (512 GiB).
    Sv39,
    /// Four levels, 48-bit virtual addresses (256 TiB).
    Sv48,
}

impl PagingMode {
    /// Number of page-table levels (3 or 4).
    #[must_use]
    pub const fn levels(self) -> usize {
        match self {
            Self::Sv39 => 3,
            Self::Sv48 => 4,
        }
    }

    /// Index of the root level (`levels() - 1`).
    #[must_use]
    pub const fn top_level(self) -> usize {
        self.levels() - 1
    }

    /// Width of a virtual address in bits (39 or 48).
    #[must_use]
    pub const fn va_bits(self) -> u32 {
        match self {
            Self::Sv39 => 39,
            Self::Sv48 => 48,
        }
    }

    /// The `MODE` field of `satp` (8 for Sv39, 9 for Sv48).
    #[must_use]
    pub const fn satp_mode(self) -> u64 {
        match self {
            Self::Sv39 => 8,
            Self::Sv48 => 9,
        }
    }

    /// The mode for a `satp.MODE` value, if it is one this crate supports.
    #[must_use]
    pub const fn from_satp_mode(mode: u64) -> Option<Self> {
        match mode {
            8 => Some(Self::Sv39),
            9 => Some(Self::Sv48),
            _ => None,
        }
    }

    /// Bytes of address space in each half (lower and upper):
    /// `2^(va_bits - 1)`.
    #[must_use]
    pub const fn half_size(self) -> usize {
        1 << (self.va_bits() - 1)
    }

    /// Mask selecting the bits of a virtual address that the page-table walk
    /// uses (`va_bits` low bits).
    pub(crate) const fn offset_mask(self) -> usize {
        (1 << self.va_bits()) - 1
    }

    /// Whether `va` is canonical: bits above `va_bits - 1` all equal bit
    /// `va_bits - 1`.
    #[must_use]
    pub const fn is_canonical(self, va: VirtAddr) -> bool {
        let raw = va.as_usize();
        let high = raw >> (self.va_bits() - 1);
        high == 0 || high == usize::MAX >> (self.va_bits() - 1)
    }

    /// Whether a canonical `va` lies in the upper (kernel) half.
    #[must_use]
    pub const fn is_upper_half(self, va: VirtAddr) -> bool {
        va.as_usize() >> (self.va_bits() - 1) & 1 == 1
    }

    /// Lowest address of the upper half (e.g. `0xffff_ffc0_0000_0000` for Sv39).
    #[must_use]
    pub const fn upper_half_start(self) -> VirtAddr {
        VirtAddr::new(!(self.half_size() - 1))
    }

    /// The canonical virtual address for a walk offset (sign-extends bit
    /// `va_bits - 1`).
    pub(crate) const fn offset_to_va(self, offset: usize) -> VirtAddr {
        let unused = usize::BITS - self.va_bits();
        #[expect(
            clippy::cast_sign_loss,
            clippy::cast_possible_wrap,
            reason = "bit-level sign extension: reinterpreting the same 64 bits"
        )]
        let raw = (((offset << unused) as isize) >> unused) as usize;
        VirtAddr::new(raw)
    }
}
