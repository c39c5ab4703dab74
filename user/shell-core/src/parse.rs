//! Builds the command structure from tokens.
//!
//! Grammar:
//! ```text
//! script   := and_or (';' and_or)* ';'?
//! and_or   := pipeline (('&&' | '||') pipeline)*
//! pipeline := command ('|' command)*
//! command  := (NAME=value)* (word | redirection)+     -- or only assignments
//! redirection := ('<' | '>' | '>>' | '2>' | '2>>') word | '2>&1'
//! ```

use core::fmt;

use crate::lex::{self, LexError, Op, Token, Word};

/// Which stream a redirection changes and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirKind {
    /// `< file`: stdin reads the file.
    In,
    /// `> file`: stdout truncates/creates the file.
    Out,
    /// `>> file`: stdout appends to the file.
    Append,
    /// `2> file`: stderr truncates/creates the file.
    ErrOut,
    /// `2>> file`: stderr appends to the file.
    ErrAppend,
    /// `2>&1`: stderr goes wherever stdout goes.
    ErrToOut,
}

/// One redirection of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// What is redirected.
    pub kind: RedirKind,
    /// The file (unexpanded); `None` for `2>&1`.
    pub target: Option<Word>,
}

/// A simple command: `NAME=value ... prog args... redirections...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// Leading `NAME=value` words (the value unexpanded).
    pub assignments: Vec<(String, Word)>,
    /// The program and its arguments (unexpanded).
    pub words: Vec<Word>,
    /// Redirections, in the order written.
    pub redirects: Vec<Redirect>,
}

/// Commands joined by `|`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// At least one command.
    pub commands: Vec<Command>,
}

/// How a pipeline is joined to the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: run if the previous succeeded.
    And,
    /// `||`: run if the previous failed.
    Or,
}

/// Pipelines joined by `&&` / `||`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The following ones with their connector.
    pub rest: Vec<(Connector, Pipeline)>,
}

/// A whole line: `and_or` lists separated by `;`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// The lists in order (empty for a blank line).
    pub items: Vec<AndOr>,
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A lexical error.
    Lex(LexError),
    /// An operator where a command was expected (`; ;`, `| x`, `a &&`).
    Unexpected(&'static str),
    /// The line ended where a command was expected (`a |`).
    UnexpectedEnd,
    /// A redirection without a file name.
    MissingTarget(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lex(e) => write!(f, "syntax error: {e}"),
            Self::Unexpected(op) => write!(f, "syntax error near `{op}`"),
            Self::UnexpectedEnd => f.write_str("syntax error: unexpected end of line"),
            Self::MissingTarget(op) => write!(f, "syntax error: `{op}` needs a file name"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<LexError> for ParseError {
    fn from(e: LexError) -> Self {
        Self::Lex(e)
    }
}

/// Whether `s` is a valid variable name.
#[must_use]
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// If `w` is `NAME=value` with a plain `NAME`, splits it.
fn assignment(w: &Word) -> Option<(String, Word)> {
    let lex::Part::Lit { text, quoted: false } = w.parts.first()? else {
        return None;
    };
    let (name, value) = text.split_once('=')?;
    if !is_name(name) {
        return None;
    }
    let mut rest = w.parts[1..].to_vec();
    if !value.is_empty() {
        rest.insert(0, lex::Part::Lit { text: value.to_owned(), quoted: false });
    }
    Some((name.to_owned(), Word { parts: rest }))
}

/// Parses one command line.
///
/// # Errors
/// A [`ParseError`] naming the offending operator or lexical problem.
pub fn parse(line: &str) -> Result<Script, ParseError> {
    let tokens = lex::lex(line)?;
    let mut p = Parser { tokens: tokens.into_iter().peekable() };
    p.script()
}

struct Parser {
    tokens: core::iter::Peekable<std::vec::IntoIter<Token>>,
}

// === impl Parser ===

impl Parser {
    fn script(&mut self) -> Result<Script, ParseError> {
        let mut items = Vec::new();
        loop {
            // Skip empty statements between/around `;`? Only trailing ones:
            // `a ; ; b` is an error as in POSIX sh.
            match self.tokens.peek() {
                None => break,
                Some(Token::Op(Op::Semi)) if items.is_empty() => {
                    return Err(ParseError::Unexpected(";"));
                }
                _ => {}
            }
            items.push(self.and_or()?);
            match self.tokens.next() {
                None => break,
                Some(Token::Op(Op::Semi)) => {
                    if let Some(Token::Op(Op::Semi)) = self.tokens.peek() {
                        return Err(ParseError::Unexpected(";"));
                    }
                }
                Some(Token::Op(op)) => return Err(ParseError::Unexpected(op.text())),
                Some(Token::Word(_)) => return Err(ParseError::Unexpected("word")),
            }
        }
        Ok(Script { items })
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let conn = match self.tokens.peek() {
                Some(Token::Op(Op::And)) => Connector::And,
                Some(Token::Op(Op::Or)) => Connector::Or,
                _ => break,
            };
            self.tokens.next();
            rest.push((conn, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let mut commands = vec![self.command()?];
        while let Some(Token::Op(Op::Pipe)) = self.tokens.peek() {
            self.tokens.next();
            commands.push(self.command()?);
        }
        Ok(Pipeline { commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut cmd = Command::default();
        loop {
            match self.tokens.peek() {
                Some(Token::Word(_)) => {
                    let Some(Token::Word(w)) = self.tokens.next() else { break };
                    if cmd.words.is_empty()
                        && let Some(a) = assignment(&w)
                    {
                        cmd.assignments.push(a);
                        continue;
                    }
                    cmd.words.push(w);
                }
                Some(Token::Op(op)) => {
                    let op = *op;
                    let kind = match op {
                        Op::In => RedirKind::In,
                        Op::Out => RedirKind::Out,
                        Op::Append => RedirKind::Append,
                        Op::ErrOut => RedirKind::ErrOut,
                        Op::ErrAppend => RedirKind::ErrAppend,
                        Op::ErrToOut => RedirKind::ErrToOut,
                        Op::Semi | Op::And | Op::Or | Op::Pipe => break,
                    };
                    self.tokens.next();
                    let target = if kind == RedirKind::ErrToOut {
                        None
                    } else {
                        match self.tokens.next() {
                            Some(Token::Word(w)) => Some(w),
                            _ => return Err(ParseError::MissingTarget(op.text())),
                        }
                    };
                    cmd.redirects.push(Redirect { kind, target });
                }
                None => break,
            }
        }
        if cmd.words.is_empty() && cmd.assignments.is_empty() && cmd.redirects.is_empty() {
            return match self.tokens.peek() {
                Some(Token::Op(op)) => Err(ParseError::Unexpected(op.text())),
                _ => Err(ParseError::UnexpectedEnd),
            };
        }
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(words: &[Word]) -> Vec<String> {
        words.iter().map(|w| w.as_plain().unwrap_or_else(|| "<quoted>".into())).collect()
    }

    #[test]
    fn empty_line() {
        assert_eq!(parse("").expect("parses"), Script::default());
        assert_eq!(parse("  # comment").expect("parses"), Script::default());
    }

    #[test]
    fn simple_command() {
        let s = parse("ls -l /bin").expect("parses");
        assert_eq!(s.items.len(), 1);
        let cmd = &s.items[0].first.commands[0];
        assert_eq!(plain(&cmd.words), ["ls", "-l", "/bin"]);
        assert!(cmd.redirects.is_empty());
    }

    #[test]
    fn lists_and_connectors() {
        let s = parse("a; b && c || d;").expect("parses");
        assert_eq!(s.items.len(), 2);
        let second = &s.items[1];
        assert_eq!(plain(&second.first.commands[0].words), ["b"]);
        assert_eq!(second.rest.len(), 2);
        assert_eq!(second.rest[0].0, Connector::And);
        assert_eq!(second.rest[1].0, Connector::Or);
        assert_eq!(plain(&second.rest[1].1.commands[0].words), ["d"]);
    }

    #[test]
    fn pipelines() {
        let s = parse("cat /tmp/a | grep x | wc -l").expect("parses");
        let p = &s.items[0].first;
        assert_eq!(p.commands.len(), 3);
        assert_eq!(plain(&p.commands[2].words), ["wc", "-l"]);
    }

    #[test]
    fn redirections_anywhere_in_command() {
        let s = parse("echo hi > /tmp/a; cat < in >> out 2> err 2>&1 x").expect("parses");
        let c0 = &s.items[0].first.commands[0];
        assert_eq!(plain(&c0.words), ["echo", "hi"]);
        assert_eq!(c0.redirects, [Redirect { kind: RedirKind::Out, target: Some(Word::lit("/tmp/a")) }]);
        let c1 = &s.items[1].first.commands[0];
        assert_eq!(plain(&c1.words), ["cat", "x"]);
        let kinds: Vec<_> = c1.redirects.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [RedirKind::In, RedirKind::Append, RedirKind::ErrOut, RedirKind::ErrToOut]
        );
        assert_eq!(c1.redirects[3].target, None);
        // A command may be only a redirection (`> file` truncates).
        let s = parse("> f").expect("parses");
        assert!(s.items[0].first.commands[0].words.is_empty());
    }

    #[test]
    fn assignments_only_before_the_command() {
        let s = parse("A=1 B= prog C=3").expect("parses");
        let c = &s.items[0].first.commands[0];
        assert_eq!(c.assignments.len(), 2);
        assert_eq!(c.assignments[0], ("A".into(), Word::lit("1")));
        assert_eq!(c.assignments[1], ("B".into(), Word::default()));
        assert_eq!(plain(&c.words), ["prog", "C=3"]);
        let s = parse("X=\"a b\"").expect("parses");
        let c = &s.items[0].first.commands[0];
        assert!(c.words.is_empty());
        assert_eq!(c.assignments[0].0, "X");
        // Not an assignment: invalid name or quoted name.
        let s = parse("1A=2 'B'=3").expect("parses");
        let c = &s.items[0].first.commands[0];
        assert!(c.assignments.is_empty());
        assert_eq!(c.words.len(), 2);
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(parse("| a"), Err(ParseError::Unexpected("|")));
        assert_eq!(parse("a |"), Err(ParseError::UnexpectedEnd));
        assert_eq!(parse("a &&"), Err(ParseError::UnexpectedEnd));
        assert_eq!(parse("a && || b"), Err(ParseError::Unexpected("||")));
        assert_eq!(parse("; a"), Err(ParseError::Unexpected(";")));
        assert_eq!(parse("a ;; b"), Err(ParseError::Unexpected(";")));
        assert_eq!(parse("a >"), Err(ParseError::MissingTarget(">")));
        assert_eq!(parse("a < | b"), Err(ParseError::MissingTarget("<")));
        assert_eq!(parse("echo 'x"), Err(ParseError::Lex(LexError::UnterminatedQuote('\''))));
        assert_eq!(parse("a |").unwrap_err().to_string(), "syntax error: unexpected end of line");
        assert_eq!(parse("| a").unwrap_err().to_string(), "syntax error near `|`");
    }

    #[test]
    fn names() {
        assert!(is_name("PATH"));
        assert!(is_name("_x1"));
        assert!(!is_name("1x"));
        assert!(!is_name(""));
        assert!(!is_name("a-b"));
    }
}
