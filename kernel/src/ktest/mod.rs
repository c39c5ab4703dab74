//! In-kernel tests: registration, names, and the runner.
//!
//! A test is a plain `fn()` registered with [`ktest!`](crate::ktest!) into
//! the `.ktest` linker section; it fails by panicking. Tests are compiled
//! only with the `ktest` cargo feature and run only when the kernel boots
//! with `ktest` in its bootargs (`cargo xtask test` does both):
//!
//! ```ignore
//! #[cfg(feature = "ktest")]
//! mod tests {
//!     crate::ktest! {
//!         fn ticks_advance() {
//!             assert!(crate::time::now_ticks() > 0);
//!         }
//!     }
//!     crate::ktest! {
//!         #[ignore = "needs virtio"]
//!         fn disk_reads() {}
//!     }
//! }
//! ```
//!
//! A test named `ticks_advance` in module `crate::timer::tests` is called
//! `timer::ticks_advance`. Output follows libtest: `running N tests`,
//! `test NAME ... ok|FAILED|ignored`, then `test result: …`.

mod runner;

pub use runner::{current, run};

/// Default per-test timeout, enforced by the timer interrupt.
#[cfg_attr(not(feature = "ktest"), expect(dead_code, reason = "used by `ktest!`, which only expands to tests with the feature"))]
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// One registered test.
#[repr(C)]
#[derive(Debug)]
pub struct Test {
    /// `module_path!()` where it was registered.
    pub module: &'static str,
    /// The function's name.
    pub name: &'static str,
    /// The test body; fails by panicking.
    pub run: fn(),
    /// `Some(reason)` for a test that is skipped.
    pub ignore: Option<&'static str>,
    /// Timeout in milliseconds.
    pub timeout_ms: u64,
    /// A self-test of the test harness that must FAIL: run only with
    /// `ktest.self_test` in the bootargs (and then only these run), so
    /// `cargo xtask test` can check that failures, faults and hangs are
    /// reported as failures.
    pub harness_self_test: bool,
}

/// `Display`s a test's `module::name`.
#[derive(Debug, Clone, Copy)]
pub struct TestName<'a>(&'a Test);

impl Test {
    /// The module path without the crate name, a leading `tests::` (the
    /// kernel-wide test modules) and a trailing `::tests`.
    #[must_use]
    pub fn short_module(&self) -> &'static str {
        let module = self.module.strip_prefix("hypha_kernel").unwrap_or(self.module);
        let module = module.strip_prefix("::").unwrap_or(module);
        let module = module.strip_prefix("tests").unwrap_or(module);
        let module = module.strip_prefix("::").unwrap_or(module);
        let module = module.strip_suffix("tests").unwrap_or(module);
        module.strip_suffix("::").unwrap_or(module)
    }

    /// A displayable `module::name`.
    #[must_use]
    pub const fn display_name(&self) -> TestName<'_> {
        TestName(self)
    }

    /// Whether `module::name` contains `pattern`.
    #[must_use]
    pub fn matches(&self, pattern: &str) -> bool {
        let mut buffer = [0u8; 192];
        let mut writer = BufferWriter { buffer: &mut buffer, len: 0 };
        let _ = core::fmt::Write::write_fmt(&mut writer, format_args!("{}", self.display_name()));
        let len = writer.len;
        core::str::from_utf8(&buffer[..len]).is_ok_and(|name| name.contains(pattern))
    }
}

impl core::fmt::Display for TestName<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let module = self.0.short_module();
        if module.is_empty() { f.write_str(self.0.name) } else { write!(f, "{module}::{}", self.0.name) }
    }
}

struct BufferWriter<'a> {
    buffer: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for BufferWriter<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let end = self.len.checked_add(text.len()).filter(|&end| end <= self.buffer.len()).ok_or(core::fmt::Error)?;
        self.buffer[self.len..end].copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Every registered test, in link order.
#[must_use]
pub fn all() -> &'static [Test] {
    unsafe extern "C" {
        static __ktest_start: u8;
        static __ktest_end: u8;
    }
    let start = (&raw const __ktest_start).cast::<Test>();
    let end = (&raw const __ktest_end).cast::<Test>();
    let count = (end as usize - start as usize) / size_of::<Test>();
    // SAFETY: the linker script puts only `Test` statics (each 8-aligned,
    // size a multiple of 8, so packed without gaps) between the two
    // symbols; the loader relocated their pointers; they are never written.
    unsafe { core::slice::from_raw_parts(start, count) }
}

/// Registers a test (see the module docs).
#[macro_export]
macro_rules! ktest {
    (#[ignore = $reason:literal] fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, Some($reason), $crate::ktest::DEFAULT_TIMEOUT_MS, false, $body);
    };
    (#[timeout_ms = $timeout:literal] fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $timeout, false, $body);
    };
    (#[harness_self_test] #[timeout_ms = $timeout:literal] fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $timeout, true, $body);
    };
    (#[harness_self_test] fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $crate::ktest::DEFAULT_TIMEOUT_MS, true, $body);
    };
    (fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $crate::ktest::DEFAULT_TIMEOUT_MS, false, $body);
    };
    // An async body runs as the root future of `sched::block_on` on the
    // boot hart's worker (so it can spawn tasks, sleep and join).
    (#[timeout_ms = $timeout:literal] async fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $timeout, false, { $crate::sched::block_on(async move $body) });
    };
    (async fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, None, $crate::ktest::DEFAULT_TIMEOUT_MS, false, { $crate::sched::block_on(async move $body) });
    };
    (#[ignore = $reason:literal] #[timeout_ms = $timeout:literal] async fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, Some($reason), $timeout, false, { $crate::sched::block_on(async move $body) });
    };
    (@register $name:ident, $ignore:expr, $timeout:expr, $self_test:expr, $body:block) => {
        fn $name() $body
        const _: () = {
            #[unsafe(link_section = ".ktest")]
            #[used]
            static TEST: $crate::ktest::Test = $crate::ktest::Test {
                module: module_path!(),
                name: stringify!($name),
                run: $name,
                ignore: $ignore,
                timeout_ms: $timeout,
                harness_self_test: $self_test,
            };
        };
    };
}
