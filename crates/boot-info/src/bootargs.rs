//! Reading `key=value` words from the kernel command line (`/chosen`
//! `bootargs`, set by QEMU's `-append`).
//!
//! Words are separated by whitespace; a word without `=` is a flag. When a
//! key appears twice, the last one wins.

/// The value of `key` (`key=value`), if present.
#[must_use]
pub fn value<'a>(bootargs: &'a str, key: &str) -> Option<&'a str> {
    bootargs
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .filter(|(word_key, _)| *word_key == key)
        .map(|(_, value)| value)
        .next_back()
}

/// Whether `flag` appears as a bare word (or as `flag=…`).
#[must_use]
pub fn has(bootargs: &str, flag: &str) -> bool {
    bootargs.split_whitespace().any(|word| word == flag || word.split_once('=').is_some_and(|(key, _)| key == flag))
}

/// The value of `key` parsed as a decimal or `0x` hexadecimal `u64`.
/// `None` when absent; `Some(Err(()))` when present but not a number.
#[must_use]
pub fn number(bootargs: &str, key: &str) -> Option<Result<u64, ()>> {
    let text = value(bootargs, key)?;
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_flags_and_numbers() {
        let args = "log=debug ktest  kaslr.seed=0x10 ktest.filter=mem:: log=trace";
        assert_eq!(value(args, "log"), Some("trace"));
        assert_eq!(value(args, "ktest.filter"), Some("mem::"));
        assert_eq!(value(args, "missing"), None);
        assert!(has(args, "ktest"));
        assert!(has(args, "log"));
        assert!(!has(args, "kaslr"));
        assert_eq!(number(args, "kaslr.seed"), Some(Ok(16)));
        assert_eq!(number("kaslr.seed=12", "kaslr.seed"), Some(Ok(12)));
        assert_eq!(number("kaslr.seed=x", "kaslr.seed"), Some(Err(())));
        assert_eq!(number("", "kaslr.seed"), None);
    }
}
