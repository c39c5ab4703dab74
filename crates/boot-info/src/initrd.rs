//! Where the initrd is: the device tree's `/chosen` `linux,initrd-start`
//! and `linux,initrd-end` (physical, end exclusive), each one 32-bit or
//! one 64-bit big-endian cell (QEMU writes 64-bit values; other firmware
//! writes 32-bit ones).

/// Why the `/chosen` initrd properties cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitrdError {
    /// Only one of start and end is present.
    Incomplete,
    /// A property is neither 4 nor 8 bytes long.
    BadCellSize(usize),
    /// The end lies before the start.
    Inverted {
        /// `linux,initrd-start`.
        start: u64,
        /// `linux,initrd-end`.
        end: u64,
    },
}

impl core::fmt::Display for InitrdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Incomplete => f.write_str("only one of linux,initrd-start and linux,initrd-end is set"),
            Self::BadCellSize(len) => write!(f, "an initrd property is {len} bytes (expected 4 or 8)"),
            Self::Inverted { start, end } => write!(f, "initrd end {end:#x} lies before its start {start:#x}"),
        }
    }
}

/// A property value of one 32-bit or one 64-bit big-endian cell.
///
/// # Errors
///
/// [`InitrdError::BadCellSize`] for any other length.
pub fn cell_value(bytes: &[u8]) -> Result<u64, InitrdError> {
    match *bytes {
        [a, b, c, d] => Ok(u64::from(u32::from_be_bytes([a, b, c, d]))),
        [a, b, c, d, e, f, g, h] => Ok(u64::from_be_bytes([a, b, c, d, e, f, g, h])),
        _ => Err(InitrdError::BadCellSize(bytes.len())),
    }
}

/// The initrd's physical `(start, len_bytes)` from the raw `start` and
/// `end` property values: `Ok(None)` when neither is present or the range
/// is empty.
///
/// # Errors
///
/// An [`InitrdError`] for one property without the other, a bad cell
/// size, or an end before the start.
pub fn range(start: Option<&[u8]>, end: Option<&[u8]>) -> Result<Option<(u64, u64)>, InitrdError> {
    match (start, end) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) => {
            let (start, end) = (cell_value(start)?, cell_value(end)?);
            if end < start {
                return Err(InitrdError::Inverted { start, end });
            }
            Ok((end > start).then_some((start, end - start)))
        }
        _ => Err(InitrdError::Incomplete),
    }
}

/// The whole pages (`4 KiB`) covering `[start, start + len_bytes)`, as
/// `(first page, len_bytes)`; `None` if the range wraps.
#[must_use]
pub fn page_range(start: u64, len_bytes: u64) -> Option<(u64, u64)> {
    let first = start & !0xfff;
    let end = start.checked_add(len_bytes)?.checked_add(0xfff)? & !0xfff;
    Some((first, end - first))
}
