//! Shared logic of Hypha's basic commands (`ls`, `cat`, `wc`, `grep`, ...).
//!
//! What it is: the pure, host-tested parts — option parsing ([`args`]),
//! counting ([`wc`]), matching ([`grep`]), listing format ([`ls`]), number
//! and time formatting ([`fmt`]) — plus small helpers every program's `main`
//! uses ([`run`], [`describe`]). The programs themselves are the binaries
//! in `src/bin/`, ordinary `wasm32-wasip1` programs using `std` for files
//! and the `hypha` ABI only for process information.
//!
//! What it is not: GNU coreutils. Each command supports the options its
//! usage line lists, nothing more.

pub mod args;
pub mod fmt;
pub mod grep;
pub mod ls;
pub mod wc;

use std::io;

/// An I/O error as a short message, without std's "(os error N)" suffix.
#[must_use]
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Runs a program body: applies the working directory from `PWD`, calls
/// `body` with the arguments after `argv[0]`, prints `NAME: message` for an
/// error (status 1 — or 2 for a usage error starting with "usage:"), and
/// exits with the status. A broken pipe on stdout ends the program quietly.
pub fn run(name: &str, body: fn(&[String]) -> Result<i32, String>) -> ! {
    if let Err(e) = hypha_abi::inherit_cwd() {
        eprintln!("{name}: cannot enter $PWD: {}", describe(&e));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match body(&args) {
        Ok(code) => code,
        Err(msg) if msg.starts_with("usage:") => {
            eprintln!("{msg}");
            2
        }
        Err(msg) if msg.contains("Broken pipe") => 1,
        Err(msg) => {
            eprintln!("{name}: {msg}");
            1
        }
    };
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_strips_os_error() {
        let e = io::Error::from_raw_os_error(2);
        assert!(!describe(&e).contains("os error"));
        let e = io::Error::other("plain");
        assert_eq!(describe(&e), "plain");
    }
}
