//! Finding a program's bytes: the file tree first (`/bin` comes from the
//! initrd), then the programs built into the kernel image
//! (`kernel/programs/*.wat`, encoded by `build.rs`), which answer to
//! `/bin/NAME` when the file tree has no such file.
//!
//! A program comes with its SHA-256 when that is known without hashing:
//! the initrd records it for each file, `build.rs` for each built-in
//! program. The module cache uses it as the key ([`super::cache`]).

extern crate alloc;

use alloc::borrow::Cow;

use hypha_vfs::LoadedFile;
use hypha_wasi::Errno;

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The module at `path` (relative paths start at `/`): the file tree's
/// file (borrowed from the initrd, with its recorded SHA-256, or a copy),
/// else a built-in program of that name (with its SHA-256).
///
/// # Errors
/// The file tree's errno (`Noent`, `Isdir`, `Notdir`, …); `Noent` when
/// neither has it.
pub fn find(path: &str) -> Result<LoadedFile, Errno> {
    if path.len() > 4096 {
        return Err(Errno::Nametoolong);
    }
    let absolute = if path.starts_with('/') { Cow::Borrowed(path) } else { Cow::Owned(alloc::format!("/{path}")) };
    match crate::fs::load_file(&absolute) {
        Err(Errno::Noent) => builtin(&absolute).map(|(_, bytes, sha256)| LoadedFile { bytes: Cow::Borrowed(*bytes), sha256: Some(*sha256) }),
        other => other,
    }
}

/// The bytes of built-in program `name` (`hello`, `/bin/hello`,
/// `/bin/hello.wasm`).
///
/// # Errors
/// `Noent` if there is no such program, `Nametoolong` over 4096 bytes.
#[cfg(feature = "ktest")]
pub fn load(path: &str) -> Result<&'static [u8], Errno> {
    builtin(path).map(|(_, bytes, _)| *bytes)
}

/// The built-in program `path` names: (name, bytes, SHA-256).
fn builtin(path: &str) -> Result<&'static (&'static str, &'static [u8], [u8; 32]), Errno> {
    if path.len() > 4096 {
        return Err(Errno::Nametoolong);
    }
    let name = path.strip_prefix("/bin/").unwrap_or(path);
    let name = name.strip_suffix(".wasm").unwrap_or(name);
    PROGRAMS.iter().find(|(n, _, _)| *n == name).ok_or(Errno::Noent)
}

/// Names of the built-in programs.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROGRAMS.iter().map(|(name, _, _)| *name)
}

/// Every built-in program: (name, bytes, SHA-256 recorded at build time).
#[cfg(feature = "ktest")]
pub fn all() -> &'static [(&'static str, &'static [u8], [u8; 32])] {
    PROGRAMS
}
