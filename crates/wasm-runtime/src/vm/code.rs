//! Executable code: a reservation written once, then flipped to read+execute.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::error::{Error, Result};
use crate::platform::{Platform, Protection};
use crate::trap::TrapCode;

/// One piece of code for [`CodeObject::publish_pieces`]: its bytes and
/// its sorted trap sites.
pub(crate) type CodePiece<'a> = (&'a [u8], &'a [(u32, Option<TrapCode>)]);

/// Published machine code plus what the trap handler needs to know about it.
#[derive(Debug)]
pub(crate) struct CodeObject {
    ptr: NonNull<u8>,
    reserved: usize,
    len: usize,
    platform: Arc<dyn Platform>,
    /// Sorted (offset, trap); `None` = pending trap recorded by a libcall.
    traps: Vec<(u32, Option<TrapCode>)>,
    /// (start, len) of each defined function, in index order.
    funcs: Vec<(u32, u32)>,
    /// Index of the first defined function.
    first_func: u32,
    /// The module's `name` section, read for backtraces.
    names: Option<Arc<[u8]>>,
    /// For a window into code published together with other pieces
    /// ([`CodeObject::publish_pieces`]): the object owning the memory,
    /// kept alive by this one. `None` when this object owns `ptr`.
    backing: Option<Arc<CodeObject>>,
}

// SAFETY: the code is immutable after publication; the raw pointer is only
// used to compute addresses and to release the mapping on drop.
unsafe impl Send for CodeObject {}
// SAFETY: as above, shared access only reads immutable data.
unsafe impl Sync for CodeObject {}

impl CodeObject {
    /// Copy `bytes` into fresh memory and publish it as code.
    pub fn publish(
        platform: Arc<dyn Platform>,
        bytes: &[u8],
        traps: Vec<(u32, Option<TrapCode>)>,
        funcs: Vec<(u32, u32)>,
        first_func: u32,
        names: Option<Arc<[u8]>>,
    ) -> Result<Self> {
        let page = platform.page_size();
        let reserved = bytes.len().max(1).div_ceil(page) * page;
        let ptr = platform.reserve(reserved).map_err(|e| Error::Resource(alloc::format!("code memory: {e}")))?;
        let obj = CodeObject { ptr, reserved, len: bytes.len(), platform, traps, funcs, first_func, names, backing: None };
        // SAFETY: `ptr..ptr+reserved` is our fresh reservation; nothing
        // else refers to it.
        #[expect(clippy::multiple_unsafe_ops_per_block, reason = "protect, copy and publish act on the same fresh reservation")]
        unsafe {
            obj.platform
                .protect(ptr, reserved, Protection::ReadWrite)
                .map_err(|e| Error::Resource(alloc::format!("code memory: {e}")))?;
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len());
            obj.platform.publish_code(ptr, reserved).map_err(|e| Error::Resource(alloc::format!("code memory: {e}")))?;
        }
        Ok(obj)
    }

    /// Publish several pieces of code (bytes and sorted trap sites each)
    /// with one copy and one publication — one instruction-cache sync on
    /// every hart instead of one per piece — and return one object per
    /// piece, each with its entry at its offset 0. The pieces share the
    /// memory, released when the last of them is dropped.
    pub fn publish_pieces(platform: Arc<dyn Platform>, pieces: &[CodePiece<'_>]) -> Result<Vec<Arc<Self>>> {
        /// Each piece starts on a boundary the ISAs' functions use.
        const ALIGN: usize = 32;
        let mut bytes = Vec::new();
        let mut starts = Vec::with_capacity(pieces.len());
        for (code, _) in pieces {
            bytes.resize(bytes.len().next_multiple_of(ALIGN), 0);
            starts.push(bytes.len());
            bytes.extend_from_slice(code);
        }
        let whole = Arc::new(Self::publish(platform.clone(), &bytes, Vec::new(), Vec::new(), 0, None)?);
        let windows = pieces
            .iter()
            .zip(starts)
            .map(|((code, traps), start)| {
                // In bounds: `start + code.len() <= bytes.len()`, the
                // published length.
                let ptr = NonNull::new(whole.ptr.as_ptr().wrapping_add(start)).unwrap_or(whole.ptr);
                Arc::new(CodeObject {
                    ptr,
                    reserved: 0,
                    len: code.len(),
                    platform: platform.clone(),
                    traps: traps.to_vec(),
                    funcs: Vec::new(),
                    first_func: 0,
                    names: None,
                    backing: Some(whole.clone()),
                })
            })
            .collect();
        Ok(windows)
    }

    /// Address of `offset` in the code.
    pub fn addr(&self, offset: u32) -> *const u8 {
        self.ptr.as_ptr().wrapping_add(offset as usize).cast_const()
    }

    /// Whether `pc` lies in this code.
    pub fn contains(&self, pc: usize) -> bool {
        let start = self.ptr.as_ptr() as usize;
        pc >= start && pc < start + self.len
    }

    fn offset_of(&self, pc: usize) -> Option<u32> {
        if !self.contains(pc) {
            return None;
        }
        u32::try_from(pc - self.ptr.as_ptr() as usize).ok()
    }

    /// The trap recorded for the instruction at `pc`: `Some(Some(code))`,
    /// `Some(None)` for a pending trap, `None` if no trap is recorded there.
    pub fn trap_at(&self, pc: usize) -> Option<Option<TrapCode>> {
        let off = self.offset_of(pc)?;
        self.traps.binary_search_by_key(&off, |(o, _)| *o).ok().map(|i| self.traps[i].1)
    }

    /// Function index and code offset for a pc inside a defined function.
    pub fn func_at(&self, pc: usize) -> Option<(u32, u32, Option<&str>)> {
        let off = self.offset_of(pc)?;
        let i = self.funcs.partition_point(|(start, _)| *start <= off).checked_sub(1)?;
        let (start, len) = self.funcs[i];
        if off >= start + len {
            return None;
        }
        let index = self.first_func + u32::try_from(i).ok()?;
        let name = self.names.as_deref().and_then(|section| crate::compile::info::function_name(section, index));
        Some((index, off - start, name))
    }
}

impl Drop for CodeObject {
    fn drop(&mut self) {
        if self.backing.is_some() {
            // A window: the backing object releases the memory when its
            // last window is gone.
            return;
        }
        // SAFETY: this is exactly our reservation, and the code can no longer
        // run: every store holding the module (and so this object) is gone.
        unsafe { self.platform.release(self.ptr, self.reserved) };
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn pieces_published_together_each_see_only_their_code_and_traps() {
        let platform: Arc<dyn Platform> = Arc::new(crate::platform::HostPlatform);
        let (a, b) = ([0xaa_u8; 40], [0xbb_u8; 7]);
        let traps_b = [(3, Some(TrapCode::Unreachable))];
        let pieces = CodeObject::publish_pieces(platform, &[(&a, &[]), (&b, &traps_b)]).expect("publish");
        let (first, second) = (&pieces[0], &pieces[1]);
        // SAFETY: the window lies inside the published, readable memory
        // kept alive by `pieces`.
        let read_a = unsafe { core::slice::from_raw_parts(first.addr(0), 40) };
        // SAFETY: as above.
        let read_b = unsafe { core::slice::from_raw_parts(second.addr(0), 7) };
        assert_eq!((read_a, read_b), (&a[..], &b[..]));
        assert_eq!(second.addr(0) as usize % 32, 0, "each piece starts aligned");
        let pc = second.addr(3) as usize;
        assert_eq!(second.trap_at(pc), Some(Some(TrapCode::Unreachable)));
        assert_eq!(first.trap_at(pc), None, "outside the first piece");
        assert!(first.contains(first.addr(39) as usize) && !first.contains(first.addr(40) as usize));
        // The memory outlives the first window dropped.
        let second = second.clone();
        drop(pieces);
        // SAFETY: `second` keeps the shared memory alive.
        assert_eq!(unsafe { *second.addr(6) }, 0xbb);
    }
}
