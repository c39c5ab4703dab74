//! A 16550-compatible UART (QEMU `virt`'s `ns16550a`), byte registers.

/// Receive buffer / transmit holding register.
const RBR_THR: usize = 0;
/// Interrupt enable register.
const IER: usize = 1;
/// FIFO control register.
const FCR: usize = 2;
/// Line control register.
const LCR: usize = 3;
/// Line status register.
const LSR: usize = 5;
const IER_RECEIVE: u8 = 1 << 0;
const IER_TRANSMIT_EMPTY: u8 = 1 << 1;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// The register block of one UART.
#[derive(Debug)]
pub struct Uart {
    base: usize,
}

impl Uart {
    /// Wraps the registers at virtual address `base`.
    ///
    /// # Safety
    ///
    /// `base` maps a 16550 register block that nothing else drives.
    #[must_use]
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn read(&self, register: usize) -> u8 {
        let pointer = core::ptr::with_exposed_provenance::<u8>(self.base + register);
        // SAFETY: `new`'s contract: `base + register` is a device register.
        unsafe { pointer.read_volatile() }
    }

    fn write(&self, register: usize, value: u8) {
        let pointer = core::ptr::with_exposed_provenance_mut::<u8>(self.base + register);
        // SAFETY: as in `read`.
        unsafe { pointer.write_volatile(value) };
    }

    /// 8N1, FIFOs on and cleared, interrupts off (the firmware already set
    /// the baud rate; QEMU ignores it).
    pub fn init(&self) {
        self.write(IER, 0);
        self.write(LCR, 0b11);
        self.write(FCR, 0b111);
    }

    /// Chooses which interrupts the UART raises.
    pub fn set_interrupts(&self, receive: bool, transmit_empty: bool) {
        let mut value = 0;
        if receive {
            value |= IER_RECEIVE;
        }
        if transmit_empty {
            value |= IER_TRANSMIT_EMPTY;
        }
        self.write(IER, value);
    }

    /// A received byte, if one is waiting.
    #[must_use]
    pub fn try_read(&self) -> Option<u8> {
        (self.read(LSR) & LSR_DATA_READY != 0).then(|| self.read(RBR_THR))
    }

    /// Whether the transmitter can take a byte now.
    #[must_use]
    pub fn can_write(&self) -> bool {
        self.read(LSR) & LSR_THR_EMPTY != 0
    }

    /// Writes one byte without waiting (check [`can_write`](Self::can_write)).
    pub fn write_now(&self, byte: u8) {
        self.write(RBR_THR, byte);
    }

    /// Waits for room, then writes one byte.
    pub fn write_polled(&self, byte: u8) {
        while !self.can_write() {
            core::hint::spin_loop();
        }
        self.write_now(byte);
    }
}
