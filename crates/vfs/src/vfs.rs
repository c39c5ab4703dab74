//! The mount table and the [`FileSystem`] implementation that dispatches
//! to the mounted file systems.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, FileSystem, MAX_SYMLINKS, OpenOptions};

use crate::lock::Lock;
use crate::mount::{MountFs, OpenFile};

/// Index of a mount in a [`Vfs`]; the root file system is 0.
pub type MountId = u32;

/// The root mount.
pub const ROOT_MOUNT: MountId = 0;

/// Most mounts one [`Vfs`] holds.
pub const MAX_MOUNTS: usize = 64;

/// A file-system object in the VFS: which mount, and the inode inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfsNode {
    /// The mount holding the object.
    pub mount: MountId,
    /// Its inode number inside that mount's file system.
    pub ino: u64,
}

/// A whole file read by [`Vfs::load_file`].
#[derive(Debug)]
pub struct LoadedFile {
    /// The contents, borrowed when they never change.
    pub bytes: Cow<'static, [u8]>,
    /// Their SHA-256 when the file system recorded one.
    pub sha256: Option<[u8; 32]>,
}

/// An open regular file or device of a [`Vfs`].
#[derive(Debug)]
pub struct VfsFile {
    mount: MountId,
    inner: Box<dyn OpenFile>,
}

impl VfsFile {
    /// The mount the file lives in.
    #[must_use]
    pub fn mount(&self) -> MountId {
        self.mount
    }
}

/// One entry of the mount table.
struct Mounted {
    fs: Arc<dyn MountFs>,
    /// Absolute path of the mount point (`/` for the root).
    path: String,
}

#[derive(Default)]
struct Table {
    mounts: Vec<Mounted>,
    /// Mount points: directory → name → the mount covering `dir/name`.
    covers: BTreeMap<VfsNode, BTreeMap<String, MountId>>,
}

impl Table {
    fn fs(&self, mount: MountId) -> Result<Arc<dyn MountFs>, Errno> {
        let i = usize::try_from(mount).map_err(|_| Errno::Badf)?;
        self.mounts
            .get(i)
            .map(|m| Arc::clone(&m.fs))
            .ok_or(Errno::Badf)
    }

    fn covering(&self, dir: VfsNode, name: &str) -> Option<MountId> {
        self.covers.get(&dir).and_then(|m| m.get(name)).copied()
    }
}

/// One tree of mounted file systems; implements [`FileSystem`] so a
/// [`hypha_wasi::WasiCtx`] can use it directly.
///
/// Cloning is cheap and every clone sees the same tree (and the same open
/// files): give each process's `WasiCtx` a clone.
#[derive(Clone)]
pub struct Vfs {
    table: Arc<Lock<Table>>,
}

impl fmt::Debug for Vfs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.table.lock();
        f.debug_struct("Vfs")
            .field(
                "mounts",
                &t.mounts.iter().map(|m| m.path.as_str()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Information about one mount, as [`Vfs::mounts`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Its id.
    pub id: MountId,
    /// Absolute path of the mount point.
    pub path: String,
}

impl Vfs {
    /// A VFS whose root directory `/` is the root of `root`.
    pub fn new(root: Arc<dyn MountFs>) -> Self {
        let table = Table {
            mounts: alloc::vec![Mounted {
                fs: root,
                path: String::from("/"),
            }],
            covers: BTreeMap::new(),
        };
        Vfs {
            table: Arc::new(Lock::new(table)),
        }
    }

    /// The root directory `/` (preopen it as `"/"`).
    #[must_use]
    pub fn root(&self) -> VfsNode {
        let t = self.table.lock();
        let ino = t.mounts.first().map_or(0, |m| m.fs.root());
        VfsNode {
            mount: ROOT_MOUNT,
            ino,
        }
    }

    /// Mounts `fs` at the absolute `path`, whose parent directory must
    /// exist. The last component may name an existing directory (which is
    /// covered while mounted) or nothing (the mount point then exists only
    /// in the VFS, so read-only file systems need no empty directories for
    /// it). Errors: `Inval` (not absolute, or `/`), `Noent`, `Notdir`,
    /// `Busy` (already a mount point), `Nospc` (more than [`MAX_MOUNTS`]).
    pub fn mount(&self, path: &str, fs: Arc<dyn MountFs>) -> Result<MountId, Errno> {
        if !path.starts_with('/') {
            return Err(Errno::Inval);
        }
        let trimmed = path.trim_end_matches('/');
        let (parent_path, name) = trimmed.rsplit_once('/').ok_or(Errno::Inval)?;
        if name.is_empty() || name == "." || name == ".." {
            return Err(Errno::Inval);
        }
        let parent = self.resolve(if parent_path.is_empty() { "/" } else { parent_path })?;
        if self.stat(&parent)?.file_type() != Filetype::Directory {
            return Err(Errno::Notdir);
        }
        match self.lookup(&parent, name) {
            Ok((_, Filetype::Directory)) | Err(Errno::Noent) => {}
            Ok(_) => return Err(Errno::Notdir),
            Err(e) => return Err(e),
        }
        let mut t = self.table.lock();
        if t.covering(parent, name).is_some() {
            return Err(Errno::Busy);
        }
        if t.mounts.len() >= MAX_MOUNTS {
            return Err(Errno::Nospc);
        }
        let id = MountId::try_from(t.mounts.len()).map_err(|_| Errno::Nospc)?;
        t.mounts.push(Mounted {
            fs,
            path: canonical(trimmed),
        });
        t.covers
            .entry(parent)
            .or_default()
            .insert(name.to_string(), id);
        Ok(id)
    }

    /// Every mount, root first.
    #[must_use]
    pub fn mounts(&self) -> Vec<MountInfo> {
        let t = self.table.lock();
        t.mounts
            .iter()
            .zip(0..)
            .map(|(m, id)| MountInfo {
                id,
                path: m.path.clone(),
            })
            .collect()
    }

    /// The file system mounted as `mount`.
    pub fn mount_fs(&self, mount: MountId) -> Result<Arc<dyn MountFs>, Errno> {
        self.table.lock().fs(mount)
    }

    fn fs(&self, mount: MountId) -> Result<Arc<dyn MountFs>, Errno> {
        self.table.lock().fs(mount)
    }

    fn covering(&self, dir: VfsNode, name: &str) -> Option<MountId> {
        self.table.lock().covering(dir, name)
    }

    /// Permission bits of `node` when its file system records them (the
    /// initrd does; the kernel may refuse to run a module without an `x`).
    pub fn mode(&self, node: &VfsNode) -> Result<Option<u32>, Errno> {
        self.fs(node.mount)?.mode(node.ino)
    }

    /// Resolves the absolute `path` from `/`, following every symlink
    /// (absolute targets restart at `/`). This is the kernel's own lookup
    /// (e.g. for `spawn`); guests go through `WasiCtx`, whose resolver
    /// keeps them inside their preopens.
    pub fn resolve(&self, path: &str) -> Result<VfsNode, Errno> {
        self.resolve_path(path, true).map(|(n, _)| n)
    }

    /// Like [`Vfs::resolve`], also returning the type; with `follow_last`
    /// false a final symlink is returned itself.
    pub fn resolve_path(&self, path: &str, follow_last: bool) -> Result<(VfsNode, Filetype), Errno> {
        if path.contains('\0') {
            return Err(Errno::Inval);
        }
        if !path.starts_with('/') {
            return Err(Errno::Inval);
        }
        let root = self.root();
        let mut dirs: Vec<VfsNode> = alloc::vec![root];
        let mut comps: Vec<String> = Vec::new();
        push_components(&mut comps, path);
        let mut links = 0u32;
        let mut must_be_dir = path.ends_with('/');
        let mut current = (root, Filetype::Directory);
        while let Some(comp) = comps.pop() {
            let last = comps.is_empty();
            match comp.as_str() {
                "." => current = (last_dir(&dirs, root), Filetype::Directory),
                ".." => {
                    if dirs.len() > 1 {
                        dirs.pop();
                    }
                    current = (last_dir(&dirs, root), Filetype::Directory);
                }
                name => {
                    if name.len() > 255 {
                        return Err(Errno::Nametoolong);
                    }
                    let dir = last_dir(&dirs, root);
                    let (node, ty) = self.lookup(&dir, name)?;
                    if ty == Filetype::SymbolicLink && (!last || follow_last || must_be_dir) {
                        links += 1;
                        if links > MAX_SYMLINKS {
                            return Err(Errno::Loop);
                        }
                        let target = self.readlink(&node)?;
                        if target.is_empty() {
                            return Err(Errno::Noent);
                        }
                        if target.starts_with('/') {
                            dirs.truncate(1);
                        }
                        if last && target.ends_with('/') {
                            must_be_dir = true;
                        }
                        push_components(&mut comps, &target);
                        current = (last_dir(&dirs, root), Filetype::Directory);
                        continue;
                    }
                    if !last {
                        if ty != Filetype::Directory {
                            return Err(Errno::Notdir);
                        }
                        dirs.push(node);
                    }
                    current = (node, ty);
                }
            }
        }
        if must_be_dir && current.1 != Filetype::Directory {
            return Err(Errno::Notdir);
        }
        Ok(current)
    }

    /// The whole regular file at the absolute `path` without copying when
    /// its file system has it in memory for good ([`MountFs::static_file`],
    /// with the SHA-256 it recorded), else read like [`Vfs::read_file`].
    pub fn load_file(&self, path: &str) -> Result<LoadedFile, Errno> {
        let node = self.resolve_file(path)?;
        if let Some(file) = self.fs(node.mount)?.static_file(node.ino) {
            return Ok(LoadedFile { bytes: Cow::Borrowed(file.bytes), sha256: file.sha256 });
        }
        Ok(LoadedFile { bytes: Cow::Owned(self.read_node(&node)?), sha256: None })
    }

    /// Reads the whole regular file at the absolute `path` (e.g. a module
    /// to spawn). Directories are `Isdir`.
    pub fn read_file(&self, path: &str) -> Result<Vec<u8>, Errno> {
        self.read_node(&self.resolve_file(path)?)
    }

    /// The node at `path` (symlinks followed); `Isdir` for a directory.
    fn resolve_file(&self, path: &str) -> Result<VfsNode, Errno> {
        let (node, ty) = self.resolve_path(path, true)?;
        if ty == Filetype::Directory {
            return Err(Errno::Isdir);
        }
        Ok(node)
    }

    /// The whole contents of regular file `node`.
    fn read_node(&self, node: &VfsNode) -> Result<Vec<u8>, Errno> {
        let mut file = self.open(
            node,
            OpenOptions {
                read: true,
                ..OpenOptions::default()
            },
        )?;
        let mut out = Vec::new();
        let mut buf = alloc::vec![0u8; 16 * 1024];
        loop {
            let n = file.inner.read_at(&mut buf, len64(out.len()))?;
            if n == 0 {
                return Ok(out);
            }
            out.try_reserve(n).map_err(|_| Errno::Nomem)?;
            out.extend_from_slice(buf.get(..n).ok_or(Errno::Io)?);
        }
    }

    /// Opens the file at the absolute `path` (following symlinks).
    pub fn open_path(&self, path: &str, opts: OpenOptions) -> Result<VfsFile, Errno> {
        let (node, ty) = self.resolve_path(path, true)?;
        if ty == Filetype::Directory {
            return Err(Errno::Isdir);
        }
        self.open(&node, opts)
    }

    /// Rejects operations on `dir/name` when it is a mount point.
    fn not_mount_point(&self, dir: &VfsNode, name: &str, err: Errno) -> Result<(), Errno> {
        if self.covering(*dir, name).is_some() {
            Err(err)
        } else {
            Ok(())
        }
    }

    /// Rejects removing or replacing `dir/name` when it is a directory
    /// holding mount points (they would be left hanging).
    fn no_mounts_below(&self, dir: &VfsNode, name: &str) -> Result<(), Errno> {
        let fs = self.fs(dir.mount)?;
        if let Ok((ino, Filetype::Directory)) = fs.lookup(dir.ino, name) {
            let node = VfsNode {
                mount: dir.mount,
                ino,
            };
            if self.table.lock().covers.get(&node).is_some_and(|m| !m.is_empty()) {
                return Err(Errno::Busy);
            }
        }
        Ok(())
    }

    fn with_dev(st: Filestat, mount: MountId) -> Filestat {
        Filestat {
            dev: u64::from(mount) + 1,
            ..st
        }
    }
}

fn last_dir(dirs: &[VfsNode], root: VfsNode) -> VfsNode {
    dirs.last().copied().unwrap_or(root)
}

fn push_components(stack: &mut Vec<String>, path: &str) {
    for c in path.split('/').rev() {
        if !c.is_empty() {
            stack.push(c.to_string());
        }
    }
}

/// `path` with repeated slashes folded (for [`MountInfo::path`]).
fn canonical(path: &str) -> String {
    let mut out = String::new();
    for c in path.split('/').filter(|c| !c.is_empty()) {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn len64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

// === impl FileSystem for Vfs ===

impl FileSystem for Vfs {
    type Node = VfsNode;
    type File = VfsFile;

    fn lookup(&self, dir: &VfsNode, name: &str) -> Result<(VfsNode, Filetype), Errno> {
        let fs = self.fs(dir.mount)?;
        if let Some(m) = self.covering(*dir, name) {
            // The parent must still be a directory for the name to be found.
            let mfs = self.fs(m)?;
            return Ok((
                VfsNode {
                    mount: m,
                    ino: mfs.root(),
                },
                Filetype::Directory,
            ));
        }
        let (ino, ty) = fs.lookup(dir.ino, name)?;
        Ok((
            VfsNode {
                mount: dir.mount,
                ino,
            },
            ty,
        ))
    }

    fn stat(&self, node: &VfsNode) -> Result<Filestat, Errno> {
        let st = self.fs(node.mount)?.stat(node.ino)?;
        Ok(Self::with_dev(st, node.mount))
    }

    fn set_times(
        &self,
        node: &VfsNode,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno> {
        self.fs(node.mount)?.set_times(node.ino, atim, mtim)
    }

    fn readlink(&self, node: &VfsNode) -> Result<String, Errno> {
        self.fs(node.mount)?.readlink(node.ino)
    }

    fn readdir(&self, dir: &VfsNode) -> Result<Vec<DirEntry>, Errno> {
        let mut entries = self.fs(dir.mount)?.readdir(dir.ino)?;
        let covered: Vec<(String, MountId)> = {
            let t = self.table.lock();
            t.covers
                .get(dir)
                .map(|m| m.iter().map(|(n, id)| (n.clone(), *id)).collect())
                .unwrap_or_default()
        };
        if covered.is_empty() {
            return Ok(entries);
        }
        entries.retain(|e| !covered.iter().any(|(n, _)| *n == e.name));
        for (name, id) in covered {
            let fs = self.fs(id)?;
            let ino = fs.stat(fs.root())?.ino;
            entries.push(DirEntry {
                name,
                ino,
                filetype: Filetype::Directory,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn sync_dir(&self, dir: &VfsNode) -> Result<(), Errno> {
        // Every mounted file system is memory-backed: check it is a
        // directory, nothing to flush.
        match self.stat(dir)?.file_type() {
            Filetype::Directory => Ok(()),
            _ => Err(Errno::Notdir),
        }
    }

    fn open(&self, node: &VfsNode, opts: OpenOptions) -> Result<VfsFile, Errno> {
        let inner = self.fs(node.mount)?.open(node.ino, opts)?;
        Ok(VfsFile {
            mount: node.mount,
            inner,
        })
    }

    fn create(
        &self,
        dir: &VfsNode,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(VfsNode, VfsFile), Errno> {
        self.not_mount_point(dir, name, if exclusive { Errno::Exist } else { Errno::Isdir })?;
        let (ino, inner) = self.fs(dir.mount)?.create(dir.ino, name, exclusive, opts)?;
        Ok((
            VfsNode {
                mount: dir.mount,
                ino,
            },
            VfsFile {
                mount: dir.mount,
                inner,
            },
        ))
    }

    fn create_dir(&self, dir: &VfsNode, name: &str) -> Result<(), Errno> {
        self.not_mount_point(dir, name, Errno::Exist)?;
        self.fs(dir.mount)?.create_dir(dir.ino, name)
    }

    fn remove_dir(&self, dir: &VfsNode, name: &str) -> Result<(), Errno> {
        self.not_mount_point(dir, name, Errno::Busy)?;
        self.no_mounts_below(dir, name)?;
        self.fs(dir.mount)?.remove_dir(dir.ino, name)
    }

    fn unlink(&self, dir: &VfsNode, name: &str) -> Result<(), Errno> {
        self.not_mount_point(dir, name, Errno::Isdir)?;
        self.fs(dir.mount)?.unlink(dir.ino, name)
    }

    fn rename(
        &self,
        from_dir: &VfsNode,
        from: &str,
        to_dir: &VfsNode,
        to: &str,
    ) -> Result<(), Errno> {
        self.not_mount_point(from_dir, from, Errno::Busy)?;
        self.not_mount_point(to_dir, to, Errno::Busy)?;
        if from_dir.mount != to_dir.mount {
            return Err(Errno::Xdev);
        }
        self.no_mounts_below(to_dir, to)?;
        self.fs(from_dir.mount)?
            .rename(from_dir.ino, from, to_dir.ino, to)
    }

    fn symlink(&self, dir: &VfsNode, name: &str, target: &str) -> Result<(), Errno> {
        self.not_mount_point(dir, name, Errno::Exist)?;
        self.fs(dir.mount)?.symlink(dir.ino, name, target)
    }

    fn link(
        &self,
        from_dir: &VfsNode,
        from: &str,
        to_dir: &VfsNode,
        to: &str,
    ) -> Result<(), Errno> {
        self.not_mount_point(from_dir, from, Errno::Perm)?;
        self.not_mount_point(to_dir, to, Errno::Exist)?;
        if from_dir.mount != to_dir.mount {
            return Err(Errno::Xdev);
        }
        self.fs(from_dir.mount)?.link(from_dir.ino, from, to_dir.ino, to)
    }

    fn read_at(&self, file: &mut VfsFile, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        file.inner.read_at(buf, offset)
    }

    fn write_at(&self, file: &mut VfsFile, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        file.inner.write_at(buf, offset)
    }

    fn file_stat(&self, file: &VfsFile) -> Result<Filestat, Errno> {
        Ok(Self::with_dev(file.inner.stat()?, file.mount))
    }

    fn set_len(&self, file: &mut VfsFile, len: u64) -> Result<(), Errno> {
        file.inner.set_len(len)
    }

    fn sync(&self, file: &mut VfsFile, data_only: bool) -> Result<(), Errno> {
        file.inner.sync(data_only)
    }

    fn file_set_times(
        &self,
        file: &mut VfsFile,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno> {
        file.inner.set_times(atim, mtim)
    }
}
