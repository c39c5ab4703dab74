//! The loader's console: polled writes to the 16550 UART the device tree
//! names, or the legacy SBI console before (or without) one.

use crate::arch::sbi;
use core::fmt::{self, Write as _};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Physical address of the UART's registers; 0 until the FDT is read.
static UART_BASE: AtomicUsize = AtomicUsize::new(0);

/// 16550 registers (byte offsets, `reg-shift` 0 on QEMU virt).
const THR: usize = 0;
const LSR: usize = 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Uses the UART at physical address `base` from now on.
///
/// # Safety
///
/// `base` is the register block of a 16550-compatible UART, accessible
/// with paging off, and nothing else drives it while the loader runs.
pub unsafe fn use_uart(base: usize) {
    UART_BASE.store(base, Ordering::Relaxed);
}

fn write_byte(byte: u8) {
    let base = UART_BASE.load(Ordering::Relaxed);
    if base == 0 {
        sbi::legacy_putchar(byte);
        return;
    }
    let lsr = (base + LSR) as *const u8;
    let thr = (base + THR) as *mut u8;
    // SAFETY: `use_uart`'s contract makes `base` a 16550 register block;
    // reading LSR has no side effects.
    while unsafe { lsr.read_volatile() } & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    // SAFETY: as above; THR is writable once LSR says it is empty.
    unsafe { thr.write_volatile(byte) };
}

struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                write_byte(b'\r');
            }
            write_byte(byte);
        }
        Ok(())
    }
}

/// Writes formatted text (used by `println!`).
pub fn print(arguments: fmt::Arguments<'_>) {
    // Console writes cannot fail.
    let _ = Console.write_fmt(arguments);
}

/// Prints a line on the loader console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}
