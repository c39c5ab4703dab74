//! The platform-level interrupt controller (`riscv,plic0`).
//!
//! Each hart's S-mode has a *context*; which one is read from the device
//! tree (`interrupts-extended`), not assumed.

/// Register offsets.
const PRIORITY: usize = 0x0;
const ENABLE: usize = 0x2000;
const ENABLE_STRIDE: usize = 0x80;
const CONTEXT: usize = 0x20_0000;
const CONTEXT_STRIDE: usize = 0x1000;
const THRESHOLD: usize = 0;
const CLAIM: usize = 4;

/// A PLIC register block.
#[derive(Debug, Clone, Copy)]
pub struct Plic {
    base: usize,
}

impl Plic {
    /// Wraps the registers at virtual address `base`.
    ///
    /// # Safety
    ///
    /// `base` maps a PLIC register block (4 MiB at least for 15872 contexts;
    /// the mapping covers every context used).
    #[must_use]
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn register(&self, offset: usize) -> *mut u32 {
        core::ptr::with_exposed_provenance_mut(self.base + offset)
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: offsets below come from the PLIC
        // register map and land in the block.
        unsafe { self.register(offset).write_volatile(value) };
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: as in `write`.
        unsafe { self.register(offset).read_volatile() }
    }

    /// Sets source `irq`'s priority (0 disables it).
    pub fn set_priority(&self, irq: u32, priority: u32) {
        self.write(PRIORITY + 4 * irq as usize, priority);
    }

    /// Enables or disables source `irq` for `context`.
    pub fn set_enabled(&self, context: usize, irq: u32, enabled: bool) {
        let offset = ENABLE + context * ENABLE_STRIDE + 4 * (irq as usize / 32);
        let bit = 1 << (irq % 32);
        let value = self.read(offset);
        self.write(offset, if enabled { value | bit } else { value & !bit });
    }

    /// Whether source `irq` is enabled for `context`.
    #[must_use]
    pub fn is_enabled(&self, context: usize, irq: u32) -> bool {
        let offset = ENABLE + context * ENABLE_STRIDE + 4 * (irq as usize / 32);
        self.read(offset) & (1 << (irq % 32)) != 0
    }

    /// Sets `context`'s priority threshold (interrupts at or below are masked).
    pub fn set_threshold(&self, context: usize, threshold: u32) {
        self.write(CONTEXT + context * CONTEXT_STRIDE + THRESHOLD, threshold);
    }

    /// Claims the highest-priority pending interrupt for `context` (0 = none).
    #[must_use]
    pub fn claim(&self, context: usize) -> u32 {
        self.read(CONTEXT + context * CONTEXT_STRIDE + CLAIM)
    }

    /// Signals that `irq`, claimed on `context`, has been handled.
    pub fn complete(&self, context: usize, irq: u32) {
        self.write(CONTEXT + context * CONTEXT_STRIDE + CLAIM, irq);
    }
}
