//! Bounds-checked access to a guest's linear memory.
//!
//! Every guest pointer and length is a `u32`; every access is checked
//! against the memory's length, and any pointer or length that does not fit
//! is `Errno::Fault`, never a panic.

use alloc::vec::Vec;
use core::ops::Range;

use crate::types::{Errno, IOVEC_SIZE};

/// Converts a guest `u32` to `usize` (fails only on 16-bit hosts).
pub fn to_usize(v: u32) -> Result<usize, Errno> {
    usize::try_from(v).map_err(|_| Errno::Fault)
}

/// Converts a host length to a guest `u32`; too big is `Overflow`.
pub fn to_u32(v: usize) -> Result<u32, Errno> {
    u32::try_from(v).map_err(|_| Errno::Overflow)
}

/// A host byte count as `u64` (lossless on every supported target;
/// saturates otherwise).
#[must_use]
pub fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A view of guest linear memory.
#[derive(Debug)]
pub struct GuestMem<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMem<'a> {
    /// Wraps the guest's linear memory.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        GuestMem { bytes }
    }

    /// Total size in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the memory is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The host range for `len` bytes at guest address `ptr`.
    pub fn range(&self, ptr: u32, len: u32) -> Result<Range<usize>, Errno> {
        let start = to_usize(ptr)?;
        let end = start.checked_add(to_usize(len)?).ok_or(Errno::Fault)?;
        if end > self.bytes.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        self.bytes.get(r).ok_or(Errno::Fault)
    }

    /// `len` bytes at `ptr`, writable.
    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        self.bytes.get_mut(r).ok_or(Errno::Fault)
    }

    /// Copies `data` to `ptr`.
    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }

    fn array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        let len = u32::try_from(N).map_err(|_| Errno::Fault)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.slice(ptr, len)?);
        Ok(a)
    }

    /// Reads a little-endian `u8`.
    pub fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.array::<1>(ptr)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(self.array(ptr)?))
    }

    /// Reads a little-endian `u32`.
    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    /// Reads a little-endian `u64`.
    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(self.array(ptr)?))
    }

    /// Reads `N` raw bytes.
    pub fn read_array<const N: usize>(&self, ptr: u32) -> Result<[u8; N], Errno> {
        self.array(ptr)
    }

    /// Writes a `u8`.
    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }

    /// Writes a little-endian `u16`.
    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u32`.
    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// Writes a little-endian `u64`.
    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A UTF-8 string of `len` bytes at `ptr`; invalid UTF-8 is `Ilseq`.
    pub fn read_str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        core::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::Ilseq)
    }

    /// Decodes `count` iovecs (`buf: u32, buf_len: u32`) at `ptr`, checking
    /// that every buffer lies inside memory.
    pub fn iovecs(&self, ptr: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        let stride = u32::try_from(IOVEC_SIZE).map_err(|_| Errno::Fault)?;
        let total = count.checked_mul(stride).ok_or(Errno::Fault)?;
        self.range(ptr, total)?;
        let mut out = Vec::with_capacity(to_usize(count)?);
        for i in 0..count {
            let at = ptr + i * stride; // in range: checked above
            let buf = self.read_u32(at)?;
            let len = self.read_u32(at + 4)?;
            self.range(buf, len)?;
            out.push((buf, len));
        }
        Ok(out)
    }
}
