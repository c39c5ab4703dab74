//! The kernel entry point, jumped to by the loader on every hart.

use core::arch::global_asm;

// a0 = hart id, a1 = BootInfo (virtual), sp = this hart's kernel stack,
// tp = its per-CPU block, paging on. The entry time goes in a2.
global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    rdtime a2
    mv fp, zero
    mv ra, zero
    call {entry}
1:  wfi
    j 1b
"#,
    entry = sym crate::kernel_entry,
);
