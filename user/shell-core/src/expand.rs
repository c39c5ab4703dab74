//! Turns parsed words into argument strings: variable expansion and field
//! splitting.
//!
//! Unquoted variable values are split into fields at blanks (space, tab,
//! newline); quoted ones are kept whole. A word that expands to nothing and
//! had no quotes produces no field at all (`echo $UNSET` gets no argument),
//! while `""` produces one empty field.

use crate::lex::{Part, Word};

/// Where variable values come from.
pub trait Vars {
    /// The value of `name` (`"?"` is the last status, `"$"` the pid), or
    /// `None` if unset (expands to nothing).
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// Expands one word into zero or more fields.
pub fn expand_word(word: &Word, vars: &dyn Vars) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    // Whether `cur` is a field even if empty (quotes were seen).
    let mut live = false;
    for part in &word.parts {
        match part {
            Part::Lit { text, quoted } => {
                cur.push_str(text);
                live |= *quoted || !text.is_empty();
            }
            Part::Var { name, quoted: true } => {
                cur.push_str(&vars.get(name).unwrap_or_default());
                live = true;
            }
            Part::Var { name, quoted: false } => {
                // Blanks in the value end the current field; runs of
                // blanks (and leading/trailing ones) make no empty fields.
                for c in vars.get(name).unwrap_or_default().chars() {
                    if is_blank(c) {
                        if live {
                            fields.push(core::mem::take(&mut cur));
                            live = false;
                        }
                    } else {
                        cur.push(c);
                        live = true;
                    }
                }
            }
        }
    }
    if live {
        fields.push(cur);
    }
    fields
}

/// Expands every word of a command into its argument vector.
pub fn expand_words(words: &[Word], vars: &dyn Vars) -> Vec<String> {
    words.iter().flat_map(|w| expand_word(w, vars)).collect()
}

/// Expands a word that must be a single string (a redirection target or an
/// assignment value): no field splitting, parts joined as written.
#[must_use]
pub fn expand_single(word: &Word, vars: &dyn Vars) -> String {
    let mut out = String::new();
    for part in &word.parts {
        match part {
            Part::Lit { text, .. } => out.push_str(text),
            Part::Var { name, .. } => out.push_str(&vars.get(name).unwrap_or_default()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("one".into()),
            "S" => Some("x  y z".into()),
            "LEAD" => Some(" p q ".into()),
            "E" => Some(String::new()),
            "?" => Some("0".into()),
            _ => None,
        }
    }

    fn argv(line: &str) -> Vec<String> {
        let s = parse(line).expect("parses");
        expand_words(&s.items[0].first.commands[0].words, &vars)
    }

    #[test]
    fn literals_pass_through() {
        assert_eq!(argv("echo a 'b c' \"d\""), ["echo", "a", "b c", "d"]);
    }

    #[test]
    fn variables_and_status() {
        assert_eq!(argv("echo $A ${A}s $? x$A"), ["echo", "one", "ones", "0", "xone"]);
    }

    #[test]
    fn unset_and_empty() {
        assert_eq!(argv("echo $NOPE $E"), ["echo"]);
        assert_eq!(argv("echo \"$NOPE\" ''"), ["echo", "", ""]);
        assert_eq!(argv("echo a$NOPE"), ["echo", "a"]);
    }

    #[test]
    fn field_splitting_only_unquoted() {
        assert_eq!(argv("echo $S"), ["echo", "x", "y", "z"]);
        assert_eq!(argv("echo \"$S\""), ["echo", "x  y z"]);
        assert_eq!(argv("echo a$S"), ["echo", "ax", "y", "z"]);
        assert_eq!(argv("echo ${S}b"), ["echo", "x", "y", "zb"]);
    }

    #[test]
    fn leading_and_trailing_blanks_split() {
        assert_eq!(argv("echo a$LEAD"), ["echo", "a", "p", "q"]);
        assert_eq!(argv("echo ${LEAD}b"), ["echo", "p", "q", "b"]);
        assert_eq!(argv("echo $LEAD"), ["echo", "p", "q"]);
    }

    #[test]
    fn single_expansion_joins() {
        let s = parse("cat > $S.txt").expect("parses");
        let target = s.items[0].first.commands[0].redirects[0].target.as_ref().expect("target");
        assert_eq!(expand_single(target, &vars), "x  y z.txt");
    }

    #[test]
    fn closures_are_var_sources() {
        let v = |n: &str| (n == "Q").then(|| "z".to_owned());
        assert_eq!(expand_single(&crate::lex::Word::lit("a"), &v), "a");
        let s = parse("echo $Q").expect("parses");
        assert_eq!(expand_words(&s.items[0].first.commands[0].words, &v), ["echo", "z"]);
    }
}
