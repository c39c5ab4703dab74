//! Number, size, duration and date formatting.

/// Bytes as KiB, rounded up (for `free`).
#[must_use]
pub fn kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// An uptime as `H:MM:SS`, with a `N days, ` prefix past 24 hours.
#[must_use]
pub fn uptime(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let hms = format!("{}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// CPU time as seconds with millisecond precision (`1.234s`).
#[must_use]
pub fn cpu_time(ns: u64) -> String {
    let ms = ns / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

/// A Unix time (seconds since 1970-01-01 UTC) as `YYYY-MM-DD HH:MM`.
#[must_use]
pub fn date_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift to an era-based calendar starting 0000-03-01, where leap days
    // fall at the end of each 400/100/4-year cycle.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kib_rounds_up() {
        assert_eq!(kib(0), 0);
        assert_eq!(kib(1), 1);
        assert_eq!(kib(1024), 1);
        assert_eq!(kib(1025), 2);
    }

    #[test]
    fn uptimes() {
        assert_eq!(uptime(0), "0:00:00");
        assert_eq!(uptime(3_723_000_000_000), "1:02:03");
        assert_eq!(uptime(86_400_000_000_000 + 61_000_000_000), "1 day, 0:01:01");
        assert_eq!(uptime(3 * 86_400_000_000_000), "3 days, 0:00:00");
    }

    #[test]
    fn cpu_times() {
        assert_eq!(cpu_time(0), "0.000s");
        assert_eq!(cpu_time(1_234_567_890), "1.234s");
    }

    #[test]
    fn dates() {
        assert_eq!(date_time(0), "1970-01-01 00:00");
        assert_eq!(date_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(date_time(1_709_210_096), "2024-02-29 12:34");
        assert_eq!(date_time(1_735_689_599), "2024-12-31 23:59");
        assert_eq!(date_time(4_107_542_400), "2100-03-01 00:00");
    }
}
