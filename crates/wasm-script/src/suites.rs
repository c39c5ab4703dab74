//! Which spec files the suites run and skip, and where the shared test
//! suite lives: `crates/wasm-spec/suites.toml` (the 3.0 files next to all
//! of `core-wasm2/`) and `skip.toml` (`"suite/file.wast" = "reason"`),
//! read the same way by the host runner (`hypha-wasm-spec`) and the
//! converter for the kernel (`wast2script`). Host only (`std`).

extern crate std;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::{Path, PathBuf};

const SUITES: &str = include_str!("../../wasm-spec/suites.toml");
const SKIP: &str = include_str!("../../wasm-spec/skip.toml");

/// The shared WebAssembly test suite: `$HYPHA_WASM_TESTSUITE`, else
/// `shared/wasm-testsuite` beside the project root.
#[must_use]
pub fn suite_root() -> PathBuf {
    std::env::var_os("HYPHA_WASM_TESTSUITE")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasm-testsuite"), PathBuf::from)
}

/// The quoted `.wast` names in `suites.toml`: the files of `core/` the
/// 3.0 suite runs.
#[must_use]
pub fn core3_files() -> Vec<String> {
    SUITES
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .filter(|s| s.ends_with(".wast"))
        .collect()
}

/// The `"suite/file.wast" = "reason"` lines of `skip.toml`, as
/// (`suite/file.wast`, reason).
#[must_use]
pub fn skip_list() -> Vec<(String, String)> {
    SKIP.lines()
        .filter_map(|l| {
            let (k, v) = l.trim().split_once('=')?;
            Some((k.trim().trim_matches('"').to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_parse() {
        let files = core3_files();
        assert!(!files.is_empty() && files.iter().all(|f| f.ends_with(".wast") && !f.contains('/')), "{files:?}");
        for (file, reason) in skip_list() {
            assert!(file.contains('/') && file.ends_with(".wast"), "{file}");
            assert!(!reason.is_empty(), "{file} is skipped without a reason");
        }
    }
}
