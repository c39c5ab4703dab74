//! Reading libtest-style in-kernel test output.

/// What one console line says about tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TestLine {
    /// `running N tests`.
    Running(u64),
    /// `test NAME ... ok`.
    Passed(String),
    /// `test NAME ... FAILED`.
    Failed(String),
    /// `test NAME ... ignored[, reason]`.
    Ignored(String),
    /// `test result: …` (the runner finished).
    Finished,
}

/// Classifies a console line.
pub(crate) fn parse(line: &str) -> Option<TestLine> {
    let line = line.trim();
    if let Some(count) = line.strip_prefix("running ").and_then(|rest| rest.strip_suffix(" tests")) {
        return count.parse().ok().map(TestLine::Running);
    }
    if line.starts_with("test result: ") {
        return Some(TestLine::Finished);
    }
    let rest = line.strip_prefix("test ")?;
    let (name, outcome) = rest.split_once(" ... ")?;
    if name.contains(char::is_whitespace) {
        return None;
    }
    let name = name.to_owned();
    match outcome {
        "ok" => Some(TestLine::Passed(name)),
        "FAILED" => Some(TestLine::Failed(name)),
        other if other.starts_with("ignored") => Some(TestLine::Ignored(name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_lines_are_recognised() {
        assert_eq!(parse("running 31 tests"), Some(TestLine::Running(31)));
        assert_eq!(parse("test traps::write_to_read_only_page_is_caught ... ok"), Some(TestLine::Passed("traps::write_to_read_only_page_is_caught".into())));
        assert_eq!(parse("test a::b ... FAILED"), Some(TestLine::Failed("a::b".into())));
        assert_eq!(parse("test a::b ... ignored, needs virtio"), Some(TestLine::Ignored("a::b".into())));
        assert_eq!(parse("test result: ok. 3 passed; 0 failed"), Some(TestLine::Finished));
        assert_eq!(parse("[   0.1 h0 INFO ] test this ... ok"), None);
        assert_eq!(parse("boot: console ready after 120 us"), None);
    }
}
