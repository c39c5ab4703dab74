//! The wasi-testsuite harness: run each test of one suite directory on a
//! fresh copy of its fixture directory, and check exit status and output
//! the way upstream's runner does (output is compared by prefix).
//!
//! Finding the tests (`*.wasm` + optional `<test>.json`) and reading
//! their specifications (legacy JSON keys: `args`, `env`, `root`,
//! `exit_code`, `stdout`, `stderr`) is `hypha-wasi-testsuite-spec`'s,
//! shared with xtask's in-kernel run; its items are re-exported here.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hypha_wasi::host::{MemoryInput, MemoryOutput};
use hypha_wasm::Engine;
pub use hypha_wasi_testsuite_spec::{DiscoverError, Spec, SpecError, TestCase, discover, parse_spec};

use crate::cli::DirMap;
use crate::runner::{self, Outcome, Stdio};

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
