//! Ending the QEMU run: the SiFive test device when the device tree has
//! one, SBI system reset otherwise.

use crate::arch::{halt, sbi};
use core::sync::atomic::{AtomicUsize, Ordering};

static TEST_DEVICE: AtomicUsize = AtomicUsize::new(0);

/// Uses the `sifive,test0` device at physical address `base` to exit.
///
/// # Safety
///
/// `base` is the register of a SiFive test device (QEMU `virt`).
pub unsafe fn use_test_device(base: usize) {
    TEST_DEVICE.store(base, Ordering::Relaxed);
}

/// Powers off QEMU reporting failure with `code` (QEMU exits with it).
pub fn fail(code: u16) -> ! {
    let base = TEST_DEVICE.load(Ordering::Relaxed);
    if base != 0 {
        let value = (u32::from(code) << 16) | 0x3333;
        // SAFETY: `use_test_device` made `base` the test device's register;
        // this write makes QEMU exit.
        unsafe { (base as *mut u32).write_volatile(value) };
        // QEMU acts on the write a little later; an SBI reset now (which
        // OpenSBI implements with this device and a success code) could
        // replace the failure status, so only wait.
        halt()
    }
    sbi::system_reset(true);
    halt()
}
