//! The kernel console on the UART, interrupt-driven both ways.
//!
//! Output goes into a ring buffer under a lock; whoever prints moves as
//! much as the UART takes at once, and the rest is sent by the UART's
//! transmit-empty interrupt (until that interrupt is wired up, and when
//! the ring is full, the printer waits for the UART instead). Input is
//! collected by the receive interrupt into another ring. Panics use a
//! lock-free path that drains the ring and writes directly.

use crate::drivers::uart16550::Uart;
use crate::sync::{Once, SpinLock};
use core::fmt::{self, Write as _};

static UART: Once<Uart> = Once::new();
static OUTPUT: SpinLock<Output> = SpinLock::new(Output { ring: Ring::new(), interrupt_driven: false });
static INPUT: SpinLock<Ring<256>> = SpinLock::new(Ring::new());

/// Bytes waiting for the transmitter.
#[derive(Debug)]
struct Output {
    ring: Ring<4096>,
    /// Whether the transmit-empty interrupt is wired to a hart.
    interrupt_driven: bool,
}

/// A byte FIFO of fixed capacity.
#[derive(Debug)]
struct Ring<const N: usize> {
    bytes: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Self { bytes: [0; N], head: 0, len: 0 }
    }

    const fn is_full(&self) -> bool {
        self.len == N
    }

    /// Appends `byte`; drops it when full.
    fn push(&mut self, byte: u8) {
        if self.is_full() {
            return;
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

/// From now on, leave what the UART cannot take at once to its
/// transmit-empty interrupt (call once that interrupt reaches a hart).
pub fn use_transmit_interrupt() {
    OUTPUT.lock().interrupt_driven = true;
}

/// Moves bytes from the ring into the UART while it has room, then
/// enables the transmit-empty interrupt if bytes remain (or disables it).
fn transmit(uart: &Uart, output: &mut Output) {
    while output.ring.len > 0 && uart.can_write() {
        // The transmitter is empty: the 16-byte FIFO takes a burst.
        for _ in 0..16 {
            let Some(byte) = output.ring.pop() else { break };
            uart.write_now(byte);
        }
    }
    uart.set_interrupts(true, output.interrupt_driven && output.ring.len > 0);
}

/// Sends everything in the ring, waiting for the UART.
fn drain(uart: &Uart, output: &mut Output) {
    while let Some(byte) = output.ring.pop() {
        uart.write_polled(byte);
    }
}

struct Locked<'a> {
    output: &'a mut Output,
    uart: &'a Uart,
}

impl Locked<'_> {
    fn put(&mut self, byte: u8) {
        if self.output.ring.is_full() {
            drain(self.uart, self.output);
        }
        self.output.ring.push(byte);
    }
}

impl fmt::Write for Locked<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                self.put(b'\r');
            }
            self.put(byte);
        }
        Ok(())
    }
}

struct Direct;

impl fmt::Write for Direct {
    fn write_str(&mut self, text: &str) -> fmt::Result {
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
        Ok(())
    }
}

/// Writes formatted text atomically with respect to other harts.
pub fn print(arguments: fmt::Arguments<'_>) {
    let Some(uart) = UART.get() else {
        let _ = Direct.write_fmt(arguments);
        return;
    };
    let mut output = OUTPUT.lock();
    let _ = Locked { output: &mut output, uart }.write_fmt(arguments);
    if output.interrupt_driven {
        transmit(uart, &mut output);
    } else {
        drain(uart, &mut output);
    }
}

/// Sends whatever the ring holds, without the lock (the panic and exit
/// paths: the lock may be held by the code that failed).
pub fn flush_emergency() {
    let Some(uart) = UART.get() else { return };
    // Best effort: take the lock if it is free; if not, its holder was
    // interrupted mid-print and its bytes stay in the ring.
    if let Some(mut output) = OUTPUT.try_lock() {
        output.interrupt_driven = false;
        drain(uart, &mut output);
        uart.set_interrupts(true, false);
    }
}

/// Writes without taking the lock: for the panic path, where the lock may
/// be held by the panicking code. Output may interleave.
pub fn print_emergency(arguments: fmt::Arguments<'_>) {
    let _ = Direct.write_fmt(arguments);
}

/// The UART interrupt: moves received bytes into the input ring and
/// refills the transmitter.
pub fn handle_interrupt() {
    let Some(uart) = UART.get() else { return };
    {
        let mut input = INPUT.lock();
        while let Some(byte) = uart.try_read() {
            input.push(byte);
        }
        if input.len > 0 {
            crate::sched::irq::raise(crate::sched::irq::Source::ConsoleInput);
        }
    }
    let mut output = OUTPUT.lock();
    transmit(uart, &mut output);
}

/// The next received byte, if any.
pub fn read_byte() -> Option<u8> {
    INPUT.lock().pop()
}

/// Whether received bytes are waiting.
pub fn input_pending() -> bool {
    INPUT.lock().len > 0
}

/// Writes raw bytes (a process's stdout), `\n` as `\r\n`, atomically
/// with respect to other writers.
pub fn write_bytes(bytes: &[u8]) {
    let Some(uart) = UART.get() else {
        crate::arch::sbi::debug_console_write(bytes);
        return;
    };
    let mut output = OUTPUT.lock();
    {
        let mut locked = Locked { output: &mut output, uart };
        for &byte in bytes {
            if byte == b'\n' {
                locked.put(b'\r');
            }
            locked.put(byte);
        }
    }
    if output.interrupt_driven {
        transmit(uart, &mut output);
    } else {
        drain(uart, &mut output);
    }
}

/// The next received byte, waiting (as a task) for the receive interrupt.
pub async fn next_byte() -> u8 {
    loop {
        if let Some(byte) = read_byte() {
            return byte;
        }
        // A wake that raced the check above is kept by the wait cell, so
        // this cannot sleep through a byte. Sources are never closed.
        let _ = crate::sched::irq::wait(crate::sched::irq::Source::ConsoleInput).await;
    }
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

/// Queues `text` without sending any of it, leaving it all to the
/// transmit-empty interrupt (tests use this to exercise that path, which
/// QEMU's always-ready UART otherwise rarely needs).
#[cfg(feature = "ktest")]
pub fn queue_for_interrupt(text: &str) {
    let Some(uart) = UART.get() else { return };
    let mut output = OUTPUT.lock();
    for byte in text.bytes() {
        output.ring.push(byte);
    }
    uart.set_interrupts(true, output.interrupt_driven && output.ring.len > 0);
}

/// Bytes waiting in the output ring.
#[cfg(feature = "ktest")]
pub fn pending_output() -> usize {
    OUTPUT.lock().ring.len
}
