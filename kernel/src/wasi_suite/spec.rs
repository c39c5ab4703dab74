//! The kernel's form of a wasi-testsuite test specification: xtask reads
//! the test's JSON on the host and writes it as `NAME.spec`, one
//! `KEY VALUE` line per field. Plain `alloc` code with no kernel
//! dependency: xtask's host tests compile this very file (`#[path]`) to
//! check that what it writes is read back unchanged.

extern crate alloc;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// What a test expects, from its JSON file as xtask rewrote it (the host
/// runner's defaults when it has none).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Spec {
    /// argv\[1..\].
    pub args: Vec<String>,
    /// The guest environment, exactly.
    pub env: Vec<(String, String)>,
    /// Fixture directory, relative to the test's, preopened as `/`.
    pub root: Option<String>,
    /// Expected exit status.
    pub exit_code: i32,
    /// Expected prefix of stdout.
    pub stdout: String,
    /// Expected prefix of stderr.
    pub stderr: String,
}

/// Undoes xtask's escaping: `\\` is a backslash, `\n` a newline, `\r` a
/// carriage return; anything else after a backslash is malformed.
pub fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape `\\{}`", other.map_or_else(String::new, |c| c.to_string()))),
        }
    }
    Ok(out)
}

/// Parses the specification xtask wrote from a test's JSON file
/// (`NAME.spec`, see `xtask/src/kernel/wasi.rs`): one `KEY VALUE` per
/// line, values escaped ([`unescape`]); keys `arg` (repeated, in order),
/// `env` (`NAME=value`, repeated), `root`, `exit_code`, `stdout`,
/// `stderr`. Unknown keys are an error, so the two sides cannot drift
/// apart silently.
pub fn parse_spec(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    for (number, line) in (1..).zip(text.lines()) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, raw) = line.split_once(' ').unwrap_or((line, ""));
        let value = unescape(raw).map_err(|e| format!("line {number}: {e}"))?;
        match key {
            "arg" => spec.args.push(value),
            "env" => {
                let (name, value) = value.split_once('=').ok_or_else(|| format!("line {number}: `env` without `=`"))?;
                spec.env.push((String::from(name), String::from(value)));
            }
            "root" => spec.root = Some(value),
            "exit_code" => spec.exit_code = value.parse().map_err(|_| format!("line {number}: exit_code `{value}`"))?,
            "stdout" => spec.stdout = value,
            "stderr" => spec.stderr = value,
            other => return Err(format!("line {number}: unknown key `{other}`")),
        }
    }
    Ok(spec)
}
