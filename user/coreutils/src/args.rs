//! A small getopt: single-letter flags, clustered (`-la`), with values
//! attached or separate (`-n5`, `-n 5`), `--` ending options, and `-` as an
//! operand (stdin).

use std::collections::BTreeMap;

/// Parsed command-line arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    flags: Vec<char>,
    values: BTreeMap<char, String>,
    /// Non-option arguments, in order.
    pub operands: Vec<String>,
}

impl Parsed {
    /// Whether flag `c` was given.
    #[must_use]
    pub fn has(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    /// The value given to option `c` (the last one if repeated).
    #[must_use]
    pub fn value(&self, c: char) -> Option<&str> {
        self.values.get(&c).map(String::as_str)
    }
}

/// Parses `args` (without `argv[0]`). `flags` lists the boolean options,
/// `with_value` the ones taking a value. Options may follow operands
/// (`ls /tmp -l`), as in GNU tools.
///
/// # Errors
/// A message for an unknown option or a missing value.
pub fn parse(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            p.operands.extend(it.cloned());
            break;
        }
        let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) else {
            p.operands.push(a.clone());
            continue;
        };
        for (i, c) in cluster.char_indices() {
            if flags.contains(c) {
                p.flags.push(c);
            } else if with_value.contains(c) {
                let rest = &cluster[i + c.len_utf8()..];
                let value = if rest.is_empty() {
                    it.next().ok_or_else(|| format!("option requires an argument -- '{c}'"))?.clone()
                } else {
                    rest.to_owned()
                };
                p.values.insert(c, value);
                break;
            } else {
                return Err(format!("invalid option -- '{c}'"));
            }
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn clusters_and_operands() {
        let p = parse(&v(&["-la", "/tmp", "-i"]), "lai", "").expect("valid");
        assert!(p.has('l') && p.has('a') && p.has('i'));
        assert!(!p.has('x'));
        assert_eq!(p.operands, ["/tmp"]);
    }

    #[test]
    fn values_attached_or_separate() {
        let p = parse(&v(&["-n5", "f"]), "", "n").expect("valid");
        assert_eq!(p.value('n'), Some("5"));
        let p = parse(&v(&["-vn", "7", "f"]), "v", "n").expect("valid");
        assert!(p.has('v'));
        assert_eq!(p.value('n'), Some("7"));
        assert_eq!(p.operands, ["f"]);
        assert_eq!(parse(&v(&["-n"]), "", "n"), Err("option requires an argument -- 'n'".into()));
    }

    #[test]
    fn double_dash_and_single_dash() {
        let p = parse(&v(&["-a", "--", "-b", "-"]), "a", "").expect("valid");
        assert_eq!(p.operands, ["-b", "-"]);
        let p = parse(&v(&["-"]), "", "").expect("valid");
        assert_eq!(p.operands, ["-"]);
    }

    #[test]
    fn unknown_option() {
        assert_eq!(parse(&v(&["-z"]), "a", "n"), Err("invalid option -- 'z'".into()));
    }
}
