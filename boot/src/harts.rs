//! Per-hart set-up (kernel stack, trap stack, per-CPU block, launch
//! block), starting the other harts through SBI HSM, and entering the
//! kernel.

use crate::arch::{self, HartLaunch};
use crate::device_tree::Machine;
use crate::paging::{self, TableFrames};
use crate::{LoadError, println};
use hypha_boot_info::{BootInfo, HartInfo, MAX_HARTS, MemoryKind, layout};
use hypha_kmem::{PageFlags, PageTable};

/// Gives every hart of `machine` its stacks (mapped at their
/// [`layout`] slots, with unmapped guard pages between) and a zeroed
/// per-CPU block (reached through the physical map), records them in
/// `harts`, and writes one launch block per hart (from `template`) into a
/// fresh page of loader memory, which is returned.
///
/// # Errors
///
/// Out of memory or page-table frames.
pub fn prepare(
    machine: &Machine<'_>,
    table: &mut PageTable,
    frames: &mut TableFrames<'_>,
    physical_memory_offset: u64,
    template: HartLaunch,
    harts: &mut [HartInfo; MAX_HARTS],
) -> Result<*mut HartLaunch, LoadError> {
    const { assert!(MAX_HARTS * size_of::<HartLaunch>() <= 4096) };
    let launches = frames.map.allocate(4096, 4096, MemoryKind::LOADER)? as *mut HartLaunch;
    let stack_flags = PageFlags::READ_WRITE | PageFlags::GLOBAL;
    let count = machine.hart_count.min(MAX_HARTS);
    for (index, (hart, &hart_id)) in harts.iter_mut().zip(&machine.harts).take(count).enumerate() {
        let slot = index as u64;
        let (stack_bottom, stack_top) = layout::kernel_stack(slot);
        let (trap_bottom, trap_top) = layout::trap_stack(slot);
        let stack_physical = frames.map.allocate(layout::KERNEL_STACK_LEN, 4096, MemoryKind::STACKS)?;
        let trap_physical = frames.map.allocate(layout::TRAP_STACK_LEN, 4096, MemoryKind::STACKS)?;
        let per_cpu_physical = frames.map.allocate(layout::PER_CPU_LEN, 4096, MemoryKind::PER_CPU)?;
        // SAFETY: freshly allocated, unused RAM, reachable with paging off.
        unsafe { core::ptr::write_bytes(per_cpu_physical as *mut u8, 0, 4096) };
        paging::map(table, frames, stack_bottom, stack_physical, layout::KERNEL_STACK_LEN, stack_flags)?;
        paging::map(table, frames, trap_bottom, trap_physical, layout::TRAP_STACK_LEN, stack_flags)?;
        let per_cpu = per_cpu_physical + physical_memory_offset;
        *hart = HartInfo {
            hart_id,
            stack_top,
            stack_len_bytes: layout::KERNEL_STACK_LEN,
            trap_stack_top: trap_top,
            trap_stack_len_bytes: layout::TRAP_STACK_LEN,
            per_cpu,
            per_cpu_len_bytes: layout::PER_CPU_LEN,
            started: 0,
            reserved: 0,
        };
        // SAFETY: `launches` is a fresh page of loader memory holding
        // MAX_HARTS launch blocks (checked at compile time above), and
        // `index < MAX_HARTS`, so this stays inside it.
        let slot = unsafe { launches.add(index) };
        // SAFETY: as above; the page is ours, writable and page-aligned.
        unsafe { slot.write(HartLaunch { stack_top, per_cpu, ..template }) };
    }
    Ok(launches)
}

/// Starts every hart but the boot hart at the loader's trampoline with its
/// launch block, and records in the BootInfo whether SBI accepted.
pub fn start_secondaries(machine: &Machine<'_>, launches: *mut HartLaunch, boot_info: *mut BootInfo) {
    for index in 1..machine.hart_count.min(MAX_HARTS) {
        // SAFETY: `prepare` wrote launch block `index` inside its page.
        let launch = unsafe { launches.add(index) } as u64;
        let result = arch::sbi::hart_start(machine.harts[index], arch::secondary_entry_address(), launch);
        // SAFETY: `boot_info` points at the written BootInfo; `index` is
        // below MAX_HARTS. Only this field is written (harts already started
        // may be reading other fields; none reads this one).
        let started = unsafe { &raw mut (*boot_info).harts[index].started };
        let value = match result {
            Ok(()) => 1,
            Err(error) => {
                println!("hypha-boot: hart {} did not start: {error:?}", machine.harts[index]);
                0
            }
        };
        // SAFETY: as above: a valid, aligned u32 field nobody else writes.
        unsafe { started.write_volatile(value) };
    }
}

/// Enters the kernel on the boot hart with launch block 0.
///
/// # Safety
///
/// `launches` comes from [`prepare`] and the page table it names is
/// complete (see `arch::enter_kernel`).
pub unsafe fn enter_kernel(hart_id: u64, launches: *mut HartLaunch) -> ! {
    // SAFETY: `prepare` wrote block 0 (the boot hart's).
    let launch = unsafe { &*launches };
    // SAFETY: forwarded from the caller.
    unsafe { arch::enter_kernel(hart_id, launch) }
}
