//! The `log` facade's backend: one line per record on the console, with
//! uptime and hart id. The level comes from `log=LEVEL` in the bootargs and
//! the `log LEVEL` console command.

use log::{LevelFilter, Log, Metadata, Record};

struct ConsoleLogger;

static LOGGER: ConsoleLogger = ConsoleLogger;

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let us = crate::time::uptime_us();
        let hart = crate::percpu::current().hart_id;
        crate::println!(
            "[{:>4}.{:06} h{} {:<5}] {}",
            us / 1_000_000,
            us % 1_000_000,
            hart,
            record.level(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Parses a level name (`off`, `error`, `warn`, `info`, `debug`, `trace`).
#[must_use]
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    name.parse().ok()
}

/// Installs the logger with `level`.
pub fn init(level: LevelFilter) {
    // Only fails if a logger is already set, which cannot happen: init runs once.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// Changes the level.
pub fn set_level(level: LevelFilter) {
    log::set_max_level(level);
}
