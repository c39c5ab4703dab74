//! Inter-processor interrupts through SBI `send_ipi`, with a per-hart
//! message word saying what the receiver should do.

use core::sync::atomic::Ordering;

/// What an IPI asks of its receiver (bits of `PerCpu::ipi_messages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// Nothing beyond counting (tests, wake-ups).
    Ping = 1,
    /// Stop for good: another hart panicked.
    Halt = 2,
    /// Run the function in `PerCpu::call` (see [`run_on`]).
    Call = 4,
}

/// Why an IPI was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpiError {
    /// No online hart has this id.
    NoSuchHart(usize),
    /// The firmware refused.
    Sbi(crate::arch::sbi::SbiError),
    /// The hart has not yet run the previous function sent to it.
    Busy(usize),
}

/// Sends `message` to the hart with id `hart_id`.
///
/// # Errors
///
/// [`IpiError`] if the hart is not online or the firmware refuses.
pub fn send(hart_id: usize, message: Message) -> Result<(), IpiError> {
    let target = crate::percpu::all().find(|per_cpu| per_cpu.hart_id == hart_id).ok_or(IpiError::NoSuchHart(hart_id))?;
    target.ipi_messages.fetch_or(message as usize, Ordering::AcqRel);
    crate::arch::sbi::send_ipi(1, hart_id).map_err(IpiError::Sbi)
}

/// Runs `function` on the hart with id `hart_id`, in its IPI handler
/// (interrupts off, on its trap stack). Returns once the IPI is sent, not
/// when `function` has run.
///
/// # Errors
///
/// [`IpiError::Busy`] if the hart still has a function pending, or what
/// [`send`] reports.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "no caller outside the in-kernel tests yet (the scheduler will wake harts with it)"))]
pub fn run_on(hart_id: usize, function: fn()) -> Result<(), IpiError> {
    let target = crate::percpu::all().find(|per_cpu| per_cpu.hart_id == hart_id).ok_or(IpiError::NoSuchHart(hart_id))?;
    target
        .call
        .compare_exchange(0, function as usize, Ordering::AcqRel, Ordering::Acquire)
        .map_err(|_| IpiError::Busy(hart_id))?;
    send(hart_id, Message::Call)
}

/// Enables IPIs on this hart.
pub fn start_on_this_hart() {
    crate::arch::csr::enable_interrupt_sources(crate::arch::csr::SSI);
}

/// The software interrupt.
pub fn handle() {
    crate::arch::csr::clear_software_interrupt();
    let per_cpu = crate::percpu::current();
    per_cpu.ipis.fetch_add(1, Ordering::Relaxed);
    let messages = per_cpu.ipi_messages.swap(0, Ordering::AcqRel);
    if messages & Message::Halt as usize != 0 {
        crate::arch::halt();
    }
    if messages & Message::Call as usize != 0 {
        let address = per_cpu.call.swap(0, Ordering::AcqRel);
        if address != 0 {
            // SAFETY: `run_on` is the only writer of `call`, and it stores
            // the address of a `fn()`.
            let function: fn() = unsafe { core::mem::transmute::<usize, fn()>(address) };
            function();
        }
    }
}

/// Asks every other online hart to stop (best effort; used when panicking).
pub fn halt_others() {
    let me = crate::percpu::current().hart_id;
    for per_cpu in crate::percpu::all().filter(|per_cpu| per_cpu.hart_id != me) {
        let _ = send(per_cpu.hart_id, Message::Halt);
    }
}
