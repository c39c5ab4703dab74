//! Self-tests of the test harness: each of these MUST fail. They run only
//! with `ktest.self_test` in the bootargs; `cargo xtask test` boots them
//! separately and passes only if all three are reported as failures with
//! their messages and symbolised backtraces.

use crate::ktest;

ktest! {
    #[harness_self_test]
    fn failing_assertion_is_reported() {
        let sum = core::hint::black_box(1) + 1;
        assert_eq!(sum, 3, "deliberate failure: the harness must report this");
    }
}

ktest! {
    #[harness_self_test]
    #[timeout_ms = 300]
    fn hang_is_ended_by_the_timeout() {
        loop {
            crate::arch::wait_for_interrupt();
        }
    }
}

ktest! {
    #[harness_self_test]
    fn unexpected_fault_is_reported() {
        static READ_ONLY: u64 = 7;
        let target = (&raw const READ_ONLY).cast_mut();
        // SAFETY: not sound as a write (the page is read-only): this test
        // exists to fault outside any recovery point.
        unsafe { core::ptr::write_volatile(target, 8) };
    }
}
