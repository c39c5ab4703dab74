//! Runs the selected tests on the boot hart and prints libtest lines.
//!
//! Bootargs: `ktest` (run), `ktest.filter=SUBSTRING` (only matching
//! names), `ktest.skip=N` (start after the first N selected tests: xtask
//! reboots with it after a test panicked, so one failure does not hide the
//! rest), `ktest.self_test` (run only the harness self-tests, which must
//! fail).

use super::{Test, all};
use core::sync::atomic::{AtomicPtr, Ordering};
use hypha_boot_info::bootargs;

static CURRENT: AtomicPtr<Test> = AtomicPtr::new(core::ptr::null_mut());

/// The test running now, if any (for the panic handler).
#[must_use]
pub fn current() -> Option<&'static Test> {
    let pointer = CURRENT.load(Ordering::Acquire);
    // SAFETY: only pointers into the static `.ktest` array are stored.
    (!pointer.is_null()).then(|| unsafe { &*pointer })
}

/// Runs the tests and ends the QEMU run: status 0 when all selected tests
/// ran (a failing test panics and ends it with the test-failure status).
pub fn run(args: &str) -> ! {
    let filter = bootargs::value(args, "ktest.filter").filter(|filter| !filter.is_empty());
    let skip = match bootargs::number(args, "ktest.skip") {
        Some(Ok(skip)) => usize::try_from(skip).unwrap_or(usize::MAX),
        Some(Err(())) => {
            crate::println!("ktest: ktest.skip is not a number");
            crate::drivers::sifive_test::exit(crate::panic::EXIT_PANIC)
        }
        None => 0,
    };
    let self_test = bootargs::has(args, "ktest.self_test");
    let selected = move || {
        all()
            .iter()
            .filter(move |test| test.harness_self_test == self_test && filter.is_none_or(|pattern| test.matches(pattern)))
    };
    let total = selected().count();
    let filtered_out = all().len() - total;
    crate::println!();
    crate::println!("running {total} tests");
    if skip > 0 {
        crate::println!("ktest: resuming after the first {skip} tests");
    }
    let started = crate::time::now_ticks();
    let (mut passed, mut ignored) = (0usize, 0usize);
    let per_cpu = crate::percpu::current();
    for test in selected().skip(skip) {
        if let Some(reason) = test.ignore {
            crate::println!("test {} ... ignored, {reason}", test.display_name());
            ignored += 1;
            continue;
        }
        CURRENT.store(core::ptr::from_ref(test).cast_mut(), Ordering::Release);
        let deadline = crate::time::now_ticks() + crate::time::ms_to_ticks(test.timeout_ms);
        per_cpu.test_deadline.store(deadline, Ordering::Release);
        (test.run)();
        per_cpu.test_deadline.store(0, Ordering::Release);
        CURRENT.store(core::ptr::null_mut(), Ordering::Release);
        crate::println!("test {} ... ok", test.display_name());
        passed += 1;
    }
    let elapsed_ms = crate::time::ticks_to_us(crate::time::now_ticks() - started) / 1000;
    crate::println!();
    crate::println!(
        "test result: ok. {passed} passed; 0 failed; {ignored} ignored; 0 measured; {filtered_out} filtered out; finished in {}.{:03}s",
        elapsed_ms / 1000,
        elapsed_ms % 1000
    );
    crate::drivers::sifive_test::exit(0)
}
