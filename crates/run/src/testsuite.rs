//! The wasi-testsuite harness: discover the tests of one suite directory
//! (`*.wasm` + optional `<test>.json`), run each on a fresh copy of its
//! fixture directory, and check exit status and output the way upstream's
//! runner does (legacy JSON keys: `args`, `env`, `root`, `exit_code`,
//! `stdout`, `stderr`; output is compared by prefix).

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hypha_wasi::host::{MemoryInput, MemoryOutput};
use hypha_wasm::Engine;
use serde_json::Value;

use crate::cli::DirMap;
use crate::runner::{self, Outcome, Stdio};

/// What a test expects, from its JSON file (defaults when absent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spec {
    /// argv\[1..\].
    pub args: Vec<String>,
    /// The guest environment, exactly.
    pub env: Vec<(String, String)>,
    /// Fixture directory (relative to the test's directory) preopened as `/`.
    pub root: Option<PathBuf>,
    /// Expected exit status.
    pub exit_code: i32,
    /// Expected prefix of stdout.
    pub stdout: String,
    /// Expected prefix of stderr.
    pub stderr: String,
}

/// A malformed test specification.
#[derive(Debug)]
pub enum SpecError {
    /// Not JSON.
    Json(serde_json::Error),
    /// A key has the wrong type.
    Field(&'static str),
    /// The operation-based format, which this runner does not implement.
    Operations,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::Json(e) => write!(f, "bad JSON: {e}"),
            SpecError::Field(k) => write!(f, "key `{k}` has the wrong type"),
            SpecError::Operations => f.write_str("operation-based specs are not supported"),
        }
    }
}

impl std::error::Error for SpecError {}

fn string(v: &Value, key: &'static str) -> Result<String, SpecError> {
    v.as_str().map(str::to_owned).ok_or(SpecError::Field(key))
}

/// Parse a legacy JSON test specification.
///
/// # Errors
/// [`SpecError`] for malformed JSON, wrongly typed keys or the
/// operation-based format.
pub fn parse_spec(json: &str) -> Result<Spec, SpecError> {
    let v: Value = serde_json::from_str(json).map_err(SpecError::Json)?;
    let obj = v.as_object().ok_or(SpecError::Field("<top level>"))?;
    if obj.contains_key("operations") {
        return Err(SpecError::Operations);
    }
    let mut spec = Spec::default();
    if let Some(a) = obj.get("args") {
        let list = a.as_array().ok_or(SpecError::Field("args"))?;
        spec.args = list.iter().map(|x| string(x, "args")).collect::<Result<_, _>>()?;
    }
    if let Some(e) = obj.get("env") {
        let map = e.as_object().ok_or(SpecError::Field("env"))?;
        spec.env = map.iter().map(|(k, v)| Ok((k.clone(), string(v, "env")?))).collect::<Result<_, SpecError>>()?;
    }
    match obj.get("root") {
        None | Some(Value::Null) => {}
        Some(r) => spec.root = Some(PathBuf::from(string(r, "root")?)),
    }
    if let Some(c) = obj.get("exit_code") {
        spec.exit_code = c.as_i64().and_then(|c| i32::try_from(c).ok()).ok_or(SpecError::Field("exit_code"))?;
    }
    if let Some(s) = obj.get("stdout") {
        spec.stdout = string(s, "stdout")?;
    }
    if let Some(s) = obj.get("stderr") {
        spec.stderr = string(s, "stderr")?;
    }
    Ok(spec)
}

/// One test: its name, module and specification.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// File stem of the module.
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
    /// The specification.
    pub spec: Spec,
}

/// Every test in `dir`, sorted by name, whose name contains `filter`.
///
/// # Errors
/// I/O errors reading the directory or a spec; a malformed spec is an
/// `InvalidData` error naming the file.
pub fn discover(dir: &Path, filter: &str) -> io::Result<Vec<TestCase>> {
    let mut cases = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else { continue };
        if !name.contains(filter) {
            continue;
        }
        let json = path.with_extension("json");
        let spec = if json.exists() {
            parse_spec(&fs::read_to_string(&json)?)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", json.display())))?
        } else {
            Spec::default()
        };
        cases.push(TestCase { name, wasm: path, spec });
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

/// Remove every `*.cleanup` entry under `dir` (files, symlinks, whole
/// directories), never following symlinks. Returns how many were removed.
///
/// # Errors
/// I/O errors other than an entry vanishing meanwhile.
pub fn remove_cleanup(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if path.extension().is_some_and(|e| e == "cleanup") {
            let r = if ty.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            match r {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else if ty.is_dir() {
            removed += remove_cleanup(&path)?;
        }
    }
    Ok(removed)
}

/// Copy the tree `src` to `dst` (which must not exist): directories,
/// regular files and symlinks (as symlinks).
///
/// # Errors
/// Any I/O error.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    fs::create_dir(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_tree(&from, &to)?;
        } else if ty.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from)?, &to)?;
        } else {
            fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// A scratch directory removed (with everything in it) on drop.
#[derive(Debug)]
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// A fresh copy of `fixture` under the system temp directory.
    ///
    /// # Errors
    /// I/O errors creating or copying.
    pub fn copy_of(fixture: &Path) -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("hypha-wasi-testsuite-{}-{n}", std::process::id()));
        if path.exists() {
            fs::remove_dir_all(&path)?;
        }
        let dir = ScratchDir { path };
        copy_tree(fixture, &dir.path)?;
        Ok(dir)
    }

    /// Where it is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp dir is harmless and reported nowhere.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// How one test went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every expectation met.
    Pass,
    /// What differed.
    Fail(String),
}

/// What the program did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// How it ended.
    pub outcome: Outcome,
    /// Everything written to fd 1.
    pub stdout: Vec<u8>,
    /// Everything written to fd 2.
    pub stderr: Vec<u8>,
}

/// Compare what happened with `spec`.
#[must_use]
pub fn check(spec: &Spec, seen: &Observed) -> Verdict {
    let mut problems = Vec::new();
    match &seen.outcome {
        Outcome::Exit(c) if *c == spec.exit_code => {}
        Outcome::Exit(c) => problems.push(format!("exit code {c}, expected {}", spec.exit_code)),
        Outcome::Trap(t) => problems.push(format!("trapped: {t}")),
    }
    for (name, want, got) in [("stdout", &spec.stdout, &seen.stdout), ("stderr", &spec.stderr, &seen.stderr)] {
        if !got.starts_with(want.as_bytes()) {
            problems.push(format!("{name} {:?} does not start with {want:?}", String::from_utf8_lossy(got)));
        }
    }
    if problems.is_empty() { Verdict::Pass } else { Verdict::Fail(problems.join("; ")) }
}

/// Run one test: a fresh copy of the fixture preopened as `/`, empty
/// stdin, captured stdout/stderr, `*.cleanup` removed before and after.
#[must_use]
pub fn run_case(engine: &Engine, case: &TestCase) -> Verdict {
    match try_run_case(engine, case) {
        Ok(seen) => match check(&case.spec, &seen) {
            // Show the start of what the guest said on stderr, to diagnose.
            Verdict::Fail(m) if !seen.stderr.is_empty() => {
                let said = String::from_utf8_lossy(&seen.stderr);
                let excerpt: String = said.chars().take(400).collect();
                Verdict::Fail(format!("{m}; guest stderr: {excerpt:?}"))
            }
            v => v,
        },
        Err(e) => Verdict::Fail(e),
    }
}

fn try_run_case(engine: &Engine, case: &TestCase) -> Result<Observed, String> {
    let module = runner::load(engine, &case.wasm).map_err(|e| e.to_string())?;
    let scratch = match &case.spec.root {
        Some(root) => {
            let base = case.wasm.parent().unwrap_or(Path::new("."));
            let dir = ScratchDir::copy_of(&base.join(root)).map_err(|e| format!("fixture: {e}"))?;
            remove_cleanup(dir.path()).map_err(|e| format!("cleanup: {e}"))?;
            Some(dir)
        }
        None => None,
    };
    let dirs: Vec<DirMap> =
        scratch.iter().map(|d| DirMap { host: d.path().to_path_buf(), guest: "/".to_owned() }).collect();
    let stdout = MemoryOutput::new();
    let stderr = MemoryOutput::new();
    let stdio =
        Stdio { stdin: Box::new(MemoryInput::new(Vec::new())), stdout: Box::new(stdout.clone()), stderr: Box::new(stderr.clone()) };
    let mut argv = vec![case.wasm.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())];
    argv.extend(case.spec.args.iter().cloned());
    let ctx = runner::wasi_ctx(&dirs, &case.spec.env, &argv, stdio).map_err(|e| e.to_string())?;
    let outcome = runner::run(engine, &module, ctx, None).map_err(|e| e.to_string())?;
    if let Some(dir) = &scratch {
        remove_cleanup(dir.path()).map_err(|e| format!("cleanup: {e}"))?;
    }
    Ok(Observed { outcome, stdout: stdout.contents(), stderr: stderr.contents() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults_and_keys() {
        assert_eq!(parse_spec("{}").unwrap(), Spec::default());
        let s = parse_spec(r#"{"root": "fs-tests.dir", "args": ["a", "b"], "env": {"K": "v"}, "exit_code": 3, "stdout": "o", "stderr": "e"}"#)
            .unwrap();
        assert_eq!(s.root, Some(PathBuf::from("fs-tests.dir")));
        assert_eq!(s.args, ["a", "b"]);
        assert_eq!(s.env, [("K".to_owned(), "v".to_owned())]);
        assert_eq!((s.exit_code, s.stdout.as_str(), s.stderr.as_str()), (3, "o", "e"));
        assert!(matches!(parse_spec(r#"{"args": "x"}"#), Err(SpecError::Field("args"))));
        assert!(matches!(parse_spec(r#"{"operations": []}"#), Err(SpecError::Operations)));
        assert!(matches!(parse_spec("nope"), Err(SpecError::Json(_))));
    }

    #[test]
    fn check_compares_exit_and_prefixes() {
        let spec = Spec { exit_code: 1, stdout: "he".into(), ..Spec::default() };
        let seen = Observed { outcome: Outcome::Exit(1), stdout: b"hello".to_vec(), stderr: b"x".to_vec() };
        assert_eq!(check(&spec, &seen), Verdict::Pass);
        let wrong = Observed { outcome: Outcome::Exit(0), ..seen.clone() };
        assert!(matches!(check(&spec, &wrong), Verdict::Fail(m) if m.contains("exit code 0")));
        let short = Observed { stdout: b"h".to_vec(), ..seen };
        assert!(matches!(check(&spec, &short), Verdict::Fail(m) if m.contains("stdout")));
    }

    #[test]
    fn cleanup_and_copy() {
        let src = std::env::temp_dir().join(format!("hypha-run-cleanup-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(src.join("sub/d.cleanup/inner")).unwrap();
        fs::write(src.join("keep"), b"k").unwrap();
        fs::write(src.join("f.cleanup"), b"x").unwrap();
        fs::write(src.join("sub/g.cleanup"), b"x").unwrap();
        std::os::unix::fs::symlink("nowhere", src.join("l.cleanup")).unwrap();
        let copy = ScratchDir::copy_of(&src).unwrap();
        assert_eq!(remove_cleanup(copy.path()).unwrap(), 4);
        assert!(copy.path().join("keep").exists());
        assert!(copy.path().join("sub").is_dir());
        assert_eq!(fs::read_dir(copy.path().join("sub")).unwrap().count(), 0);
        // The source is untouched.
        assert!(src.join("f.cleanup").exists());
        let copied = copy.path().to_path_buf();
        drop(copy);
        assert!(!copied.exists());
        fs::remove_dir_all(&src).unwrap();
    }
}
