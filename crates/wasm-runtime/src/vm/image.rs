//! Memory images: a module's active data segments laid out once, at
//! `Module::new`, into one page-aligned window per defined memory, which
//! instantiation hands to [`Platform::map_image`] (copy-on-write mapping
//! on the host, one copy elsewhere) instead of copying every segment.
//!
//! A module gets images only when every active data segment has a
//! constant offset (no `global.get`), targets a memory the module defines
//! and fits in that memory's initial size: then no data segment can trap,
//! and applying all images at the point where the segments would be
//! copied (after the element segments) is exactly equivalent. Otherwise,
//! and when the image would be much larger than the data it holds,
//! instantiation copies the segments one by one as before.

use alloc::vec::Vec;

use crate::compile::info::{ConstExpr, ConstOp, ModuleInfo, SegmentMode};
use crate::platform::{MemoryImage, Platform};
use crate::vm::memory::WASM_PAGE;

/// Largest image built (bytes of window); larger ones copy segments.
const MAX_IMAGE_BYTES: usize = 64 << 20;

/// One defined memory's image.
#[derive(Debug)]
pub(crate) struct MemoryInit {
    /// Defined-memory index (0 = the first memory the module defines).
    pub defined_memory: u32,
    /// Byte offset of the window in the memory (page-aligned).
    pub offset: usize,
    pub image: MemoryImage,
}

/// The value of a constant `i32` offset expression, if it does not read
/// globals.
fn const_offset(expr: &ConstExpr) -> Option<u32> {
    let mut stack: Vec<u32> = Vec::with_capacity(2);
    for op in expr.0.iter() {
        let v = match *op {
            ConstOp::I32(v) => v.cast_unsigned(),
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop()?;
                let a = stack.pop()?;
                match *op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                }
            }
            _ => return None,
        };
        stack.push(v);
    }
    if stack.len() == 1 { stack.pop() } else { None }
}

/// The images of `info`'s defined memories, or `None` if the segments
/// must be copied at instantiation (see the module docs). An empty list
/// means there are no active data segments.
pub(crate) fn build(info: &ModuleInfo, platform: &dyn Platform) -> Option<Vec<MemoryInit>> {
    let page = platform.page_size();
    let imported = info.num_imported_memories;
    // Per defined memory: (start, end) of the data it receives.
    let mut extents: Vec<Option<(usize, usize)>> = alloc::vec![None; info.memories.len().saturating_sub(imported as usize)];
    let mut data_bytes: Vec<usize> = alloc::vec![0; extents.len()];
    let mut segments = Vec::new();
    for seg in &info.data {
        let SegmentMode::Active { index, offset } = &seg.mode else { continue };
        let defined = index.checked_sub(imported)?;
        let ty = info.memories.get(*index as usize)?;
        let start = usize::try_from(const_offset(offset)?).ok()?;
        let end = start.checked_add(seg.bytes.len())?;
        let initial = usize::try_from(ty.minimum.checked_mul(WASM_PAGE)?).ok()?;
        if end > initial {
            return None;
        }
        if seg.bytes.is_empty() {
            continue;
        }
        let slot = extents.get_mut(defined as usize)?;
        *slot = Some(slot.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
        data_bytes[defined as usize] += seg.bytes.len();
        segments.push((defined, start, &seg.bytes));
    }
    let mut inits = Vec::new();
    for (defined, extent) in extents.iter().enumerate() {
        let Some((start, end)) = *extent else { continue };
        let offset = start / page * page;
        let len = end.div_ceil(page) * page - offset;
        // A sparse image (a few bytes at both ends of a big memory) costs
        // more to keep and map than its segments cost to copy.
        if len > MAX_IMAGE_BYTES || len > 4 * data_bytes[defined] + 16 * page {
            return None;
        }
        let mut bytes = alloc::vec![0u8; len];
        for (d, s, b) in &segments {
            if *d as usize == defined {
                bytes[s - offset..s - offset + b.len()].copy_from_slice(b);
            }
        }
        let image = MemoryImage::new(platform, bytes.into_boxed_slice());
        inits.push(MemoryInit { defined_memory: u32::try_from(defined).ok()?, offset, image });
    }
    Some(inits)
}
