//! Executable code: a reservation written once, then flipped to read+execute.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;

use crate::error::{Error, Result};
use crate::platform::{Platform, Protection};
use crate::trap::TrapCode;

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
    names: BTreeMap<u32, String>,
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
        names: BTreeMap<u32, String>,
    ) -> Result<Self> {
        let page = platform.page_size();
        let reserved = bytes.len().max(1).div_ceil(page) * page;
        let ptr = platform.reserve(reserved).map_err(|e| Error::Resource(alloc::format!("code memory: {e}")))?;
        let obj = CodeObject { ptr, reserved, len: bytes.len(), platform, traps, funcs, first_func, names };
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
        Some((index, off - start, self.names.get(&index).map(String::as_str)))
    }
}

impl Drop for CodeObject {
    fn drop(&mut self) {
        // SAFETY: this is exactly our reservation, and the code can no longer
        // run: every store holding the module (and so this object) is gone.
        unsafe { self.platform.release(self.ptr, self.reserved) };
    }
}
