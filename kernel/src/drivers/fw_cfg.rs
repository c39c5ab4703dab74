//! QEMU's firmware configuration device (`qemu,fw-cfg-mmio`): named files
//! the host passes with `-fw_cfg name=opt/...,file=...`, read by DMA
//! straight into kernel memory. No loader involvement: the data never
//! sits in RAM before the kernel asks for it.
//!
//! Registers (all big-endian): data at +0, selector at +8, DMA address at
//! +16 (writing its low half at +20 starts the transfer, which QEMU
//! completes before the write returns).

extern crate alloc;

use alloc::vec::Vec;
use hypha_kmem::{PAGE_SIZE, VirtAddr};

const SELECT_FILE_DIR: u16 = 0x19;
const DMA_ERROR: u32 = 1;
const DMA_READ: u32 = 2;
const DMA_SELECT: u32 = 8;

/// Why a file could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FwCfgError {
    /// No file of that name.
    NotFound,
    /// The device reported a DMA error.
    Dma,
    /// A buffer page has no physical address (not mapped).
    Unmapped,
    /// Not enough memory for the file.
    OutOfMemory,
}

impl core::fmt::Display for FwCfgError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FwCfgError::NotFound => "no such fw_cfg file",
            FwCfgError::Dma => "fw_cfg DMA error",
            FwCfgError::Unmapped => "fw_cfg buffer not mapped",
            FwCfgError::OutOfMemory => "out of memory for the fw_cfg file",
        })
    }
}

/// One DMA request, as the device reads it from memory.
#[repr(C, align(16))]
struct DmaAccess {
    control: u32,
    length: u32,
    address: u64,
}

/// The device at a virtual address.
#[derive(Debug, Clone, Copy)]
pub struct FwCfg {
    base: usize,
}

fn physical(address: usize) -> Result<u64, FwCfgError> {
    let page = address & !(PAGE_SIZE - 1);
    let (frame, _) = crate::mem::translate(VirtAddr::new(page)).ok_or(FwCfgError::Unmapped)?;
    Ok(frame.as_u64() + u64::try_from(address - page).map_err(|_| FwCfgError::Unmapped)?)
}

impl FwCfg {
    /// The device named by the device tree, if any.
    #[must_use]
    pub fn find() -> Option<Self> {
        let info = crate::boot::info()?;
        let address = usize::try_from(info.fdt_physical.wrapping_add(info.physical_memory_offset)).ok()?;
        // SAFETY: the loader left the device tree in place and all RAM is
        // mapped at the offset (see `platform::Platform::read`).
        let fdt = unsafe { fdt::Fdt::from_ptr(core::ptr::with_exposed_provenance(address)) }.ok()?;
        let node = fdt.find_compatible(&["qemu,fw-cfg-mmio"])?;
        let physical = node.reg()?.next()?.starting_address.addr();
        Some(Self { base: crate::boot::physical_to_virtual(physical) })
    }

    /// One DMA transfer: `control` with `length` bytes to/from `buffer`
    /// (which must not cross a page boundary).
    fn dma(&self, control: u32, buffer: *mut u8, length: usize) -> Result<(), FwCfgError> {
        let target = if length == 0 { 0 } else { physical(buffer.addr())? };
        let access = DmaAccess {
            control: control.to_be(),
            length: u32::try_from(length).map_err(|_| FwCfgError::Dma)?.to_be(),
            address: target.to_be(),
        };
        let request = physical((&raw const access).addr())?;
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let register = core::ptr::with_exposed_provenance_mut::<u32>(self.base + 16);
        let register_low = core::ptr::with_exposed_provenance_mut::<u32>(self.base + 20);
        // Request addresses are u64; the halves are written big-endian,
        // high first (the low write starts the transfer).
        let high = u32::try_from(request >> 32).map_err(|_| FwCfgError::Dma)?;
        let low = u32::try_from(request & 0xffff_ffff).map_err(|_| FwCfgError::Dma)?;
        // SAFETY: `base` is the fw_cfg device (found in the device tree,
        // mapped through the physical map); `access` lives on this stack
        // until the device has finished with it (it completes the
        // transfer synchronously, and we poll `control` below).
        unsafe { register.write_volatile(high.to_be()) };
        // SAFETY: as above; the low half is the next 32-bit register.
        unsafe { register_low.write_volatile(low.to_be()) };
        loop {
            // SAFETY: reading our own request back; the device wrote it.
            let status = u32::from_be(unsafe { (&raw const access.control).read_volatile() });
            if status & DMA_ERROR != 0 {
                return Err(FwCfgError::Dma);
            }
            if status == 0 {
                break;
            }
            core::hint::spin_loop();
        }
        Ok(())
    }

    /// Reads `buffer.len()` bytes of the selected item into `buffer`, page
    /// by page (the buffer is virtually contiguous only).
    fn read_into(&self, mut control: u32, buffer: &mut [u8]) -> Result<(), FwCfgError> {
        let mut done = 0;
        while done < buffer.len() {
            let address = buffer[done..].as_mut_ptr();
            let to_page_end = PAGE_SIZE - (address.addr() & (PAGE_SIZE - 1));
            let chunk = to_page_end.min(buffer.len() - done);
            self.dma(control | DMA_READ, address, chunk)?;
            // Only the first transfer selects; the rest continue from the
            // device's current offset.
            control = 0;
            done += chunk;
        }
        Ok(())
    }

    /// The contents of file `name`.
    ///
    /// # Errors
    ///
    /// [`FwCfgError`] when the file does not exist or the transfer fails.
    pub fn read_file(&self, name: &str) -> Result<Vec<u8>, FwCfgError> {
        let mut count = [0u8; 4];
        self.read_into((u32::from(SELECT_FILE_DIR) << 16) | DMA_SELECT, &mut count)?;
        let count = u32::from_be_bytes(count);
        let mut found = None;
        for _ in 0..count {
            let mut entry = [0u8; 64];
            self.read_into(0, &mut entry)?;
            let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
            let select = u16::from_be_bytes([entry[4], entry[5]]);
            let raw = &entry[8..];
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            if &raw[..end] == name.as_bytes() {
                found = Some((size, select));
                break;
            }
        }
        let (size, select) = found.ok_or(FwCfgError::NotFound)?;
        let size = usize::try_from(size).map_err(|_| FwCfgError::OutOfMemory)?;
        let mut data = Vec::new();
        data.try_reserve_exact(size).map_err(|_| FwCfgError::OutOfMemory)?;
        data.resize(size, 0);
        self.read_into((u32::from(select) << 16) | DMA_SELECT, &mut data)?;
        Ok(data)
    }
}
