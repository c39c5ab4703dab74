//! A suite directory's tests ([`discover`]): every `NAME.wasm` with its
//! `NAME.json` parsed ([`crate::parse_spec`]), or the default spec when
//! the test has none.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::spec::{Spec, SpecError, parse_spec};

/// One test: its name, module and specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The module's file stem.
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
    /// The specification (`NAME.json` next to the module, or the default).
    pub spec: Spec,
}

/// Why a suite directory could not be listed.
#[derive(Debug)]
pub enum DiscoverError {
    /// Reading the directory itself failed.
    ReadDir {
        /// The suite directory.
        dir: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A module's file name is not UTF-8 (tests are selected and reported
    /// by name).
    NotUtf8(PathBuf),
    /// Reading a test's `NAME.json` failed.
    ReadSpec {
        /// The JSON file.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// A test's `NAME.json` is malformed or unsupported.
    Spec {
        /// The JSON file.
        path: PathBuf,
        /// What is wrong with it.
        source: SpecError,
    },
}

// === impl DiscoverError ===

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::ReadDir { dir, source } => write!(f, "reading {} (the wasi-testsuite): {source}", dir.display()),
            DiscoverError::NotUtf8(path) => write!(f, "{}: the test's name is not UTF-8", path.display()),
            DiscoverError::ReadSpec { path, source } => write!(f, "reading {}: {source}", path.display()),
            DiscoverError::Spec { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for DiscoverError {}

// === discovery ===

/// Every test in `dir` whose name contains `filter` (an empty filter
/// selects all), sorted by name: each `NAME.wasm` with its `NAME.json`
/// parsed, or [`Spec::default`] when there is none.
///
/// # Errors
/// [`DiscoverError`] when the directory or a selected test's JSON cannot
/// be read, a module's name is not UTF-8, or a selected test's JSON is
/// malformed (naming the file).
pub fn discover(dir: &Path, filter: &str) -> Result<Vec<TestCase>, DiscoverError> {
    let read_dir = |source| DiscoverError::ReadDir { dir: dir.to_path_buf(), source };
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_dir)? {
        let wasm = entry.map_err(read_dir)?.path();
        if wasm.extension().is_none_or(|extension| extension != "wasm") {
            continue;
        }
        let name = wasm.file_stem().and_then(|stem| stem.to_str()).ok_or_else(|| DiscoverError::NotUtf8(wasm.clone()))?.to_owned();
        if !name.contains(filter) {
            continue;
        }
        let json = wasm.with_extension("json");
        let spec = if json.exists() {
            let text = std::fs::read_to_string(&json).map_err(|source| DiscoverError::ReadSpec { path: json.clone(), source })?;
            parse_spec(&text).map_err(|source| DiscoverError::Spec { path: json, source })?
        } else {
            Spec::default()
        };
        cases.push(TestCase { name, wasm, spec });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A fresh directory under the system temp directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let path = std::env::temp_dir().join(format!("hypha-wasi-testsuite-spec-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn lists_modules_sorted_with_their_specs() {
        let dir = TempDir::new("list");
        fs::write(dir.0.join("b_test.wasm"), b"").unwrap();
        fs::write(dir.0.join("b_test.json"), r#"{"exit_code": 2, "root": "fixture.dir"}"#).unwrap();
        fs::write(dir.0.join("a_test.wasm"), b"").unwrap();
        fs::write(dir.0.join("other.json"), "not even JSON").unwrap();
        fs::write(dir.0.join("notes.txt"), b"").unwrap();
        fs::create_dir(dir.0.join("fixture.dir")).unwrap();
        let cases = discover(&dir.0, "").unwrap();
        let names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
        assert_eq!(names, ["a_test", "b_test"]);
        assert_eq!(cases[0].spec, Spec::default());
        assert_eq!(cases[0].wasm, dir.0.join("a_test.wasm"));
        assert_eq!(cases[1].spec, Spec { exit_code: 2, root: Some("fixture.dir".into()), ..Spec::default() });
        let filtered = discover(&dir.0, "b_").unwrap();
        assert_eq!(filtered.len(), 1);
        assert_eq!(filtered[0].name, "b_test");
        assert!(discover(&dir.0, "no test is called this").unwrap().is_empty());
    }

    #[test]
    fn a_bad_spec_names_its_file_unless_filtered_out() {
        let dir = TempDir::new("bad");
        fs::write(dir.0.join("good.wasm"), b"").unwrap();
        fs::write(dir.0.join("bad.wasm"), b"").unwrap();
        fs::write(dir.0.join("bad.json"), r#"{"operations": []}"#).unwrap();
        let error = discover(&dir.0, "").unwrap_err();
        assert!(matches!(&error, DiscoverError::Spec { source: SpecError::Operations, .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("bad.json") && message.ends_with("operation-based specs are not supported"), "{message}");
        // A test the filter leaves out is not read.
        assert_eq!(discover(&dir.0, "good").unwrap().len(), 1);
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = TempDir::new("missing");
        let missing = dir.0.join("nowhere");
        let error = discover(&missing, "").unwrap_err();
        assert!(matches!(&error, DiscoverError::ReadDir { dir, .. } if *dir == missing), "{error:?}");
        assert!(error.to_string().contains("nowhere"));
    }

    #[cfg(unix)]
    #[test]
    fn a_module_name_that_is_not_utf8_is_an_error() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = TempDir::new("utf8");
        let path = dir.0.join(std::ffi::OsStr::from_bytes(b"bad\xff.wasm"));
        if fs::write(&path, b"").is_err() {
            // Some file systems refuse such names; nothing to test there.
            return;
        }
        assert!(matches!(discover(&dir.0, ""), Err(DiscoverError::NotUtf8(_))));
    }

    #[test]
    fn every_spec_of_the_shared_suite_parses() {
        // crates/wasi-testsuite-spec -> workspace root -> ../shared
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/wasi-testsuite/rust/wasm32-wasip1");
        assert!(dir.is_dir(), "{} (the shared wasi-testsuite) is missing", dir.display());
        let cases = discover(&dir, "").unwrap();
        assert_eq!(cases.len(), 46);
        assert!(cases.iter().any(|case| case.spec.root.as_deref() == Some("fs-tests.dir")));
    }
}
