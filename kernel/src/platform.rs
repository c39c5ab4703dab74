//! What the kernel reads from the device tree: devices, interrupt wiring,
//! bootargs. Addresses here are physical; add the physical-memory offset.

use fdt::Fdt;
use hypha_boot_info::{BootInfo, MAX_HARTS};

/// S-mode external interrupt number in a hart's interrupt controller.
const S_EXTERNAL_INTERRUPT: u32 = 9;

/// The devices and settings the kernel uses.
#[derive(Debug, Clone, Copy)]
pub struct Platform {
    /// 16550 UART registers and its PLIC source.
    pub uart: Option<(usize, u32)>,
    /// PLIC registers.
    pub plic: Option<usize>,
    /// PLIC S-mode context of each hart, by hart id.
    pub plic_contexts: [Option<usize>; MAX_HARTS],
    /// SiFive test device register.
    pub test_device: Option<usize>,
    /// `/chosen` `bootargs`.
    pub bootargs: &'static str,
    /// Whether the harts implement Sstc (`stimecmp`).
    pub sstc: bool,
}

/// Why the device tree could not be read.
#[derive(Debug, Clone, Copy)]
pub enum PlatformError {
    /// The blob does not parse.
    Parse(fdt::FdtError),
}

impl core::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Parse(error) => write!(f, "device tree does not parse: {error}"),
        }
    }
}

impl Platform {
    /// Reads the device tree the loader passed.
    ///
    /// # Errors
    ///
    /// [`PlatformError::Parse`] if the tree is malformed.
    pub fn read(boot_info: &BootInfo) -> Result<Self, PlatformError> {
        let address = usize::try_from(boot_info.fdt_physical.wrapping_add(boot_info.physical_memory_offset))
            .unwrap_or(0);
        // SAFETY: the loader left the device tree in place (memory kind
        // FDT, never reclaimed) and all RAM is mapped at the offset, so it
        // stays readable for the kernel's lifetime.
        let fdt: Fdt<'static> = unsafe { Fdt::from_ptr(core::ptr::with_exposed_provenance(address)) }
            .map_err(PlatformError::Parse)?;
        let node_reg = |node: &fdt::node::FdtNode<'_, '_>| {
            node.reg().and_then(|mut reg| reg.next()).map(|region| region.starting_address as usize)
        };
        let uart = fdt.find_compatible(&["ns16550a", "ns16550"]).and_then(|node| {
            let irq = node.property("interrupts").and_then(|property| property.as_usize())?;
            Some((node_reg(&node)?, u32::try_from(irq).ok()?))
        });
        let plic_node = fdt.find_compatible(&["riscv,plic0", "sifive,plic-1.0.0"]);
        let plic = plic_node.as_ref().and_then(node_reg);
        let mut plic_contexts = [None; MAX_HARTS];
        if let Some(plic_node) = &plic_node {
            let controllers = interrupt_controllers(&fdt);
            // interrupts-extended: (controller phandle, interrupt) per context.
            let words = plic_node
                .property("interrupts-extended")
                .map_or(&[][..], |property| property.value)
                .chunks_exact(4)
                .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]));
            let mut pair = [0u32; 2];
            for (position, word) in words.enumerate() {
                pair[position % 2] = word;
                if position % 2 == 1 && pair[1] == S_EXTERNAL_INTERRUPT {
                    let context = position / 2;
                    let hart = controllers.iter().flatten().find(|(phandle, _)| *phandle == pair[0]).map(|(_, hart)| *hart);
                    if let Some(slot) = hart.and_then(|hart| plic_contexts.get_mut(hart)) {
                        *slot = Some(context);
                    }
                }
            }
        }
        let test_device = fdt.find_compatible(&["sifive,test0", "sifive,test1"]).as_ref().and_then(node_reg);
        let bootargs = fdt.chosen().bootargs().unwrap_or("");
        let sstc = fdt.cpus().next().is_some_and(|cpu| {
            let in_extensions = cpu
                .property("riscv,isa-extensions")
                .is_some_and(|property| property.value.split(|&byte| byte == 0).any(|name| name == b"sstc"));
            let in_isa = cpu.property("riscv,isa").and_then(|property| property.as_str()).is_some_and(|isa| isa.contains("_sstc"));
            in_extensions || in_isa
        });
        Ok(Self { uart, plic, plic_contexts, test_device, bootargs, sstc })
    }
}

/// `(phandle, hart id)` of each hart's interrupt controller, read in one
/// pass over `/cpus`.
fn interrupt_controllers(fdt: &Fdt<'_>) -> [Option<(u32, usize)>; MAX_HARTS * 2] {
    let mut controllers = [None; MAX_HARTS * 2];
    let Some(cpus) = fdt.find_node("/cpus") else { return controllers };
    let found = cpus.children().filter_map(|cpu| {
        let hart = cpu.reg()?.next()?.starting_address as usize;
        let controller = cpu.children().find(|child| child.name.starts_with("interrupt-controller"))?;
        let phandle = controller.property("phandle").and_then(|property| property.as_usize())?;
        Some((u32::try_from(phandle).ok()?, hart))
    });
    for (slot, entry) in controllers.iter_mut().zip(found) {
        *slot = Some(entry);
    }
    controllers
}
