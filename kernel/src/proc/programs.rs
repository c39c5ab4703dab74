//! Finding a program's bytes: the file tree first (`/bin` comes from the
//! initrd), then the programs built into the kernel image
//! (`kernel/programs/*.wat`, encoded by `build.rs`), which answer to
//! `/bin/NAME` when the file tree has no such file.

extern crate alloc;

use alloc::borrow::Cow;

use hypha_wasi::Errno;

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The module at `path` (relative paths start at `/`): the file tree's
/// file, else a built-in program of that name.
///
/// # Errors
/// The file tree's errno (`Noent`, `Isdir`, `Notdir`, …); `Noent` when
/// neither has it.
pub fn find(path: &str) -> Result<Cow<'static, [u8]>, Errno> {
    if path.len() > 4096 {
        return Err(Errno::Nametoolong);
    }
    let absolute = if path.starts_with('/') { Cow::Borrowed(path) } else { Cow::Owned(alloc::format!("/{path}")) };
    match crate::fs::read_file(&absolute) {
        Ok(bytes) => Ok(Cow::Owned(bytes)),
        Err(Errno::Noent) => load(&absolute).map(Cow::Borrowed),
        Err(errno) => Err(errno),
    }
}

/// The bytes of built-in program `name` (`hello`, `/bin/hello`,
/// `/bin/hello.wasm`).
///
/// # Errors
/// `Noent` if there is no such program, `Nametoolong` over 4096 bytes.
pub fn load(path: &str) -> Result<&'static [u8], Errno> {
    if path.len() > 4096 {
        return Err(Errno::Nametoolong);
    }
    let name = path.strip_prefix("/bin/").unwrap_or(path);
    let name = name.strip_suffix(".wasm").unwrap_or(name);
    PROGRAMS.iter().find(|(n, _)| *n == name).map(|(_, bytes)| *bytes).ok_or(Errno::Noent)
}

/// Names of the built-in programs.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROGRAMS.iter().map(|(name, _)| *name)
}
