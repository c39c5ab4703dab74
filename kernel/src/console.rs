//! The kernel console on the UART: output under a lock (with a lock-free
//! emergency path for panics), input collected by the UART's receive
//! interrupt into a ring buffer.

use crate::drivers::uart16550::Uart;
use crate::sync::{Once, SpinLock};
use core::fmt::{self, Write as _};

static UART: Once<Uart> = Once::new();
static OUTPUT: SpinLock<()> = SpinLock::new(());
static INPUT: SpinLock<InputRing> = SpinLock::new(InputRing::new());

/// Received bytes not yet read.
#[derive(Debug)]
struct InputRing {
    bytes: [u8; 256],
    head: usize,
    len: usize,
}

impl InputRing {
    const fn new() -> Self {
        Self { bytes: [0; 256], head: 0, len: 0 }
    }

    fn push(&mut self, byte: u8) {
        if self.len == self.bytes.len() {
            return; // full: drop, as a terminal would
        }
        let tail = (self.head + self.len) % self.bytes.len();
        self.bytes[tail] = byte;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let byte = self.bytes[self.head];
        self.head = (self.head + 1) % self.bytes.len();
        self.len -= 1;
        Some(byte)
    }
}

/// Starts using the UART at virtual address `base` (receive interrupt on).
///
/// # Safety
///
/// `base` maps a 16550 UART that nothing else drives.
pub unsafe fn init(base: usize) {
    // SAFETY: forwarded from the caller.
    let uart = unsafe { Uart::new(base) };
    uart.init();
    uart.set_interrupts(true, false);
    UART.set(uart);
}

fn write_bytes(text: &str) {
    match UART.get() {
        Some(uart) => {
            for byte in text.bytes() {
                if byte == b'\n' {
                    uart.write_polled(b'\r');
                }
                uart.write_polled(byte);
            }
        }
        None => crate::arch::sbi::debug_console_write(text.as_bytes()),
    }
}

struct Locked;

impl fmt::Write for Locked {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_bytes(text);
        Ok(())
    }
}

/// Writes formatted text atomically with respect to other harts.
pub fn print(arguments: fmt::Arguments<'_>) {
    let _guard = OUTPUT.lock();
    let _ = Locked.write_fmt(arguments);
}

/// Writes without taking the lock: for the panic path, where the lock may
/// be held by the panicking code. Output may interleave.
pub fn print_emergency(arguments: fmt::Arguments<'_>) {
    let _ = Locked.write_fmt(arguments);
}

/// The UART interrupt: moves received bytes into the input ring.
pub fn handle_interrupt() {
    let Some(uart) = UART.get() else { return };
    let mut input = INPUT.lock();
    while let Some(byte) = uart.try_read() {
        input.push(byte);
    }
}

/// The next received byte, if any.
pub fn read_byte() -> Option<u8> {
    INPUT.lock().pop()
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
