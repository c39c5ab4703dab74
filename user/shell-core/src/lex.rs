//! Splits a command line into words and operators, handling quoting.
//!
//! Rules (a small POSIX-sh subset):
//! - blanks (space, tab) separate words; `#` at the start of a word starts a
//!   comment that runs to the end of the line;
//! - `'...'` is literal; `"..."` is literal except `$NAME`, `${NAME}`, `$?`,
//!   `$$`, and `\` before `$`, `` ` ``, `"`, `\` or a newline;
//! - an unquoted `\` makes the next character literal;
//! - operators: `;` (and newline), `&&`, `||`, `|`, `<`, `>`, `>>`, and
//!   stderr redirections `2>`, `2>>`, `2>&1` (only as a word of their own);
//! - a lone `&` (background jobs) is rejected.

use core::fmt;

/// One piece of a word, before expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text. `quoted` text is never split into fields.
    Lit {
        /// The text.
        text: String,
        /// Whether it came from quotes or a backslash escape.
        quoted: bool,
    },
    /// A variable reference (`$NAME`, `${NAME}`, `$?`, `$$`).
    Var {
        /// The variable name (`"?"` for the last status, `"$"` for the pid).
        name: String,
        /// Whether it was inside double quotes (no field splitting).
        quoted: bool,
    },
}

/// A word: the parts written next to each other (`a"b"$C`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Word {
    /// The parts in order.
    pub parts: Vec<Part>,
}

impl Word {
    /// A word that is one unquoted literal (for tests and builders).
    #[must_use]
    pub fn lit(s: &str) -> Self {
        Self { parts: vec![Part::Lit { text: s.to_owned(), quoted: false }] }
    }

    /// The word's text if it is entirely unquoted literal text.
    #[must_use]
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit { text, quoted: false } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    fn push_char(&mut self, c: char, quoted: bool) {
        if let Some(Part::Lit { text, quoted: q }) = self.parts.last_mut()
            && *q == quoted
        {
            text.push(c);
            return;
        }
        self.parts.push(Part::Lit { text: c.to_string(), quoted });
    }

    fn push_empty_quoted(&mut self) {
        if self.parts.is_empty() {
            self.parts.push(Part::Lit { text: String::new(), quoted: true });
        }
    }
}

/// A shell operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `;` or a newline.
    Semi,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `|`
    Pipe,
    /// `<`
    In,
    /// `>`
    Out,
    /// `>>`
    Append,
    /// `2>`
    ErrOut,
    /// `2>>`
    ErrAppend,
    /// `2>&1`
    ErrToOut,
}

impl Op {
    /// The operator as written.
    #[must_use]
    pub fn text(self) -> &'static str {
        match self {
            Self::Semi => ";",
            Self::And => "&&",
            Self::Or => "||",
            Self::Pipe => "|",
            Self::In => "<",
            Self::Out => ">",
            Self::Append => ">>",
            Self::ErrOut => "2>",
            Self::ErrAppend => "2>>",
            Self::ErrToOut => "2>&1",
        }
    }
}

/// A lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word.
    Word(Word),
    /// An operator.
    Op(Op),
}

/// Why a line could not be split into tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A quote was opened and never closed.
    UnterminatedQuote(char),
    /// `${` without a closing `}` or with an invalid name.
    BadSubstitution,
    /// A `\` at the very end of the line.
    TrailingBackslash,
    /// `&` alone: background jobs are not supported.
    Background,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote(q) => write!(f, "unterminated {q} quote"),
            Self::BadSubstitution => f.write_str("bad ${...} substitution"),
            Self::TrailingBackslash => f.write_str("unexpected end of line after \\"),
            Self::Background => f.write_str("background jobs (&) are not supported"),
        }
    }
}

impl std::error::Error for LexError {}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The lexer's cursor over the line.
struct Lexer<'a> {
    chars: core::iter::Peekable<core::str::Chars<'a>>,
    tokens: Vec<Token>,
    word: Option<Word>,
}

/// Splits `line` into tokens.
///
/// # Errors
/// A [`LexError`] for unbalanced quotes, a bad `${}`, a trailing `\` or `&`.
pub fn lex(line: &str) -> Result<Vec<Token>, LexError> {
    let mut lx = Lexer { chars: line.chars().peekable(), tokens: Vec::new(), word: None };
    lx.run()?;
    Ok(lx.tokens)
}

// === impl Lexer ===

impl Lexer<'_> {
    fn word(&mut self) -> &mut Word {
        self.word.get_or_insert_with(Word::default)
    }

    fn end_word(&mut self) {
        if let Some(w) = self.word.take() {
            self.tokens.push(Token::Word(w));
        }
    }

    fn op(&mut self, op: Op) {
        self.end_word();
        self.tokens.push(Token::Op(op));
    }

    fn run(&mut self) -> Result<(), LexError> {
        while let Some(c) = self.chars.next() {
            match c {
                ' ' | '\t' | '\r' => self.end_word(),
                '\n' | ';' => self.op(Op::Semi),
                '#' if self.word.is_none() => break,
                '&' => {
                    if self.chars.next_if_eq(&'&').is_some() {
                        self.op(Op::And);
                    } else {
                        return Err(LexError::Background);
                    }
                }
                '|' => {
                    let op = if self.chars.next_if_eq(&'|').is_some() { Op::Or } else { Op::Pipe };
                    self.op(op);
                }
                '<' => self.op(Op::In),
                '>' => {
                    let op = if self.chars.next_if_eq(&'>').is_some() { Op::Append } else { Op::Out };
                    self.op(op);
                }
                '2' if self.word.is_none() && self.chars.peek() == Some(&'>') => {
                    self.chars.next();
                    if self.chars.next_if_eq(&'>').is_some() {
                        self.op(Op::ErrAppend);
                    } else if self.chars.next_if_eq(&'&').is_some() {
                        if self.chars.next_if_eq(&'1').is_some() {
                            self.op(Op::ErrToOut);
                        } else {
                            return Err(LexError::Background);
                        }
                    } else {
                        self.op(Op::ErrOut);
                    }
                }
                '\'' => self.single_quoted()?,
                '"' => self.double_quoted()?,
                '\\' => {
                    let next = self.chars.next().ok_or(LexError::TrailingBackslash)?;
                    if next != '\n' {
                        self.word().push_char(next, true);
                    }
                }
                '$' => self.dollar(false)?,
                c => self.word().push_char(c, false),
            }
        }
        self.end_word();
        Ok(())
    }

    fn single_quoted(&mut self) -> Result<(), LexError> {
        self.word().push_empty_quoted();
        loop {
            match self.chars.next() {
                None => return Err(LexError::UnterminatedQuote('\'')),
                Some('\'') => return Ok(()),
                Some(c) => self.word().push_char(c, true),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<(), LexError> {
        self.word().push_empty_quoted();
        loop {
            match self.chars.next() {
                None => return Err(LexError::UnterminatedQuote('"')),
                Some('"') => return Ok(()),
                Some('\\') => match self.chars.next() {
                    None => return Err(LexError::UnterminatedQuote('"')),
                    Some('\n') => {}
                    Some(c @ ('$' | '`' | '"' | '\\')) => self.word().push_char(c, true),
                    Some(c) => {
                        self.word().push_char('\\', true);
                        self.word().push_char(c, true);
                    }
                },
                Some('$') => self.dollar(true)?,
                Some(c) => self.word().push_char(c, true),
            }
        }
    }

    /// After a `$`: a variable reference, or a literal `$`.
    fn dollar(&mut self, quoted: bool) -> Result<(), LexError> {
        let name = match self.chars.peek().copied() {
            Some(c @ ('?' | '$')) => {
                self.chars.next();
                c.to_string()
            }
            Some('{') => {
                self.chars.next();
                let mut name = String::new();
                loop {
                    match self.chars.next() {
                        Some('}') => break,
                        Some(c) if is_name_char(c) || (name.is_empty() && c == '?') => name.push(c),
                        _ => return Err(LexError::BadSubstitution),
                    }
                }
                let valid = name == "?" || name.chars().next().is_some_and(is_name_start);
                if !valid {
                    return Err(LexError::BadSubstitution);
                }
                name
            }
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.chars.next_if(|&c| is_name_char(c)) {
                    name.push(c);
                }
                name
            }
            _ => {
                self.word().push_char('$', quoted);
                return Ok(());
            }
        };
        self.word().parts.push(Part::Var { name, quoted });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        lex(line)
            .expect("lexes")
            .into_iter()
            .map(|t| match t {
                Token::Word(w) => w
                    .parts
                    .iter()
                    .map(|p| match p {
                        Part::Lit { text, .. } => text.clone(),
                        Part::Var { name, .. } => format!("<{name}>"),
                    })
                    .collect(),
                Token::Op(op) => format!("[{}]", op.text()),
            })
            .collect()
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(words("  ls   -l\t/tmp "), ["ls", "-l", "/tmp"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("   "), Vec::<String>::new());
    }

    #[test]
    fn operators() {
        assert_eq!(
            words("a;b&&c||d|e<f>g>>h"),
            ["a", "[;]", "b", "[&&]", "c", "[||]", "d", "[|]", "e", "[<]", "f", "[>]", "g", "[>>]", "h"]
        );
        assert_eq!(words("a\nb"), ["a", "[;]", "b"]);
    }

    #[test]
    fn stderr_redirections_only_at_word_start() {
        assert_eq!(words("cmd 2> err"), ["cmd", "[2>]", "err"]);
        assert_eq!(words("cmd 2>>err"), ["cmd", "[2>>]", "err"]);
        assert_eq!(words("cmd 2>&1"), ["cmd", "[2>&1]"]);
        assert_eq!(words("echo a2>f"), ["echo", "a2", "[>]", "f"]);
        assert_eq!(words("echo 2"), ["echo", "2"]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(words("echo 'a  b $X \\n'"), ["echo", "a  b $X \\n"]);
        assert_eq!(words("echo ''"), ["echo", ""]);
        assert_eq!(words("echo a'b'c"), ["echo", "abc"]);
        assert_eq!(words("echo ';|&&'"), ["echo", ";|&&"]);
    }

    #[test]
    fn double_quotes_expand_vars_and_some_escapes() {
        assert_eq!(words(r#"echo "a $X b""#), ["echo", "a <X> b"]);
        assert_eq!(words(r#"echo "\$X \" \\ \n""#), ["echo", r#"$X " \ \n"#]);
        assert_eq!(words(r#"echo """#), ["echo", ""]);
        let toks = lex(r#""$A""#).expect("lexes");
        assert_eq!(
            toks,
            [Token::Word(Word { parts: vec![
                Part::Lit { text: String::new(), quoted: true },
                Part::Var { name: "A".into(), quoted: true },
            ] })]
        );
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(words(r"echo a\ b \; \$X"), ["echo", "a b", ";", "$X"]);
        assert_eq!(lex("echo \\"), Err(LexError::TrailingBackslash));
        assert_eq!(words("echo a\\\nb"), ["echo", "ab"]);
    }

    #[test]
    fn variables() {
        assert_eq!(words("echo $HOME/x ${A}b $? $$ $1 $"), ["echo", "<HOME>/x", "<A>b", "<?>", "<$>", "$1", "$"]);
        assert_eq!(words("echo ${?}"), ["echo", "<?>"]);
        assert_eq!(lex("echo ${A"), Err(LexError::BadSubstitution));
        assert_eq!(lex("echo ${1A}"), Err(LexError::BadSubstitution));
        assert_eq!(lex("echo ${}"), Err(LexError::BadSubstitution));
        let toks = lex("$A").expect("lexes");
        assert_eq!(toks, [Token::Word(Word { parts: vec![Part::Var { name: "A".into(), quoted: false }] })]);
    }

    #[test]
    fn comments() {
        assert_eq!(words("echo hi # a comment"), ["echo", "hi"]);
        assert_eq!(words("echo a#b"), ["echo", "a#b"]);
        assert_eq!(words("# only"), Vec::<String>::new());
    }

    #[test]
    fn errors() {
        assert_eq!(lex("echo 'abc"), Err(LexError::UnterminatedQuote('\'')));
        assert_eq!(lex("echo \"abc"), Err(LexError::UnterminatedQuote('"')));
        assert_eq!(lex("sleep 1 &"), Err(LexError::Background));
        assert_eq!(lex("a 2>&x"), Err(LexError::Background));
        assert_eq!(LexError::UnterminatedQuote('"').to_string(), "unterminated \" quote");
    }

    #[test]
    fn plain_words() {
        let toks = lex("FOO=bar 'q'").expect("lexes");
        let Token::Word(w) = &toks[0] else { panic!("word expected") };
        assert_eq!(w.as_plain().as_deref(), Some("FOO=bar"));
        let Token::Word(w) = &toks[1] else { panic!("word expected") };
        assert_eq!(w.as_plain(), None);
        assert_eq!(Word::lit("x").as_plain().as_deref(), Some("x"));
    }
}
