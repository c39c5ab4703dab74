//! The kernel's virtual address layout, as the loader sets it up.
//!
//! ```text
//! Sv39                          Sv48                          what
//! 0xffff_ffc0_0000_0000         0xffff_8000_0000_0000         all of RAM, at phys + offset (RW, global)
//!   …                           …                             free for the kernel (heap, VMOs, …)
//! 0xffff_ffff_0000_0000 ─┐      same                          KASLR window: the kernel image is
//! 0xffff_ffff_c000_0000 ─┘                                    placed somewhere in here
//! 0xffff_ffff_c000_0000         same                          per-hart stack slots (guard-paged)
//! ```
//!
//! The kernel ELF is linked at [`KERNEL_LINK_BASE`] as a static PIE; the
//! loader applies its `R_RISCV_RELATIVE` relocations for the chosen base.

/// Size of a base page.
pub const PAGE_SIZE: u64 = 4096;
/// The address the kernel ELF is linked at.
pub const KERNEL_LINK_BASE: u64 = 0xffff_ffff_8000_0000;
/// Lowest address the kernel image may be placed at.
pub const KASLR_WINDOW_START: u64 = 0xffff_ffff_0000_0000;
/// The kernel image must end at or below this address.
pub const KASLR_WINDOW_END: u64 = 0xffff_ffff_c000_0000;
/// The kernel base is a multiple of this.
pub const KASLR_ALIGN: u64 = PAGE_SIZE;

/// Start of the per-hart stack slots.
pub const STACKS_BASE: u64 = 0xffff_ffff_c000_0000;
/// Bytes of virtual address space per hart (mostly unmapped).
pub const STACK_SLOT_LEN: u64 = 256 * 1024;
/// Size of each unmapped guard page region below a stack.
pub const GUARD_LEN: u64 = PAGE_SIZE;
/// Size of each hart's kernel stack.
pub const KERNEL_STACK_LEN: u64 = 128 * 1024;
/// Size of each hart's trap stack.
pub const TRAP_STACK_LEN: u64 = 32 * 1024;
/// Size of each hart's per-CPU block.
pub const PER_CPU_LEN: u64 = PAGE_SIZE;

/// Bounds of hart `index`'s kernel stack: `(lowest address, top)`. The
/// guard page is the [`GUARD_LEN`] bytes below the lowest address.
#[must_use]
pub const fn kernel_stack(index: u64) -> (u64, u64) {
    let bottom = STACKS_BASE + index * STACK_SLOT_LEN + GUARD_LEN;
    (bottom, bottom + KERNEL_STACK_LEN)
}

/// Bounds of hart `index`'s trap stack: `(lowest address, top)`, above the
/// kernel stack with its own guard page.
#[must_use]
pub const fn trap_stack(index: u64) -> (u64, u64) {
    let (_, kernel_top) = kernel_stack(index);
    let bottom = kernel_top + GUARD_LEN;
    (bottom, bottom + TRAP_STACK_LEN)
}

/// The offset at which all of physical memory is mapped, for a paging mode
/// with `virtual_address_bits` bits: the start of the higher half.
#[must_use]
pub const fn physical_memory_offset(virtual_address_bits: u32) -> u64 {
    // The higher half starts where bit (bits - 1) and everything above is set.
    !((1u64 << (virtual_address_bits - 1)) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_half_starts() {
        assert_eq!(physical_memory_offset(39), 0xffff_ffc0_0000_0000);
        assert_eq!(physical_memory_offset(48), 0xffff_8000_0000_0000);
    }

    #[test]
    fn stacks_fit_their_slot_and_do_not_overlap() {
        let (stack_bottom, stack_top) = kernel_stack(1);
        let (trap_bottom, trap_top) = trap_stack(1);
        assert_eq!(stack_bottom, STACKS_BASE + STACK_SLOT_LEN + GUARD_LEN);
        assert!(trap_bottom >= stack_top + GUARD_LEN);
        assert!(trap_top <= STACKS_BASE + 2 * STACK_SLOT_LEN);
        let (next_bottom, _) = kernel_stack(2);
        assert!(next_bottom - GUARD_LEN >= trap_top);
        assert!(kernel_stack(crate::MAX_HARTS as u64).0 < u64::MAX - STACK_SLOT_LEN);
    }

    #[test]
    fn link_base_is_inside_the_window() {
        const { assert!(KASLR_WINDOW_START <= KERNEL_LINK_BASE && KERNEL_LINK_BASE < KASLR_WINDOW_END) };
        assert_eq!(KASLR_WINDOW_END, STACKS_BASE);
    }
}
