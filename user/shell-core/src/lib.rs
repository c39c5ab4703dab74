//! The pure parts of Hypha's shell, tested on the host.
//!
//! What it is: the command language — [`lex`] (quoting, `$VAR`, operators),
//! [`parse`] (`;`, `&&`, `||`, `|`, redirections, assignments),
//! [`expand`] (variables and `$?`, field splitting) — the interactive
//! [`editor`] (a byte-in, bytes-out line editor state machine with
//! history), and [`path`] helpers (normalising `cd` targets, finding
//! programs on `PATH`).
//!
//! What it is not: the shell's execution. Spawning processes, pipes, files
//! and the console are in the `sh` program, which feeds this crate bytes and
//! runs the commands it returns.

pub mod editor;
pub mod expand;
pub mod lex;
pub mod parse;
pub mod path;
