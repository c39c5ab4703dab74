//! External interrupts: the PLIC, and which driver handles which source.

use crate::drivers::plic::Plic;
use crate::sync::Once;
use core::sync::atomic::Ordering;

struct Wiring {
    plic: Plic,
    contexts: [Option<usize>; hypha_boot_info::MAX_HARTS],
    uart_irq: Option<u32>,
}

static WIRING: Once<Wiring> = Once::new();

/// Sets up the PLIC: the UART's source routed to the boot hart, every
/// hart's threshold at 0. `plic` is a virtual address.
///
/// # Safety
///
/// `plic` maps the PLIC's registers.
pub unsafe fn init(plic: usize, contexts: [Option<usize>; hypha_boot_info::MAX_HARTS], uart_irq: Option<u32>, boot_hart: usize) {
    // SAFETY: forwarded from the caller.
    let plic = unsafe { Plic::new(plic) };
    for context in contexts.iter().flatten() {
        plic.set_threshold(*context, 0);
    }
    if let Some(irq) = uart_irq {
        plic.set_priority(irq, 1);
        match contexts.get(boot_hart).copied().flatten() {
            Some(context) => plic.set_enabled(context, irq, true),
            None => log::error!("no PLIC context for hart {boot_hart}: console input disabled"),
        }
    }
    WIRING.set(Wiring { plic, contexts, uart_irq });
}

/// Whether source `irq` is enabled for PLIC `context`.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "only the in-kernel tests read enables back"))]
#[must_use]
pub fn is_enabled(context: usize, irq: u32) -> bool {
    WIRING.get().is_some_and(|wiring| wiring.plic.is_enabled(context, irq))
}

/// Lets external interrupts reach this hart.
pub fn start_on_this_hart() {
    crate::arch::csr::enable_interrupt_sources(crate::arch::csr::SEI);
}

/// The external interrupt: claim, dispatch, complete, until none is pending.
pub fn handle_external() {
    let per_cpu = crate::percpu::current();
    per_cpu.external_interrupts.fetch_add(1, Ordering::Relaxed);
    let Some(wiring) = WIRING.get() else { return };
    let Some(context) = wiring.contexts.get(per_cpu.hart_id).copied().flatten() else { return };
    loop {
        let irq = wiring.plic.claim(context);
        if irq == 0 {
            break;
        }
        if Some(irq) == wiring.uart_irq {
            crate::console::handle_interrupt();
        } else {
            log::warn!("unexpected external interrupt {irq}");
        }
        wiring.plic.complete(context, irq);
    }
}
