//! What the loader needs from the flattened device tree.
//!
//! Missing essentials are [`DeviceTreeError`]s. The `fdt` crate checks the
//! header but panics on some structurally corrupt blobs; the firmware's tree
//! is trusted to be well-formed (a panic still ends the run with a failure
//! status and a message).

use fdt::Fdt;
use hypha_boot_info::MAX_HARTS;

/// Why the device tree could not be used.
#[derive(Debug, Clone, Copy)]
pub enum DeviceTreeError {
    /// The blob failed to parse.
    Parse(fdt::FdtError),
    /// No `/memory` node with a usable `reg`.
    NoMemory,
    /// No `timebase-frequency` under `/cpus`.
    NoTimebase,
    /// No hart is listed, or the boot hart is not among them.
    NoHarts,
}

impl core::fmt::Display for DeviceTreeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Parse(error) => write!(f, "device tree does not parse: {error}"),
            Self::NoMemory => f.write_str("device tree lists no memory"),
            Self::NoTimebase => f.write_str("device tree has no /cpus timebase-frequency"),
            Self::NoHarts => f.write_str("device tree lists no usable hart (or not the boot hart)"),
        }
    }
}

/// The machine as the device tree describes it.
#[derive(Debug)]
pub struct Machine<'a> {
    /// The parsed tree.
    pub fdt: Fdt<'a>,
    /// Physical address of a 16550 UART.
    pub uart: Option<usize>,
    /// Physical address of the SiFive test device.
    pub test_device: Option<usize>,
    /// Frequency of the `time` CSR.
    pub timebase_hz: u64,
    /// `/chosen` `bootargs` (empty if none).
    pub bootargs: &'a str,
    /// `/chosen` `rng-seed`, or `kaslr-seed` (empty if neither).
    pub rng_seed: &'a [u8],
    /// `/chosen` `linux,initrd-start`/`-end` as physical `(start,
    /// len_bytes)`: `Ok(None)` without an initrd, an error when the
    /// properties are malformed (the loader then boots without one).
    pub initrd: Result<Option<(u64, u64)>, hypha_boot_info::initrd::InitrdError>,
    /// Hart ids of every enabled hart, boot hart first.
    pub harts: [u64; MAX_HARTS],
    /// How many of `harts` are valid.
    pub hart_count: usize,
    /// Harts in the tree beyond `MAX_HARTS` (not started).
    pub harts_ignored: usize,
}

impl<'a> Machine<'a> {
    /// Reads the device tree at physical address `fdt_address`.
    ///
    /// # Safety
    ///
    /// `fdt_address` is where the firmware put the device tree, the tree
    /// stays there, unmodified, for `'a`.
    ///
    /// # Errors
    ///
    /// A [`DeviceTreeError`] when something essential is missing.
    pub unsafe fn read(fdt_address: usize, boot_hart: u64) -> Result<Self, DeviceTreeError> {
        // SAFETY: the caller guarantees a device tree lives at this address
        // for 'a; `from_ptr` checks the header before reading further.
        let fdt = unsafe { Fdt::from_ptr(fdt_address as *const u8) }.map_err(DeviceTreeError::Parse)?;
        if fdt.memory().regions().all(|region| region.size.unwrap_or(0) == 0) {
            return Err(DeviceTreeError::NoMemory);
        }
        let first_reg = |compatible: &[&str]| {
            fdt.find_compatible(compatible)
                .and_then(|node| node.reg())
                .and_then(|mut reg| reg.next())
                .map(|region| region.starting_address as usize)
        };
        let uart = first_reg(&["ns16550a", "ns16550"]);
        let test_device = first_reg(&["sifive,test0", "sifive,test1"]);
        let timebase_hz = fdt
            .find_node("/cpus")
            .and_then(|cpus| cpus.property("timebase-frequency"))
            .and_then(|property| property.as_usize())
            .ok_or(DeviceTreeError::NoTimebase)? as u64;
        let chosen = fdt.find_node("/chosen");
        let bootargs = fdt.chosen().bootargs().unwrap_or("");
        let rng_seed = chosen
            .and_then(|node| node.property("rng-seed").or_else(|| node.property("kaslr-seed")))
            .map_or(&[][..], |property| property.value);
        let chosen_value = |name: &str| chosen.and_then(|node| node.property(name)).map(|property| property.value);
        let initrd = hypha_boot_info::initrd::range(chosen_value("linux,initrd-start"), chosen_value("linux,initrd-end"));

        let mut harts = [0u64; MAX_HARTS];
        let mut hart_count = 0;
        let mut harts_ignored = 0;
        let mut saw_boot_hart = false;
        harts[0] = boot_hart;
        hart_count += 1;
        for cpu in fdt.cpus() {
            let enabled = cpu
                .property("status")
                .and_then(|status| status.as_str())
                .is_none_or(|status| status == "okay" || status == "ok");
            // `reg` read directly (`Cpu::ids` panics when it is missing).
            let Some(id) = cpu.property("reg").and_then(|reg| reg.as_usize()) else { continue };
            let id = id as u64;
            if !enabled {
                continue;
            }
            if id == boot_hart {
                saw_boot_hart = true;
            } else if hart_count < MAX_HARTS {
                harts[hart_count] = id;
                hart_count += 1;
            } else {
                harts_ignored += 1;
            }
        }
        if !saw_boot_hart {
            return Err(DeviceTreeError::NoHarts);
        }
        Ok(Self { fdt, uart, test_device, timebase_hz, bootargs, rng_seed, initrd, harts, hart_count, harts_ignored })
    }
}
