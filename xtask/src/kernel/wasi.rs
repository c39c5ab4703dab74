//! The wasi-testsuite inside the kernel (`wasi[kernel]`): the prebuilt
//! Rust preview 1 tests (`../shared/wasi-testsuite/rust/wasm32-wasip1`,
//! read in place; `HYPHA_WASI_TESTSUITE` overrides the directory) are
//! packed into an initrd of their own (`TARGET/initrd-wasi.tar`, never the
//! ordinary `cargo xtask run` one) and the release test kernel is booted on
//! it with `wasi.suite` (4 harts, 512 MiB, like `run`). The kernel runs
//! them (`kernel/src/wasi_suite.rs`) and prints
//! `wasi-testsuite[kernel] rust: P/T passed` and `wasi: P passed, F failed`.
//!
//! Initrd layout, under `wasi-tests/rust/`: every selected `NAME.wasm`;
//! `NAME.spec`, the test's `NAME.json` read here by the parser the host
//! runner uses too (`hypha-wasi-testsuite-spec`, which also finds the
//! tests) and rewritten in a line format the kernel parses without JSON
//! ([`encode_spec`]); and every fixture
//! directory a spec names (`root`), with its files, directories and
//! symlinks. The kernel copies a test's fixture into `/tmp` before each
//! run, so tests can write to it and never see each other's leftovers.
//! Each module's machine code is precompiled on the host and packed under
//! `lib/hypha/cache/` exactly as for `/bin` (`crate::initrd::precompile`),
//! so the kernel's module cache loads it instead of compiling: 46 tests
//! run in ~3 s of QEMU time instead of ~4 min of in-kernel Cranelift
//! (`HYPHA_WASI_KERNEL_COMPILE=1` leaves the artifacts out).
//!
//! `FILTER` (from `cargo xtask test FILTER` or `cargo xtask wasi FILTER`)
//! selects tests by name unless it matches the suite name
//! (`wasi[kernel]`: `wasi`, `kernel`, ...), which selects all of them.

use super::{boot, image};
use crate::suite::{self, SuiteResult};
use anyhow::{Context as _, Result, bail};
use hypha_wasi_testsuite_spec::{Spec, discover};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The kernel's reader of [`encode_spec`]'s format, compiled here too so
/// the host tests check the round trip.
#[cfg(test)]
#[path = "../../../kernel/src/wasi_suite/spec.rs"]
mod kernel_spec;

/// The suite's name in `cargo xtask test`'s summary.
const NAME: &str = "wasi[kernel]";
/// The subset of the wasi-testsuite the kernel runs (its directory name
/// in the initrd and in the kernel's lines).
const SUBSET: &str = "rust";
/// Longest the whole kernel run may take (each test also has its own
/// in-kernel time limit).
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// The test directory (prebuilt modules and their JSON files).
fn suite_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HYPHA_WASI_TESTSUITE") {
        return PathBuf::from(dir);
    }
    crate::workspace_root().join("../shared/wasi-testsuite/rust/wasm32-wasip1")
}

/// Packs the selected tests, boots the kernel on them and reports the
/// result (none when the filter selects no test).
pub(crate) fn test(filter: Option<&str>) -> Result<Vec<SuiteResult>> {
    println!("=== {NAME}: the wasi-testsuite ({SUBSET}) in the kernel under QEMU ===");
    let dir = suite_dir();
    let by_name = filter.filter(|filter| !NAME.contains(filter));
    // `HYPHA_WASI_KERNEL_COMPILE=1`: no artifacts, the kernel compiles
    // every module itself (the slow path, ~4 min).
    let precompiled = std::env::var_os("HYPHA_WASI_KERNEL_COMPILE").is_none_or(|value| value != "1");
    let (archive, count) = pack(&dir, by_name, precompiled)?;
    if count == 0 {
        println!("{NAME}: no test matches the filter");
        return Ok(Vec::new());
    }
    let initrd = image::target_dir().join("initrd-wasi.tar");
    std::fs::create_dir_all(image::target_dir()).context("creating the target directory")?;
    let bytes = archive.to_bytes();
    std::fs::write(&initrd, &bytes).with_context(|| format!("writing {}", initrd.display()))?;
    println!("xtask: wasi initrd {} KiB, {count} tests ({})", bytes.len() / 1024, initrd.display());
    let qemu = crate::qemu::ensure()?;
    let mut image = image::build(true, true)?;
    image.initrd = Some(initrd);
    let symbolizer = super::symbolize::Symbolizer::new(&image.kernel).ok();
    let mut result = SuiteResult::new(NAME);
    let command = boot::qemu_command(&qemu, &image, 4, "512M", "wasi.suite");
    let started = Instant::now();
    let mut seen = false;
    let mut in_banner = true;
    let ending = boot::boot_and_watch(command, symbolizer.as_ref(), RUN_TIMEOUT, |line| {
        // OpenSBI's banner and the boot log stay out of the way.
        in_banner &= !line.starts_with("hypha-boot");
        if in_banner {
            return;
        }
        if ["PASS ", "FAIL ", "wasi", "panicked", "    at ", "  #"].iter().any(|start| line.starts_with(start))
            || line.contains("panicked")
        {
            println!("{line}");
        }
        if let Some((parsed, passed, failed, skipped)) = suite::parse_counts_line(line)
            && parsed == "wasi"
        {
            (result.passed, result.failed, result.skipped) = (passed, failed, skipped);
            seen = true;
        }
    })?;
    println!("{NAME}: kernel run took {:.1} s", started.elapsed().as_secs_f64());
    if !seen {
        result.error = Some(format!("the kernel ended ({ending:?}) without its `wasi: N passed, N failed` line"));
    } else if result.passed + result.failed != u64::try_from(count).unwrap_or(u64::MAX) {
        result.error = Some(format!("the kernel ran {} tests of the {count} packed", result.passed + result.failed));
    } else if ending != boot::Ending::Exited(0) && result.failed == 0 {
        result.error = Some(format!("the kernel ended with {ending:?}"));
    }
    Ok(vec![result])
}

/// Escapes a value for [`encode_spec`]: backslash, newline and carriage
/// return become `\\`, `\n`, `\r`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// The kernel's form of a spec (`kernel/src/wasi_suite.rs`, `parse_spec`):
/// one `KEY VALUE` line per field, values escaped ([`escape`]); `arg` and
/// `env` (`NAME=value`) repeat in order.
fn encode_spec(spec: &Spec) -> String {
    let mut out = String::from("# a wasi-testsuite test's JSON, rewritten by xtask for the kernel\n");
    for arg in &spec.args {
        out.push_str(&format!("arg {}\n", escape(arg)));
    }
    for (key, value) in &spec.env {
        out.push_str(&format!("env {}\n", escape(&format!("{key}={value}"))));
    }
    if let Some(root) = &spec.root {
        out.push_str(&format!("root {}\n", escape(root)));
    }
    out.push_str(&format!("exit_code {}\n", spec.exit_code));
    out.push_str(&format!("stdout {}\n", escape(&spec.stdout)));
    out.push_str(&format!("stderr {}\n", escape(&spec.stderr)));
    out
}

/// The archive of every test in `dir` whose name contains `filter` (all
/// without one), and how many tests it holds; with the modules' machine
/// code precompiled on the host when `precompiled` (as `/bin` is in the
/// ordinary initrd: `crate::initrd::precompile`).
fn pack(dir: &Path, filter: Option<&str>, precompiled: bool) -> Result<(crate::initrd::Archive, usize)> {
    let base = format!("wasi-tests/{SUBSET}");
    let mut archive = crate::initrd::Archive::new();
    archive.add_dir(&base)?;
    let cases = discover(dir, filter.unwrap_or(""))?;
    let mut roots = BTreeSet::new();
    let mut modules = BTreeMap::new();
    for case in &cases {
        let name = &case.name;
        let bytes = std::fs::read(&case.wasm).with_context(|| format!("reading {}", case.wasm.display()))?;
        if precompiled {
            modules.insert(format!("wasi-testsuite-{name}"), bytes.clone());
        }
        archive.add_file(&format!("{base}/{name}.wasm"), bytes, 0o644)?;
        if let Some(root) = &case.spec.root {
            roots.insert(root.clone());
        }
        archive.add_file(&format!("{base}/{name}.spec"), encode_spec(&case.spec).into_bytes(), 0o644)?;
    }
    for root in roots {
        let relative = root.trim_end_matches('/');
        if relative.is_empty() || relative.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            bail!("fixture directory `{root}` is not a plain relative path (the kernel copies it from the initrd)");
        }
        add_tree(&mut archive, &dir.join(relative), &format!("{base}/{relative}"))?;
    }
    if !modules.is_empty() {
        for (path, contents) in crate::initrd::precompile(&modules)? {
            archive.add_file(&path, contents, 0o644)?;
        }
    }
    Ok((archive, cases.len()))
}

/// Adds the directory `from` (files, directories, symlinks) as `to`.
fn add_tree(archive: &mut crate::initrd::Archive, from: &Path, to: &str) -> Result<()> {
    archive.add_dir(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from).with_context(|| format!("reading fixture {}", from.display()))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().into_string().map_err(|name| anyhow::anyhow!("{}: {name:?} is not UTF-8", from.display()))?;
        let inner = format!("{to}/{name}");
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let target = std::fs::read_link(&path)?;
            let target = target.to_str().with_context(|| format!("{}: the link target is not UTF-8", path.display()))?;
            archive.add_symlink(&inner, target)?;
        } else if kind.is_dir() {
            add_tree(archive, &path, &inner)?;
        } else {
            let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            archive.add_file(&inner, bytes, 0o644)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_encode_one_escaped_line_per_field() {
        let spec = Spec {
            args: vec!["two words".into(), "back\\slash".into()],
            env: vec![("K".into(), "line\nbreak\r".into())],
            root: Some("fs-tests.dir".into()),
            exit_code: -1,
            stdout: String::new(),
            stderr: "err".into(),
        };
        let text = encode_spec(&spec);
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "arg two words",
                "arg back\\\\slash",
                "env K=line\\nbreak\\r",
                "root fs-tests.dir",
                "exit_code -1",
                "stdout ",
                "stderr err"
            ]
        );
    }

    #[test]
    fn the_kernel_reads_back_what_xtask_writes() {
        let spec = Spec {
            args: vec!["two words".into(), "back\\slash\\n".into(), String::new()],
            env: vec![("K".into(), "line\nbreak\r=x".into()), ("E".into(), String::new())],
            root: Some("fs-tests.dir".into()),
            exit_code: -7,
            stdout: "out # not a comment".into(),
            stderr: "\\".into(),
        };
        let read = kernel_spec::parse_spec(&encode_spec(&spec)).unwrap();
        assert_eq!(read.args, spec.args);
        assert_eq!(read.env, spec.env);
        assert_eq!(read.root, spec.root);
        assert_eq!((read.exit_code, read.stdout.as_str(), read.stderr.as_str()), (-7, spec.stdout.as_str(), "\\"));
        let default = kernel_spec::parse_spec(&encode_spec(&Spec::default())).unwrap();
        assert_eq!(default, kernel_spec::Spec::default());
        // The kernel refuses what xtask never writes.
        assert!(kernel_spec::parse_spec("colour blue\n").is_err());
        assert!(kernel_spec::parse_spec("env NOEQUALS\n").is_err());
        assert!(kernel_spec::parse_spec("exit_code x\n").is_err());
        assert!(kernel_spec::unescape("a\\tb").is_err());
        assert!(kernel_spec::unescape("trailing\\").is_err());
    }

    #[test]
    fn the_real_suite_packs_with_its_fixture() {
        let dir = suite_dir();
        assert!(dir.is_dir(), "{} (the shared wasi-testsuite) is missing", dir.display());
        let (archive, count) = pack(&dir, Some("close_preopen"), false).unwrap();
        assert_eq!(count, 1);
        let bytes = archive.to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        for expected in ["wasi-tests/rust/close_preopen.wasm", "wasi-tests/rust/close_preopen.spec", "wasi-tests/rust/fs-tests.dir/"] {
            assert!(text.contains(expected), "{expected} missing");
        }
        assert_eq!(pack(&dir, Some("no test is called this"), false).unwrap().1, 0);
    }
}
