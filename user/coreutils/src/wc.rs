//! Line, word and byte counting for `wc`, fed in chunks.

/// Counts of one input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Newline characters.
    pub lines: u64,
    /// Maximal runs of non-whitespace bytes.
    pub words: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A streaming counter (a word may span chunk boundaries).
#[derive(Debug, Clone, Default)]
pub struct Counter {
    counts: Counts,
    in_word: bool,
}

impl Counter {
    /// Counts one chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            if b == b'\n' {
                self.counts.lines += 1;
            }
            if b.is_ascii_whitespace() {
                self.in_word = false;
            } else if !self.in_word {
                self.in_word = true;
                self.counts.words += 1;
            }
        }
        self.counts.bytes += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
    }

    /// The totals so far.
    #[must_use]
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

impl core::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.lines += o.lines;
        self.words += o.words;
        self.bytes += o.bytes;
    }
}

/// Which columns to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// `-l`
    pub lines: bool,
    /// `-w`
    pub words: bool,
    /// `-c`
    pub bytes: bool,
}

impl Columns {
    /// The selected columns; all three when none was asked for.
    #[must_use]
    pub fn new(lines: bool, words: bool, bytes: bool) -> Self {
        if lines || words || bytes { Self { lines, words, bytes } } else { Self { lines: true, words: true, bytes: true } }
    }

    fn values(self, c: Counts) -> Vec<u64> {
        let mut v = Vec::new();
        if self.lines {
            v.push(c.lines);
        }
        if self.words {
            v.push(c.words);
        }
        if self.bytes {
            v.push(c.bytes);
        }
        v
    }
}

/// Formats the report: one row per `(name, counts)` (an empty name for
/// stdin), plus a `total` row when there is more than one. Columns are
/// right-aligned to the widest number; a single number alone is unpadded.
#[must_use]
pub fn report(rows: &[(String, Counts)], cols: Columns) -> String {
    let mut all: Vec<(String, Vec<u64>)> = rows.iter().map(|(n, c)| (n.clone(), cols.values(*c))).collect();
    if rows.len() > 1 {
        let mut total = Counts::default();
        for (_, c) in rows {
            total += *c;
        }
        all.push(("total".into(), cols.values(total)));
    }
    let width = all.iter().flat_map(|(_, v)| v.iter()).map(|n| n.to_string().len()).max().unwrap_or(1);
    let mut out = String::new();
    for (name, vals) in &all {
        let cells: Vec<String> = vals.iter().map(|n| format!("{n:>width$}")).collect();
        out.push_str(&cells.join(" "));
        if !name.is_empty() {
            out.push(' ');
            out.push_str(name);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(s: &str) -> Counts {
        let mut c = Counter::default();
        c.feed(s.as_bytes());
        c.counts()
    }

    #[test]
    fn counts_lines_words_bytes() {
        assert_eq!(count(""), Counts::default());
        assert_eq!(count("hi\n"), Counts { lines: 1, words: 1, bytes: 3 });
        assert_eq!(count("  a b\tc\n\nd"), Counts { lines: 2, words: 4, bytes: 10 });
        assert_eq!(count("é"), Counts { lines: 0, words: 1, bytes: 2 });
    }

    #[test]
    fn words_span_chunks() {
        let mut c = Counter::default();
        c.feed(b"hel");
        c.feed(b"lo wor");
        c.feed(b"ld\n");
        assert_eq!(c.counts(), Counts { lines: 1, words: 2, bytes: 12 });
    }

    #[test]
    fn report_formats() {
        let one = [(String::new(), Counts { lines: 1, words: 1, bytes: 3 })];
        assert_eq!(report(&one, Columns::new(false, false, true)), "3\n");
        assert_eq!(report(&one, Columns::new(false, false, false)), "1 1 3\n");
        let two = [
            ("a".to_owned(), Counts { lines: 10, words: 2, bytes: 100 }),
            ("b".to_owned(), Counts { lines: 1, words: 1, bytes: 5 }),
        ];
        assert_eq!(
            report(&two, Columns::new(true, false, false)),
            "10 a\n 1 b\n11 total\n"
        );
        assert_eq!(report(&two[1..], Columns::new(true, true, false)), "1 1 b\n");
    }
}
