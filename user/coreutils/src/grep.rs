//! Line matching for `grep`: plain substrings, optionally case-insensitive
//! and inverted.

/// How to match.
#[derive(Debug, Clone)]
pub struct Matcher {
    pattern: String,
    ignore_case: bool,
    invert: bool,
}

impl Matcher {
    /// A matcher for `pattern` (a plain substring, not a regex).
    #[must_use]
    pub fn new(pattern: &str, ignore_case: bool, invert: bool) -> Self {
        let pattern = if ignore_case { pattern.to_lowercase() } else { pattern.to_owned() };
        Self { pattern, ignore_case, invert }
    }

    /// Whether `line` is selected (contains the pattern, or not with `-v`).
    #[must_use]
    pub fn selects(&self, line: &str) -> bool {
        let found = if self.ignore_case {
            line.to_lowercase().contains(&self.pattern)
        } else {
            line.contains(&self.pattern)
        };
        found != self.invert
    }
}

/// Output options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// `-n`: prefix line numbers.
    pub line_numbers: bool,
    /// `-c`: only print the count of selected lines.
    pub count: bool,
    /// Prefix each line with the file name (several files).
    pub with_name: bool,
}

/// Greps `text` (one file's contents); returns the output and the number
/// of selected lines.
#[must_use]
pub fn grep_text(m: &Matcher, text: &str, name: &str, out: Output) -> (String, usize) {
    let mut s = String::new();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        if !m.selects(line) {
            continue;
        }
        n += 1;
        if out.count {
            continue;
        }
        if out.with_name {
            s.push_str(name);
            s.push(':');
        }
        if out.line_numbers {
            s.push_str(&(i + 1).to_string());
            s.push(':');
        }
        s.push_str(line);
        s.push('\n');
    }
    if out.count {
        if out.with_name {
            s.push_str(name);
            s.push(':');
        }
        s.push_str(&n.to_string());
        s.push('\n');
    }
    (s, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Alpha\nbeta\nALPHABET\ngamma\n";

    #[test]
    fn plain_substring() {
        let m = Matcher::new("alpha", false, false);
        assert_eq!(grep_text(&m, TEXT, "f", Output::default()), (String::new(), 0));
        let m = Matcher::new("eta", false, false);
        assert_eq!(grep_text(&m, TEXT, "f", Output::default()), ("beta\n".into(), 1));
        // Regex metacharacters are literal.
        let m = Matcher::new("a.b", false, false);
        assert!(m.selects("xa.by"));
        assert!(!m.selects("axb"));
    }

    #[test]
    fn ignore_case_and_invert() {
        let m = Matcher::new("alpha", true, false);
        assert_eq!(grep_text(&m, TEXT, "f", Output::default()).0, "Alpha\nALPHABET\n");
        let m = Matcher::new("alpha", true, true);
        assert_eq!(grep_text(&m, TEXT, "f", Output::default()).0, "beta\ngamma\n");
        let m = Matcher::new("É", true, false);
        assert!(m.selects("café"));
    }

    #[test]
    fn numbers_names_counts() {
        let m = Matcher::new("a", false, false);
        let o = Output { line_numbers: true, with_name: true, count: false };
        assert_eq!(grep_text(&m, TEXT, "f", o).0, "f:1:Alpha\nf:2:beta\nf:4:gamma\n");
        let o = Output { count: true, ..Output::default() };
        assert_eq!(grep_text(&m, TEXT, "f", o), ("3\n".into(), 3));
        let o = Output { count: true, with_name: true, ..Output::default() };
        assert_eq!(grep_text(&m, "", "f", o), ("f:0\n".into(), 0));
    }

    #[test]
    fn empty_pattern_selects_everything() {
        let m = Matcher::new("", false, false);
        assert_eq!(grep_text(&m, TEXT, "f", Output::default()).1, 4);
    }
}
