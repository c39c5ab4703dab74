//! The SiFive test device (`sifive,test0`): writing to it ends the QEMU
//! run with a status.

use core::sync::atomic::{AtomicUsize, Ordering};

static BASE: AtomicUsize = AtomicUsize::new(0);
const PASS: u32 = 0x5555;
const FAIL: u32 = 0x3333;

/// Uses the device at virtual address `base`.
///
/// # Safety
///
/// `base` maps the test device's register.
pub unsafe fn init(base: usize) {
    BASE.store(base, Ordering::Release);
}

/// Ends the run: QEMU exits with 0 when `code` is 0, else with `code`.
/// Falls back to an SBI shutdown without the device, and halts if that
/// returns.
///
/// QEMU handles the device write as a shutdown *request* that its main
/// loop acts on a little later, so after the write this hart only halts:
/// anything else (an SBI shutdown, which OpenSBI implements with the same
/// device and a success code) could overwrite the status.
pub fn exit(code: u16) -> ! {
    crate::console::flush_emergency();
    let base = BASE.load(Ordering::Acquire);
    if base != 0 {
        let value = if code == 0 { PASS } else { (u32::from(code) << 16) | FAIL };
        let pointer = core::ptr::with_exposed_provenance_mut::<u32>(base);
        // SAFETY: `init`'s contract makes this the test device register.
        unsafe { pointer.write_volatile(value) };
        crate::arch::halt()
    }
    crate::arch::sbi::shutdown(code != 0);
    crate::arch::halt()
}
