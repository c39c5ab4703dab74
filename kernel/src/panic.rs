//! The panic handler: stop the other harts, say what failed (and which
//! ktest was running), print a frame-pointer backtrace as link-time
//! addresses, and end the QEMU run with a failure status.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU exit status for a panic outside a test.
pub const EXIT_PANIC: u16 = 1;
/// QEMU exit status for a panic inside a ktest (xtask reboots to go on).
pub const EXIT_TEST_FAILED: u16 = 101;

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    crate::arch::csr::disable_interrupts();
    if PANICKING.swap(true, Ordering::AcqRel) {
        // Another hart is already reporting (or this one panicked while
        // reporting): leave the console to it.
        crate::arch::halt();
    }
    crate::ipi::halt_others();
    crate::console::flush_emergency();
    let hart = crate::percpu::current().hart_id;
    let test = crate::ktest::current();
    if let Some(test) = test {
        crate::console::print_emergency(format_args!("test {} ... FAILED\n", test.display_name()));
    }
    match info.location() {
        Some(location) => crate::console::print_emergency(format_args!(
            "kernel panic on hart {hart} at {location}:\n  {}\n",
            info.message()
        )),
        None => crate::console::print_emergency(format_args!("kernel panic on hart {hart}:\n  {}\n", info.message())),
    }
    crate::backtrace::print_current();
    crate::drivers::sifive_test::exit(if test.is_some() { EXIT_TEST_FAILED } else { EXIT_PANIC })
}
