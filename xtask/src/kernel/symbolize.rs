//! Turning the kernel's `backtrace: #N 0x…` lines (link-time addresses)
//! into `function at file:line` with the kernel ELF's DWARF.

use anyhow::{Result, anyhow};
use std::path::Path;

/// Symbolises addresses of one kernel ELF.
pub(crate) struct Symbolizer {
    /// Boxed: the loader is several KiB, and callers keep more than one.
    loader: Box<addr2line::Loader>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Symbolizer")
    }
}

/// The address in a `backtrace: #N 0x…` line.
pub(crate) fn backtrace_address(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim().strip_prefix("backtrace: #")?;
    let (index, address) = rest.split_once(' ')?;
    let address = u64::from_str_radix(address.trim().strip_prefix("0x")?, 16).ok()?;
    Some((index.parse().ok()?, address))
}

impl Symbolizer {
    pub(crate) fn new(elf: &Path) -> Result<Self> {
        let loader = addr2line::Loader::new(elf).map_err(|error| anyhow!("reading {}: {error}", elf.display()))?;
        Ok(Self { loader: Box::new(loader) })
    }

    /// `function at file:line` lines (inlined frames first) for a return
    /// address; looks up `address - 1` so the call, not the next line, is named.
    pub(crate) fn describe(&self, return_address: u64) -> Vec<String> {
        let probe = return_address.saturating_sub(1);
        let mut lines = Vec::new();
        if let Ok(mut frames) = self.loader.find_frames(probe) {
            while let Ok(Some(frame)) = frames.next() {
                let function = frame
                    .function
                    .as_ref()
                    .and_then(|name| name.demangle().ok().map(|name| strip_hash(&name).to_owned()))
                    .unwrap_or_else(|| "<unknown>".to_owned());
                let location = frame.location.map_or_else(
                    || "??".to_owned(),
                    |location| format!("{}:{}", location.file.unwrap_or("??"), location.line.unwrap_or(0)),
                );
                lines.push(format!("{function} at {location}"));
            }
        }
        if lines.is_empty() {
            let symbol = self.loader.find_symbol(probe).map_or_else(|| "<unknown>".to_owned(), |name| {
                addr2line::demangle_auto(name.into(), None).into_owned()
            });
            lines.push(format!("{} at ??", strip_hash(&symbol)));
        }
        lines
    }

    /// The symbolised form of `line` if it is a backtrace line.
    pub(crate) fn symbolize_line(&self, line: &str) -> Option<String> {
        let (index, address) = backtrace_address(line)?;
        let described = self.describe(address);
        let mut text = String::new();
        for (position, description) in described.iter().enumerate() {
            if position == 0 {
                text.push_str(&format!("  #{index:<2} {address:#018x} {description}"));
            } else {
                text.push_str(&format!("\n      (inlined into) {description}"));
            }
        }
        Some(text)
    }
}

/// Removes a trailing `::h0123456789abcdef` from a demangled name.
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => head,
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtrace_lines_parse() {
        assert_eq!(backtrace_address("backtrace: #3 0xffffffff80001234"), Some((3, 0xffff_ffff_8000_1234)));
        assert_eq!(backtrace_address("backtrace: #x 0x1"), None);
        assert_eq!(backtrace_address("test foo ... ok"), None);
        assert_eq!(strip_hash("core::panicking::panic::h0123456789abcdef"), "core::panicking::panic");
        assert_eq!(strip_hash("a::hb"), "a::hb");
    }
}
