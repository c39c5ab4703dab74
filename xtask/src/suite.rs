//! Test-suite results and the parsers that read them from runner output.

use anyhow::{Context as _, Result};
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

/// The outcome of one suite (`host`, `kernel`, `spec`, …).
#[derive(Debug, Default, Clone)]
pub(crate) struct SuiteResult {
    pub name: String,
    pub passed: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Why the suite as a whole failed even if no test did (a runner that
    /// crashed, a kernel panic outside a test, a hang).
    pub error: Option<String>,
}

impl SuiteResult {
    pub(crate) fn new(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    pub(crate) fn ok(&self) -> bool {
        self.failed == 0 && self.error.is_none()
    }

    /// `NAME: N passed, N failed[, N skipped]`.
    pub(crate) fn summary_line(&self) -> String {
        format!("{}: {}", self.name, counts_line(self.passed, self.failed, self.skipped))
    }
}

/// `N passed, N failed` with `, N skipped` when any were skipped.
pub(crate) fn counts_line(passed: u64, failed: u64, skipped: u64) -> String {
    if skipped == 0 {
        format!("{passed} passed, {failed} failed")
    } else {
        format!("{passed} passed, {failed} failed, {skipped} skipped")
    }
}

/// Adds the counts of a libtest summary line
/// (`test result: ok. 3 passed; 0 failed; 1 ignored; …`) to `result`.
/// Returns whether the line was one.
pub(crate) fn add_libtest_summary(line: &str, result: &mut SuiteResult) -> bool {
    let Some(rest) = line.trim().strip_prefix("test result: ") else { return false };
    for part in rest.split(';') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (Some(number), Some(label)) = (words.iter().rev().nth(1), words.last()) else { continue };
        let Ok(count) = number.parse::<u64>() else { continue };
        match *label {
            "passed" => result.passed += count,
            "failed" => result.failed += count,
            "ignored" => result.skipped += count,
            _ => {}
        }
    }
    true
}

/// Parses a runner's own closing line `NAME: P passed, F failed[, S skipped]`.
pub(crate) fn parse_counts_line(line: &str) -> Option<(String, u64, u64, u64)> {
    let (name, counts) = line.trim().split_once(": ")?;
    let mut passed = None;
    let mut failed = None;
    let mut skipped = 0;
    for part in counts.split(", ") {
        let (number, label) = part.split_once(' ')?;
        let count = number.parse().ok()?;
        match label {
            "passed" => passed = Some(count),
            "failed" => failed = Some(count),
            "skipped" => skipped = count,
            _ => return None,
        }
    }
    Some((name.to_owned(), passed?, failed?, skipped))
}

/// Runs `command`, echoing its output, and hands each stdout line to `on_line`.
/// Stderr is passed through unchanged. Returns whether the command succeeded.
pub(crate) fn run_streaming(command: &mut Command, mut on_line: impl FnMut(&str)) -> Result<bool> {
    let description = format!("{command:?}");
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {description}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading child output")?;
        println!("{line}");
        on_line(&line);
    }
    let status = child.wait().with_context(|| format!("waiting for {description}"))?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_summary_is_summed() {
        let mut result = SuiteResult::new("host");
        assert!(add_libtest_summary(
            "test result: ok. 12 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            &mut result
        ));
        assert!(add_libtest_summary("test result: FAILED. 3 passed; 4 failed; 0 ignored", &mut result));
        assert!(!add_libtest_summary("running 3 tests", &mut result));
        assert_eq!((result.passed, result.failed, result.skipped), (15, 5, 2));
    }

    #[test]
    fn counts_line_round_trips() {
        assert_eq!(parse_counts_line("spec: 10 passed, 2 failed"), Some(("spec".into(), 10, 2, 0)));
        assert_eq!(parse_counts_line("spec: 10 passed, 2 failed, 3 skipped"), Some(("spec".into(), 10, 2, 3)));
        assert_eq!(parse_counts_line("boot: console ready"), None);
        assert_eq!(counts_line(1, 0, 0), "1 passed, 0 failed");
        assert_eq!(counts_line(1, 0, 4), "1 passed, 0 failed, 4 skipped");
    }
}
