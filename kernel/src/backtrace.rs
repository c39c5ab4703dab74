//! Frame-pointer backtraces (the kernel is built with
//! `-C force-frame-pointers=yes`).
//!
//! Each frame record sits just below the address in `s0`: the return
//! address at `s0 - 8`, the caller's `s0` at `s0 - 16`. The walk stays
//! within this hart's kernel and trap stacks.
//!
//! Addresses are printed as link-time addresses (runtime minus the KASLR
//! slide), one per line as `backtrace: #N 0x…`, the format `cargo xtask`
//! symbolises with the kernel ELF.

use crate::percpu::PerCpu;

/// Most frames printed.
const MAX_FRAMES: usize = 48;

fn on_a_stack(per_cpu: &PerCpu, address: usize) -> bool {
    stack_of(per_cpu, address) < 2
}

/// Which of this hart's stacks `address` is on (0 kernel, 1 trap, 2 neither).
fn stack_of(per_cpu: &PerCpu, address: usize) -> usize {
    [per_cpu.stack, per_cpu.trap_stack]
        .iter()
        .position(|&(bottom, top)| address > bottom && address <= top)
        .unwrap_or(2)
}

/// Calls `visit(return address, frame pointer)` (runtime addresses) for
/// each frame from frame pointer `fp` up.
pub fn walk(mut fp: usize, mut visit: impl FnMut(usize, usize)) {
    let per_cpu = crate::percpu::current();
    for _ in 0..MAX_FRAMES {
        if !fp.is_multiple_of(8) || !on_a_stack(per_cpu, fp) || !on_a_stack(per_cpu, fp - 16) {
            break;
        }
        let record = core::ptr::with_exposed_provenance::<usize>(fp - 16);
        // SAFETY: `fp - 16 .. fp` lies inside this hart's (mapped) kernel or
        // trap stack, checked just above, and is 8-byte aligned.
        let previous = unsafe { record.read() };
        // SAFETY: as above, for the word at `fp - 8` (inside the same checked range).
        let return_address = unsafe { record.add(1) };
        // SAFETY: as above.
        let return_address = unsafe { return_address.read() };
        if return_address == 0 {
            break;
        }
        visit(return_address, fp);
        if previous <= fp && stack_of(per_cpu, previous) == stack_of(per_cpu, fp) {
            break; // on one stack, frames only go up; a trap record may switch stacks
        }
        fp = previous;
    }
}

/// Prints the backtrace from the caller's frame, lock-free (panic path).
#[inline(never)]
pub fn print_current() {
    let slide = crate::boot::kaslr_slide();
    let mut index = 0;
    walk(crate::arch::frame_pointer(), |address, _| {
        crate::console::print_emergency(format_args!("backtrace: #{index} {:#018x}\n", address.wrapping_sub(slide)));
        index += 1;
    });
}
