//! The initrd: every program of the `user/` workspace (built for
//! `wasm32-wasip1`) under `/bin/NAME`, plus `/etc/motd`, packed as a POSIX
//! ustar archive that QEMU loads with `-initrd` and the kernel mounts at `/`.
//! Each program's machine code, precompiled on the host for the process
//! engines of the machines xtask boots, is under
//! `/lib/hypha/cache/<engine>/<sha256>` ([`precompile`]; the kernel loads it
//! instead of compiling, see `kernel/src/proc/cache.rs`).
//!
//! Every regular file carries its SHA-256 in a pax record
//! (`HYPHA.sha256`, [`SHA256_KEY`]): the kernel takes it as the file's
//! identity in its module cache, so spawning `/bin/sh` at boot hashes
//! nothing (the archive is part of the boot image, as trusted as the
//! kernel; an in-kernel test checks the records against the bytes).
//!
//! The archive is deterministic: entries sorted by path, every parent
//! directory listed before its contents, owner 0:0, one fixed mtime
//! ([`MTIME`]). The tar writer is here (small, and tested on the host); the
//! kernel's reader is in `kernel/src/fs/`.
//!
//! Not here: anything the kernel does with the files.

use anyhow::{Context as _, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use std::process::{Command, Stdio};

/// The user programs' target (the `user/` workspace's only one).
const USER_TARGET: &str = "wasm32-wasip1";
/// Modification time of every entry (seconds since the epoch): fixed, so
/// the same inputs give the same archive byte for byte.
pub(crate) const MTIME: u64 = 0;
/// `/etc/motd`.
const MOTD: &str = "Welcome to Hypha: a WebAssembly-first microkernel. Programs are in /bin; /tmp is writable.\n";

/// Builds the `user/` workspace and packs it, with `extra` programs
/// (`cargo xtask run --add`), into `TARGET/NAME.tar` (`name` keeps test and
/// run archives apart) and returns its path. An extra program named like a
/// built one replaces it.
///
/// # Errors
///
/// The user build failing, an extra program that is not a readable
/// WebAssembly module or has no usable name, or an I/O error.
pub(crate) fn build(name: &str, extra: &[PathBuf]) -> Result<PathBuf> {
    // The extra programs first: a bad path fails before the user build.
    let mut extras = Vec::new();
    for path in extra {
        extras.push((program_name(path)?, read_module(path)?));
    }
    let mut programs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for path in build_userland()? {
        programs.insert(program_name(&path)?, read_module(&path)?);
    }
    for (name, contents) in extras {
        if programs.contains_key(&name) {
            eprintln!("xtask: --add replaces the built /bin/{name}");
        }
        programs.insert(name, contents);
    }
    let count = programs.len();
    let mut archive = Archive::new();
    for (name, contents) in &programs {
        archive.add_file(&format!("bin/{name}"), contents.clone(), 0o755)?;
    }
    archive.add_file("etc/motd", MOTD.as_bytes().to_vec(), 0o644)?;
    for (path, contents) in precompile(&programs)? {
        archive.add_file(&path, contents, 0o644)?;
    }
    let bytes = archive.to_bytes();
    let out = crate::kernel::target_dir().join(format!("{name}.tar"));
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new("."))).context("creating the target directory")?;
    // Only rewrite when the contents change, so the file's own mtime means something.
    if std::fs::read(&out).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    }
    eprintln!("xtask: initrd {} KiB, {count} programs in /bin ({})", bytes.len() / 1024, out.display());
    Ok(out)
}

/// `cargo build --release --target wasm32-wasip1` in `user/`, with its
/// own target directory (`TARGET/user`); returns every program it built.
fn build_userland() -> Result<Vec<PathBuf>> {
    let user = crate::workspace_root().join("user");
    let target = crate::kernel::target_dir().join("user");
    let mut command = Command::new(env!("CARGO"));
    command
        .current_dir(&user)
        .env("CARGO_TARGET_DIR", &target)
        // Flags meant for the root workspace's riscv64 builds do not apply here.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--release", "--workspace", "--target", USER_TARGET, "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let output = command.output().context("running cargo build in user/")?;
    if !output.status.success() {
        bail!("building the user programs (user/, {USER_TARGET}) failed ({})", output.status);
    }
    let mut programs = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if message["reason"] == "compiler-artifact"
            && let Some(executable) = message["executable"].as_str()
        {
            programs.push(PathBuf::from(executable));
        }
    }
    if programs.is_empty() {
        bail!("building user/ produced no programs");
    }
    Ok(programs)
}

/// The process-engine variants of the machines xtask boots (see
/// `hypha_proc_engine::Machine::name`): QEMU's default `rv64` CPU has no V
/// extension; `run`, the session and the Sv48 test machine use guard
/// pages, the Sv39 test machine bounds checks.
const PRECOMPILE_MACHINES: &str = "scalar-guard,scalar-bounds";

/// Precompiles every program for [`PRECOMPILE_MACHINES`] with the host tool
/// `hypha-precompile` (crates/proc-engine) and returns the artifacts as
/// (initrd path under `lib/hypha/cache/`, contents), sorted by path. The
/// tool keeps its artifacts in `TARGET/precompile/out` (named by engine
/// fingerprint and wasm digest), so unchanged programs are not compiled
/// again; a program that does not compile for a variant just has no
/// artifact there (the kernel compiles it, and refuses it the same way).
pub(crate) fn precompile(programs: &BTreeMap<String, Vec<u8>>) -> Result<BTreeMap<String, Vec<u8>>> {
    let tool = build_precompiler()?;
    let dir = crate::kernel::target_dir().join("precompile");
    let inputs = dir.join("in");
    let out = dir.join("out");
    std::fs::create_dir_all(&inputs).with_context(|| format!("creating {}", inputs.display()))?;
    let mut files = Vec::new();
    for (name, contents) in programs {
        let path = inputs.join(format!("{name}.wasm"));
        if std::fs::read(&path).ok().as_deref() != Some(&contents[..]) {
            std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        }
        files.push(path);
    }
    let output = Command::new(&tool)
        .arg("--machines")
        .arg(PRECOMPILE_MACHINES)
        .arg(&out)
        .args(&files)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", tool.display()))?;
    if !output.status.success() {
        bail!("precompiling the programs failed ({})", output.status);
    }
    let mut artifacts = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if !line.starts_with("lib/hypha/cache/") || line.contains("..") {
            bail!("hypha-precompile printed an unexpected path `{line}`");
        }
        let contents = std::fs::read(out.join(line)).with_context(|| format!("reading the artifact {line}"))?;
        artifacts.insert(line.to_owned(), contents);
    }
    Ok(artifacts)
}

/// `cargo build --release` of the host tool `hypha-precompile`; its path.
fn build_precompiler() -> Result<PathBuf> {
    let status = Command::new(env!("CARGO"))
        .current_dir(crate::workspace_root())
        // Flags meant for the riscv64 builds do not apply to a host tool.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .args(["build", "--release", "--quiet", "--package", "hypha-proc-engine", "--features", "cli", "--bin", "hypha-precompile"])
        .status()
        .context("running cargo build for hypha-precompile")?;
    if !status.success() {
        bail!("building hypha-precompile failed ({status})");
    }
    Ok(crate::kernel::target_dir().join("release").join("hypha-precompile"))
}

/// The bytes of the WebAssembly module at `path`.
fn read_module(path: &Path) -> Result<Vec<u8>> {
    let contents = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !contents.starts_with(b"\0asm") {
        bail!("{} is not a WebAssembly module (no `\\0asm` header)", path.display());
    }
    Ok(contents)
}

/// `/bin` name of a program file: its stem (`path/to/hello.wasm` → `hello`).
fn program_name(path: &Path) -> Result<String> {
    let stem = path
        .file_stem()
        .and_then(|stem| stem.to_str())
        .with_context(|| format!("{} has no UTF-8 file name", path.display()))?;
    if stem.is_empty() || stem.starts_with('.') || stem.contains(['\0', '/', '\\']) || stem.len() > 64 {
        bail!("{}: `{stem}` cannot be a program name in /bin", path.display());
    }
    Ok(stem.to_owned())
}

// === impl Archive ===

/// Why an entry cannot be stored in a ustar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TarError {
    /// Empty, absolute, or with an empty, `.` or `..` component, or a NUL.
    BadPath(String),
    /// No split into a ≤ 155-byte prefix and a ≤ 100-byte name exists.
    PathTooLong(String),
    /// Larger than the 11 octal digits of the size field allow (8 GiB).
    TooLarge(String),
    /// A file where a directory is needed, or a second file at one path.
    Conflict(String),
}

impl std::fmt::Display for TarError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadPath(path) => write!(f, "`{path}` is not a relative path of plain components"),
            Self::PathTooLong(path) => write!(f, "`{path}` is too long for a ustar header"),
            Self::TooLarge(path) => write!(f, "`{path}` is larger than a ustar entry can be (8 GiB)"),
            Self::Conflict(path) => write!(f, "`{path}` is both a file and a directory, or added twice"),
        }
    }
}

impl std::error::Error for TarError {}

/// One entry.
#[derive(Debug, Clone)]
enum Entry {
    Directory,
    File { contents: Vec<u8>, mode: u32 },
    Symlink { target: String },
}

/// The pax key of a regular file's SHA-256 (`hypha_vfs::tar::SHA256_KEY`,
/// which reads it).
pub(crate) const SHA256_KEY: &str = "HYPHA.sha256";

/// A ustar archive being assembled: paths (relative, `/`-separated) to
/// entries. Parent directories are added implicitly.
#[derive(Debug, Clone, Default)]
pub(crate) struct Archive {
    entries: BTreeMap<String, Entry>,
}

/// Size of a header and the unit of file data.
pub(crate) const BLOCK: usize = 512;
/// Largest size the 11-digit octal field holds.
const MAX_SIZE: u64 = 0o777_7777_7777;

impl Archive {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Adds a regular file with permission bits `mode` (and its parent
    /// directories).
    pub(crate) fn add_file(&mut self, path: &str, contents: Vec<u8>, mode: u32) -> Result<(), TarError> {
        if u64::try_from(contents.len()).map_or(true, |len| len > MAX_SIZE) {
            return Err(TarError::TooLarge(path.to_owned()));
        }
        self.insert(path, Entry::File { contents, mode: mode & 0o7777 })
    }

    /// Adds a directory (and its parents); adding one that exists is a no-op.
    pub(crate) fn add_dir(&mut self, path: &str) -> Result<(), TarError> {
        if matches!(self.entries.get(path), Some(Entry::Directory)) {
            return Ok(());
        }
        split_name(&format!("{path}/"))?;
        self.insert(path, Entry::Directory)
    }

    /// Adds a symbolic link to `target` (at most 100 bytes, the ustar
    /// link-name field), and its parent directories.
    pub(crate) fn add_symlink(&mut self, path: &str, target: &str) -> Result<(), TarError> {
        if target.is_empty() || target.len() > 100 || target.contains('\0') {
            return Err(TarError::BadPath(target.to_owned()));
        }
        self.insert(path, Entry::Symlink { target: target.to_owned() })
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<(), TarError> {
        let components = components(path)?;
        split_name(path)?;
        // Check everything first, so a refused entry adds nothing.
        let mut new_directories = Vec::new();
        for depth in 1..components.len() {
            let directory = components[..depth].join("/");
            match self.entries.get(&directory) {
                Some(Entry::Directory) => {}
                Some(_) => return Err(TarError::Conflict(directory)),
                None => {
                    split_name(&format!("{directory}/"))?;
                    new_directories.push(directory);
                }
            }
        }
        if self.entries.contains_key(path) {
            return Err(TarError::Conflict(path.to_owned()));
        }
        for directory in new_directories {
            self.entries.insert(directory, Entry::Directory);
        }
        self.entries.insert(path.to_owned(), entry);
        Ok(())
    }

    /// The archive: per entry in path order a header and the data padded
    /// to whole blocks (a regular file preceded by a pax header with its
    /// [`SHA256_KEY`]), then two zero blocks.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (path, entry) in &self.entries {
            if let Entry::File { contents, .. } = entry {
                let digest: String = Sha256::digest(contents).iter().map(|byte| format!("{byte:02x}")).collect();
                let record = pax_record(SHA256_KEY, &digest);
                if let Some(header) = header(PAX_HEADER_NAME, b'x', 0o644, record.len() as u64) {
                    out.extend_from_slice(&header);
                    out.extend_from_slice(&record);
                    out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
                }
            }
            let header = match entry {
                Entry::Directory => header(&format!("{path}/"), b'5', 0o755, 0),
                Entry::File { contents, mode } => header(path, b'0', *mode, contents.len() as u64),
                Entry::Symlink { target } => header(path, b'2', 0o777, 0).map(|mut block| {
                    block[157..157 + target.len()].copy_from_slice(target.as_bytes());
                    checksum(&mut block);
                    block
                }),
            };
            // Paths were checked when added; a header always exists here.
            let Some(header) = header else { continue };
            out.extend_from_slice(&header);
            if let Entry::File { contents, .. } = entry {
                out.extend_from_slice(contents);
                out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
            }
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }
}

/// The name of a pax extended header (readers use only its records).
const PAX_HEADER_NAME: &str = "././@PaxHeader";

/// One pax record, `"<length> <key>=<value>\n"`, where the decimal length
/// counts the whole record, itself included.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut length = body.len() + 1;
    while length.to_string().len() + body.len() != length {
        length += 1;
    }
    format!("{length}{body}").into_bytes()
}

/// The components of a relative path, each non-empty and not `.`/`..`.
fn components(path: &str) -> Result<Vec<&str>, TarError> {
    let parts: Vec<&str> = path.split('/').collect();
    if path.is_empty() || path.contains('\0') || parts.iter().any(|part| part.is_empty() || *part == "." || *part == "..") {
        return Err(TarError::BadPath(path.to_owned()));
    }
    Ok(parts)
}

/// Splits `path` into ustar's `prefix` (≤ 155 bytes) and `name` (≤ 100
/// bytes) at a `/`, the name alone when it fits.
fn split_name(path: &str) -> Result<(&str, &str), TarError> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    // The separating slash belongs to neither field; a trailing slash
    // (directories) stays in the name.
    let search = path.strip_suffix('/').unwrap_or(path);
    search
        .match_indices('/')
        .map(|(index, _)| (&path[..index], &path[index + 1..]))
        .find(|(prefix, name)| prefix.len() <= 155 && name.len() <= 100 && !name.is_empty())
        .ok_or_else(|| TarError::PathTooLong(path.to_owned()))
}

/// Writes `value` as zero-padded octal into `field`, leaving its last
/// byte NUL.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

/// A ustar header, or `None` if the path does not fit.
fn header(path: &str, typeflag: u8, mode: u32, size: u64) -> Option<[u8; BLOCK]> {
    let (prefix, name) = split_name(path).ok()?;
    let mut block = [0u8; BLOCK];
    block[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut block[100..108], u64::from(mode));
    octal(&mut block[108..116], 0); // uid
    octal(&mut block[116..124], 0); // gid
    octal(&mut block[124..136], size);
    octal(&mut block[136..148], MTIME);
    block[156] = typeflag;
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[265..269].copy_from_slice(b"root");
    block[297..301].copy_from_slice(b"root");
    block[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    checksum(&mut block);
    Some(block)
}

/// Fills in the header checksum: summed with its own field as eight
/// spaces, then written as six octal digits, NUL, space.
fn checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum: u64 = block.iter().map(|&byte| u64::from(byte)).sum();
    octal(&mut block[148..155], sum);
    block[154] = 0;
    block[155] = b' ';
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, typeflag, mode, data) of one entry.
    type Member = (String, u8, u32, Vec<u8>);

    /// A minimal independent reader: (path, typeflag, mode, data) per entry.
    fn read(archive: &[u8]) -> Vec<Member> {
        read_with_records(archive).0
    }

    /// [`read`], plus each entry's pax records (path -> "key=value" lines),
    /// after checking each record's length prefix.
    fn read_with_records(archive: &[u8]) -> (Vec<Member>, BTreeMap<String, Vec<String>>) {
        let mut records = BTreeMap::new();
        let mut pending: Vec<String> = Vec::new();
        let field = |bytes: &[u8]| {
            let end = bytes.iter().position(|&byte| byte == 0).unwrap_or(bytes.len());
            String::from_utf8(bytes[..end].to_vec()).unwrap()
        };
        let number = |bytes: &[u8]| u64::from_str_radix(field(bytes).trim(), 8).unwrap();
        assert_eq!(archive.len() % BLOCK, 0);
        let mut entries = Vec::new();
        let mut offset = 0;
        loop {
            let block = &archive[offset..offset + BLOCK];
            if block.iter().all(|&byte| byte == 0) {
                assert!(archive[offset..].iter().all(|&byte| byte == 0), "data after the end marker");
                assert_eq!(archive.len() - offset, 2 * BLOCK, "end marker is two zero blocks");
                break;
            }
            let mut copy = block.to_vec();
            copy[148..156].fill(b' ');
            let sum: u64 = copy.iter().map(|&byte| u64::from(byte)).sum();
            assert_eq!(number(&block[148..156]), sum, "checksum");
            assert_eq!(&block[257..265], b"ustar\x0000");
            assert_eq!(number(&block[136..148]), MTIME);
            let prefix = field(&block[345..500]);
            let name = field(&block[..100]);
            let path = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let size = usize::try_from(number(&block[124..136])).unwrap();
            let mode = u32::try_from(number(&block[100..108])).unwrap();
            let data = archive[offset + BLOCK..offset + BLOCK + size].to_vec();
            offset += BLOCK + size.div_ceil(BLOCK) * BLOCK;
            if block[156] == b'x' {
                let mut rest = &data[..];
                while !rest.is_empty() {
                    let space = rest.iter().position(|&byte| byte == b' ').unwrap();
                    let length: usize = std::str::from_utf8(&rest[..space]).unwrap().parse().unwrap();
                    assert_eq!(rest[length - 1], b'\n', "record length");
                    pending.push(String::from_utf8(rest[space + 1..length - 1].to_vec()).unwrap());
                    rest = &rest[length..];
                }
                continue;
            }
            if !pending.is_empty() {
                records.insert(path.clone(), std::mem::take(&mut pending));
            }
            entries.push((path, block[156], mode, data));
        }
        assert!(pending.is_empty(), "pax records without an entry");
        (entries, records)
    }

    #[test]
    fn every_regular_file_carries_its_sha256() {
        let mut archive = Archive::new();
        archive.add_file("bin/sh", b"\0asm-sh".to_vec(), 0o755).unwrap();
        archive.add_file("empty", Vec::new(), 0o600).unwrap();
        archive.add_symlink("bin/link", "sh").unwrap();
        let (entries, records) = read_with_records(&archive.to_bytes());
        assert_eq!(entries.len(), 4, "bin/, bin/link, bin/sh, empty: pax headers are not entries");
        let sh: String = Sha256::digest(b"\0asm-sh").iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(records.get("bin/sh").unwrap(), &[format!("HYPHA.sha256={sh}")]);
        assert_eq!(
            records.get("empty").unwrap(),
            &["HYPHA.sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned()],
            "the SHA-256 of nothing"
        );
        assert!(!records.contains_key("bin/") && !records.contains_key("bin/link"), "only regular files");
    }

    #[test]
    fn pax_record_lengths_count_themselves() {
        for value_len in [0, 1, 85, 86, 87, 995, 996, 997] {
            let record = pax_record("k", &"v".repeat(value_len));
            let text = String::from_utf8(record.clone()).unwrap();
            let (length, _) = text.split_once(' ').unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), record.len(), "{text:?}");
        }
    }

    #[test]
    fn files_and_their_directories_round_trip_in_order() {
        let mut archive = Archive::new();
        archive.add_file("bin/sh", b"\0asm-sh".to_vec(), 0o755).unwrap();
        archive.add_file("etc/motd", b"hello\n".to_vec(), 0o644).unwrap();
        archive.add_file("bin/cat", vec![7; 513], 0o755).unwrap();
        archive.add_file("empty", Vec::new(), 0o600).unwrap();
        let entries = read(&archive.to_bytes());
        let summary: Vec<(&str, u8, u32, usize)> =
            entries.iter().map(|(path, kind, mode, data)| (path.as_str(), *kind, *mode, data.len())).collect();
        assert_eq!(
            summary,
            [
                ("bin/", b'5', 0o755, 0),
                ("bin/cat", b'0', 0o755, 513),
                ("bin/sh", b'0', 0o755, 7),
                ("empty", b'0', 0o600, 0),
                ("etc/", b'5', 0o755, 0),
                ("etc/motd", b'0', 0o644, 6),
            ]
        );
        assert_eq!(entries[1].3, vec![7; 513]);
        assert_eq!(entries[5].3, b"hello\n");
    }

    #[test]
    fn directories_and_symlinks_round_trip() {
        let mut archive = Archive::new();
        archive.add_dir("t/empty").unwrap();
        archive.add_dir("t/empty").unwrap();
        archive.add_symlink("t/link", "../target").unwrap();
        let bytes = archive.to_bytes();
        let entries = read(&bytes);
        let summary: Vec<(&str, u8)> = entries.iter().map(|(path, kind, _, _)| (path.as_str(), *kind)).collect();
        assert_eq!(summary, [("t/", b'5'), ("t/empty/", b'5'), ("t/link", b'2')]);
        assert_eq!(&bytes[2 * BLOCK + 157..2 * BLOCK + 166], b"../target");
        assert!(matches!(archive.add_symlink("t/long", &"x".repeat(101)), Err(TarError::BadPath(_))));
        assert_eq!(archive.add_file("t/link/f", Vec::new(), 0o644), Err(TarError::Conflict("t/link".into())));
    }

    #[test]
    fn output_is_deterministic_whatever_the_insertion_order() {
        let mut first = Archive::new();
        first.add_file("a/x", b"1".to_vec(), 0o644).unwrap();
        first.add_file("b", b"2".to_vec(), 0o644).unwrap();
        let mut second = Archive::new();
        second.add_file("b", b"2".to_vec(), 0o644).unwrap();
        second.add_file("a/x", b"1".to_vec(), 0o644).unwrap();
        assert_eq!(first.to_bytes(), second.to_bytes());
    }

    #[test]
    fn empty_archive_is_the_end_marker() {
        assert_eq!(Archive::new().to_bytes(), vec![0; 2 * BLOCK]);
    }

    #[test]
    fn long_paths_use_the_prefix_field() {
        let directory = format!("{}/{}", "a".repeat(60), "b".repeat(60));
        let path = format!("{directory}/{}", "f".repeat(90));
        let mut archive = Archive::new();
        archive.add_file(&path, b"x".to_vec(), 0o644).unwrap();
        let bytes = archive.to_bytes();
        let entries = read(&bytes);
        let paths: Vec<&str> = entries.iter().map(|entry| entry.0.as_str()).collect();
        assert_eq!(paths, [format!("{}/", "a".repeat(60)), format!("{directory}/"), path.clone()]);
        // The file's own header (after the two directories and the file's
        // pax header and record): prefix = the directory, name = the file.
        let file = 4 * BLOCK;
        assert_eq!(&bytes[file - 2 * BLOCK + 156], &b'x');
        assert_eq!(&bytes[file..file + 90], "f".repeat(90).as_bytes());
        assert_eq!(&bytes[file + 345..file + 345 + 121], directory.as_bytes());
        // A single component longer than 100 bytes has nowhere to go.
        let lone = "d".repeat(120);
        assert!(matches!(archive.add_file(&format!("{lone}/f"), Vec::new(), 0o644), Err(TarError::PathTooLong(_))));
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut archive = Archive::new();
        for path in ["", "/bin/sh", "bin//sh", "bin/", "./sh", "a/../b", "nul\0"] {
            assert!(matches!(archive.add_file(path, Vec::new(), 0o644), Err(TarError::BadPath(_))), "{path:?}");
        }
        let too_long = format!("{}/{}", "d".repeat(200), "f".repeat(10));
        assert!(matches!(archive.add_file(&too_long, Vec::new(), 0o644), Err(TarError::PathTooLong(_))));
        let name_too_long = "f".repeat(101);
        assert!(matches!(archive.add_file(&name_too_long, Vec::new(), 0o644), Err(TarError::PathTooLong(_))));
        archive.add_file("bin/sh", Vec::new(), 0o755).unwrap();
        assert_eq!(archive.add_file("bin/sh", Vec::new(), 0o755), Err(TarError::Conflict("bin/sh".into())));
        assert_eq!(archive.add_file("bin/sh/x", Vec::new(), 0o755), Err(TarError::Conflict("bin/sh".into())));
        // Nothing half-added by the refusals.
        assert_eq!(read(&archive.to_bytes()).len(), 2);
    }

    #[test]
    fn octal_fields_are_zero_padded_and_terminated() {
        let mut field = [0xffu8; 12];
        octal(&mut field, 0o1234);
        assert_eq!(&field, b"00000001234\0");
        let mut field = [0xffu8; 8];
        octal(&mut field, 0o755);
        assert_eq!(&field, b"0000755\0");
    }

    #[test]
    fn program_names_are_file_stems() {
        assert_eq!(program_name(Path::new("target/wasm32-wasip1/release/hello.wasm")).unwrap(), "hello");
        assert_eq!(program_name(Path::new("tool")).unwrap(), "tool");
        assert!(program_name(Path::new("dir/.wasm")).is_err());
        assert!(program_name(Path::new("/")).is_err());
    }
}
