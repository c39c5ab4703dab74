//! Leaf permission and status bits (R, W, X, U, G, A, D).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

/// The permission and status bits of a leaf page-table entry, at their
/// hardware positions (bits 1..=7 of a PTE; the valid bit is not a flag).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PageFlags(u8);

impl PageFlags {
    /// No bits.
    pub const EMPTY: Self = Self(0);
    /// Readable.
    pub const READ: Self = Self(1 << 1);
    /// Writable (requires `READ`).
    pub const WRITE: Self = Self(1 << 2);
    /// Executable.
    pub const EXECUTE: Self = Self(1 << 3);
    /// Accessible from U-mode.
    pub const USER: Self = Self(1 << 4);
    /// Global: present in every address space (not flushed per ASID).
    pub const GLOBAL: Self = Self(1 << 5);
    /// Accessed. Set eagerly on every mapping: without Svadu, hardware
    /// raises a page fault instead of setting it.
    pub const ACCESSED: Self = Self(1 << 6);
    /// Dirty. Set eagerly on every mapping, for the same reason as `ACCESSED`.
    pub const DIRTY: Self = Self(1 << 7);

    /// Read + write.
    pub const READ_WRITE: Self = Self(Self::READ.0 | Self::WRITE.0);
    /// Read + execute.
    pub const READ_EXECUTE: Self = Self(Self::READ.0 | Self::EXECUTE.0);

    const ALL: u8 = 0b1111_1110;
    const PERMISSIONS: u8 = Self::READ.0 | Self::WRITE.0 | Self::EXECUTE.0;

    /// The raw bits (PTE bit positions).
    #[must_use]
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Flags from raw PTE bits, or `None` if `bits` has the valid bit (bit 0) set.
    #[must_use]
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::ALL == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// Flags from the low byte of a PTE, dropping the valid bit.
    pub(crate) const fn from_pte_bits(bits: u64) -> Self {
        let byte = bits.to_le_bytes()[0];
        Self(byte & Self::ALL)
    }

    /// Whether every bit of `other` is set in `self`.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Bits in either.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Bits of `self` not in `other`.
    #[must_use]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Only the R/W/X bits.
    #[must_use]
    pub const fn permissions(self) -> Self {
        Self(self.0 & Self::PERMISSIONS)
    }

    /// Whether these flags describe a valid leaf: at least one of R or X,
    /// and W only together with R (W without R is reserved by the spec).
    #[must_use]
    pub const fn is_valid_leaf(self) -> bool {
        let r = self.contains(Self::READ);
        let w = self.contains(Self::WRITE);
        let x = self.contains(Self::EXECUTE);
        // Readable (W allowed), or execute-only.
        r || (x && !w)
    }
}

impl BitOr for PageFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for PageFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for PageFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READ, 'R'),
            (Self::WRITE, 'W'),
            (Self::EXECUTE, 'X'),
            (Self::USER, 'U'),
            (Self::GLOBAL, 'G'),
            (Self::ACCESSED, 'A'),
            (Self::DIRTY, 'D'),
        ];
        f.write_str("PageFlags(")?;
        for (flag, name) in names {
            if self.contains(flag) {
                write!(f, "{name}")?;
            } else {
                f.write_str("-")?;
            }
        }
        f.write_str(")")
    }
}
