//! Path resolution inside a directory capability.
//!
//! A guest path is resolved one component at a time against the directory
//! fd it was given with. Nothing may leave that directory: an absolute path
//! is `Perm`, and a `..` (from the path or from a symlink target) that would
//! climb above the starting directory is `Notcapable`, as is an absolute
//! symlink target, except under a root preopen
//! ([`crate::WasiCtx::preopen_root`]), where it restarts at that root. Symlinks are followed (at most [`MAX_SYMLINKS`] of them,
//! then `Loop`) except in the last component when the caller asks not to.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::backend::FileSystem;
use crate::types::{Errno, Filetype};

/// How many symlinks one resolution may expand before failing with `Loop`.
pub const MAX_SYMLINKS: u32 = 40;

/// The outcome of resolving a path.
#[derive(Debug)]
pub(crate) struct Resolved<N> {
    /// Directory holding the last component.
    pub(crate) parent: N,
    /// The parent's parent, when it is inside the sandbox.
    pub(crate) grandparent: Option<N>,
    /// The last component, or `None` when the path names a directory
    /// reached through `.`/`..` or the start directory itself.
    pub(crate) name: Option<String>,
    /// The object the path names, with its type; `None` if the last
    /// component does not exist.
    pub(crate) node: Option<(N, Filetype)>,
    /// The path ended in `/` (the result must be a directory).
    pub(crate) must_be_dir: bool,
}

impl<N> Resolved<N> {
    /// The type of the named object, if it exists.
    pub(crate) fn filetype(&self) -> Option<Filetype> {
        self.node.as_ref().map(|(_, t)| *t)
    }

    /// Parent and last component, for operations that act on a directory
    /// entry; a path without a last component (e.g. `.`) is `err`.
    pub(crate) fn entry(&self, err: Errno) -> Result<(&N, &str), Errno> {
        match &self.name {
            Some(n) => Ok((&self.parent, n.as_str())),
            None => Err(err),
        }
    }
}

/// Splits `path` into components (dropping empty ones), pushed in reverse so
/// that `pop()` yields them in order.
fn push_components(stack: &mut Vec<String>, path: &str) {
    for c in path.split('/').rev() {
        if !c.is_empty() {
            stack.push(c.to_string());
        }
    }
}

/// Resolves `path` relative to directory `start`.
///
/// `follow_last`: follow a symlink in the last component (a trailing `/`
/// always follows it, as POSIX does). `root`: the root preopen `start`
/// descends from, where absolute symlink targets restart (`None`: they are
/// `Notcapable`).
pub(crate) fn resolve<F: FileSystem>(
    fs: &F,
    start: &F::Node,
    root: Option<&F::Node>,
    path: &str,
    follow_last: bool,
) -> Result<Resolved<F::Node>, Errno> {
    if path.is_empty() {
        return Err(Errno::Noent);
    }
    if path.contains('\0') {
        return Err(Errno::Inval);
    }
    if path.starts_with('/') {
        return Err(Errno::Perm);
    }
    let mut must_be_dir = path.ends_with('/');
    let mut comps = Vec::new();
    push_components(&mut comps, path);
    // Directories from the start down to the current one.
    let mut dirs: Vec<F::Node> = alloc::vec![start.clone()];
    let mut links = 0u32;

    loop {
        let Some(comp) = comps.pop() else {
            // Only `.`/`..`/slashes: the path names the current directory.
            return Ok(here(&dirs, None, must_be_dir));
        };
        let last = comps.is_empty();
        match comp.as_str() {
            "." => {
                if last {
                    return Ok(here(&dirs, None, must_be_dir));
                }
            }
            ".." => {
                if dirs.len() == 1 {
                    return Err(Errno::Notcapable);
                }
                dirs.pop();
                if last {
                    return Ok(here(&dirs, None, must_be_dir));
                }
            }
            name => {
                if name.len() > 255 {
                    return Err(Errno::Nametoolong);
                }
                let cur = dirs.last().ok_or(Errno::Notcapable)?;
                let found = match fs.lookup(cur, name) {
                    Ok(found) => found,
                    Err(Errno::Noent) if last => {
                        return Ok(Resolved {
                            parent: cur.clone(),
                            grandparent: grandparent(&dirs),
                            name: Some(comp),
                            node: None,
                            must_be_dir,
                        });
                    }
                    Err(e) => return Err(e),
                };
                let (node, ty) = found;
                if ty == Filetype::SymbolicLink && (!last || follow_last || must_be_dir) {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::Loop);
                    }
                    let target = fs.readlink(&node)?;
                    if target.is_empty() {
                        return Err(Errno::Noent);
                    }
                    if target.starts_with('/') {
                        // The sandbox becomes the whole tree below `root`.
                        let root = root.ok_or(Errno::Notcapable)?;
                        dirs.clear();
                        dirs.push(root.clone());
                    }
                    if last && target.ends_with('/') {
                        must_be_dir = true;
                    }
                    push_components(&mut comps, &target);
                    if comps.is_empty() {
                        // A target of only slashes was rejected above; a
                        // target like "." names the current directory.
                        return Ok(here(&dirs, None, must_be_dir));
                    }
                    continue;
                }
                if last {
                    return Ok(Resolved {
                        parent: cur.clone(),
                        grandparent: grandparent(&dirs),
                        name: Some(comp),
                        node: Some((node, ty)),
                        must_be_dir,
                    });
                }
                if ty != Filetype::Directory {
                    return Err(Errno::Notdir);
                }
                dirs.push(node);
            }
        }
    }
}

fn grandparent<N: Clone>(dirs: &[N]) -> Option<N> {
    dirs.len().checked_sub(2).and_then(|i| dirs.get(i)).cloned()
}

/// A resolution naming the current directory itself.
fn here<N: Clone>(dirs: &[N], name: Option<String>, must_be_dir: bool) -> Resolved<N> {
    let n = dirs.len();
    let cur = dirs[n - 1].clone();
    Resolved {
        parent: cur.clone(),
        grandparent: if n >= 2 {
            Some(dirs[n - 2].clone())
        } else {
            None
        },
        name,
        node: Some((cur, Filetype::Directory)),
        must_be_dir,
    }
}
