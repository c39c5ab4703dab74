//! An in-memory file system (`no_std` + `alloc`): a ready [`FileSystem`]
//! for a kernel tmpfs or for tests that should not touch a disk.
//!
//! Nodes are inode numbers. Unlinked files stay readable through open
//! handles until the last one is closed. Two quotas keep a guest from
//! exhausting kernel memory: the total size of file contents and the number
//! of inodes (files, directories and symlinks, the root included). An
//! operation that would pass either fails with `Nospc` and changes nothing:
//! a write that does not fit writes no byte, so what is already stored is
//! never lost.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;

use crate::backend::{DirEntry, FileSystem, OpenOptions};
use crate::types::{Errno, Filestat, Filetype};

/// Inode number of the root directory.
pub const ROOT_INO: u64 = 1;

/// Default cap on the bytes held by all files together (64 MiB).
pub const DEFAULT_CAPACITY: u64 = 64 << 20;

/// Default cap on live inodes.
pub const DEFAULT_MAX_INODES: u64 = 1 << 20;

enum Kind {
    File(Vec<u8>),
    Dir {
        entries: BTreeMap<String, u64>,
        parent: u64,
    },
    Symlink(String),
}

struct Inode {
    kind: Kind,
    /// Directory entries naming this inode.
    nlink: u64,
    /// Open file handles.
    open: u64,
    atim: u64,
    mtim: u64,
    ctim: u64,
}

impl Inode {
    fn filetype(&self) -> Filetype {
        match self.kind {
            Kind::File(_) => Filetype::RegularFile,
            Kind::Dir { .. } => Filetype::Directory,
            Kind::Symlink(_) => Filetype::SymbolicLink,
        }
    }
}

struct State {
    inodes: BTreeMap<u64, Inode>,
    next_ino: u64,
    used: u64,
    capacity: u64,
    max_inodes: u64,
}

/// An open file of a [`MemFs`].
#[derive(Debug)]
pub struct MemFile {
    ino: u64,
}

/// The in-memory file system.
pub struct MemFs {
    state: RefCell<State>,
    now: Box<dyn Fn() -> u64 + Send>,
}

impl fmt::Debug for MemFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("MemFs")
            .field("inodes", &st.inodes.len())
            .field("used", &st.used)
            .field("capacity", &st.capacity)
            .finish_non_exhaustive()
    }
}

fn to_index(v: u64) -> Result<usize, Errno> {
    usize::try_from(v).map_err(|_| Errno::Fbig)
}

fn len64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl MemFs {
    /// An empty file system (just the root directory) whose timestamps come
    /// from `now` (ns since the epoch).
    pub fn new(now: Box<dyn Fn() -> u64 + Send>) -> Self {
        Self::with_capacity(now, DEFAULT_CAPACITY)
    }

    /// Like [`MemFs::new`] with a cap of `capacity` bytes of file contents.
    pub fn with_capacity(now: Box<dyn Fn() -> u64 + Send>, capacity: u64) -> Self {
        Self::with_limits(now, capacity, DEFAULT_MAX_INODES)
    }

    /// Like [`MemFs::new`] with at most `capacity` bytes of file contents
    /// and at most `max_inodes` live inodes (at least 1: the root).
    pub fn with_limits(
        now: Box<dyn Fn() -> u64 + Send>,
        capacity: u64,
        max_inodes: u64,
    ) -> Self {
        let t = now();
        let root = Inode {
            kind: Kind::Dir {
                entries: BTreeMap::new(),
                parent: ROOT_INO,
            },
            nlink: 1,
            open: 0,
            atim: t,
            mtim: t,
            ctim: t,
        };
        let mut inodes = BTreeMap::new();
        inodes.insert(ROOT_INO, root);
        MemFs {
            state: RefCell::new(State {
                inodes,
                next_ino: ROOT_INO + 1,
                used: 0,
                capacity,
                max_inodes: max_inodes.max(1),
            }),
            now,
        }
    }

    /// The root directory, to preopen.
    #[must_use]
    pub fn root(&self) -> u64 {
        ROOT_INO
    }

    /// Number of live inodes (for tests of reclamation).
    #[must_use]
    pub fn inode_count(&self) -> usize {
        self.state.borrow().inodes.len()
    }

    /// Bytes held by file contents.
    #[must_use]
    pub fn used_bytes(&self) -> u64 {
        self.state.borrow().used
    }

    /// The cap on bytes of file contents.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.state.borrow().capacity
    }

    /// The cap on live inodes.
    #[must_use]
    pub fn max_inodes(&self) -> u64 {
        self.state.borrow().max_inodes
    }
}

// === impl State ===

impl State {
    fn get(&self, ino: u64) -> Result<&Inode, Errno> {
        self.inodes.get(&ino).ok_or(Errno::Noent)
    }

    fn get_mut(&mut self, ino: u64) -> Result<&mut Inode, Errno> {
        self.inodes.get_mut(&ino).ok_or(Errno::Noent)
    }

    fn entries(&self, dir: u64) -> Result<&BTreeMap<String, u64>, Errno> {
        match &self.get(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::Notdir),
        }
    }

    fn entries_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<String, u64>, Errno> {
        match &mut self.get_mut(dir)?.kind {
            Kind::Dir { entries, .. } => Ok(entries),
            _ => Err(Errno::Notdir),
        }
    }

    fn child(&self, dir: u64, name: &str) -> Result<Option<u64>, Errno> {
        Ok(self.entries(dir)?.get(name).copied())
    }

    /// A new inode, or `Nospc` when the inode quota is reached.
    fn alloc(&mut self, kind: Kind, now: u64) -> Result<u64, Errno> {
        if len64(self.inodes.len()) >= self.max_inodes {
            return Err(Errno::Nospc);
        }
        let ino = self.next_ino;
        self.next_ino += 1;
        self.inodes.insert(
            ino,
            Inode {
                kind,
                nlink: 1,
                open: 0,
                atim: now,
                mtim: now,
                ctim: now,
            },
        );
        Ok(ino)
    }

    /// Adds `name -> ino` to `dir`, touching the directory.
    fn link_into(&mut self, dir: u64, name: &str, ino: u64, now: u64) -> Result<(), Errno> {
        self.entries_mut(dir)?.insert(name.to_string(), ino);
        let d = self.get_mut(dir)?;
        d.mtim = now;
        d.ctim = now;
        Ok(())
    }

    /// Removes `name` from `dir` and drops the inode if nothing refers to it.
    fn unlink_from(&mut self, dir: u64, name: &str, now: u64) -> Result<(), Errno> {
        let ino = self.entries_mut(dir)?.remove(name).ok_or(Errno::Noent)?;
        let d = self.get_mut(dir)?;
        d.mtim = now;
        d.ctim = now;
        let node = self.get_mut(ino)?;
        node.nlink = node.nlink.saturating_sub(1);
        node.ctim = now;
        self.reclaim(ino);
        Ok(())
    }

    fn reclaim(&mut self, ino: u64) {
        let dead = self
            .inodes
            .get(&ino)
            .is_some_and(|n| n.nlink == 0 && n.open == 0);
        if dead
            && let Some(n) = self.inodes.remove(&ino)
            && let Kind::File(data) = n.kind
        {
            self.used = self.used.saturating_sub(len64(data.len()));
        }
    }

    /// Resizes file `ino` to `len`, within capacity.
    fn resize(&mut self, ino: u64, len: u64, now: u64) -> Result<(), Errno> {
        let (used, cap) = (self.used, self.capacity);
        let node = self.get_mut(ino)?;
        let Kind::File(data) = &mut node.kind else {
            return Err(Errno::Isdir);
        };
        let old = len64(data.len());
        let new_used = used
            .saturating_sub(old)
            .checked_add(len)
            .ok_or(Errno::Fbig)?;
        if len > old && new_used > cap {
            return Err(Errno::Nospc);
        }
        data.resize(to_index(len)?, 0);
        node.mtim = now;
        node.ctim = now;
        self.used = new_used;
        Ok(())
    }

    /// Whether `ancestor` is `dir` or one of its ancestors.
    fn is_ancestor(&self, ancestor: u64, mut dir: u64) -> Result<bool, Errno> {
        loop {
            if dir == ancestor {
                return Ok(true);
            }
            match &self.get(dir)?.kind {
                Kind::Dir { parent, .. } if *parent != dir => dir = *parent,
                _ => return Ok(false),
            }
        }
    }
}

impl FileSystem for MemFs {
    type Node = u64;
    type File = MemFile;

    fn lookup(&self, dir: &u64, name: &str) -> Result<(u64, Filetype), Errno> {
        let st = self.state.borrow();
        let ino = st.child(*dir, name)?.ok_or(Errno::Noent)?;
        Ok((ino, st.get(ino)?.filetype()))
    }

    fn stat(&self, node: &u64) -> Result<Filestat, Errno> {
        let st = self.state.borrow();
        let n = st.get(*node)?;
        let (size, nlink) = match &n.kind {
            Kind::File(d) => (len64(d.len()), n.nlink),
            Kind::Symlink(t) => (len64(t.len()), n.nlink),
            Kind::Dir { entries, .. } => {
                let subdirs = entries
                    .values()
                    .filter(|i| {
                        st.inodes
                            .get(i)
                            .is_some_and(|c| matches!(c.kind, Kind::Dir { .. }))
                    })
                    .count();
                (len64(entries.len()), 2 + len64(subdirs))
            }
        };
        Ok(Filestat {
            dev: 1,
            ino: *node,
            filetype: n.filetype().raw(),
            nlink,
            size,
            atim: n.atim,
            mtim: n.mtim,
            ctim: n.ctim,
        })
    }

    fn set_times(&self, node: &u64, atim: Option<u64>, mtim: Option<u64>) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let n = st.get_mut(*node)?;
        if let Some(a) = atim {
            n.atim = a;
        }
        if let Some(m) = mtim {
            n.mtim = m;
        }
        n.ctim = now;
        Ok(())
    }

    fn readlink(&self, node: &u64) -> Result<String, Errno> {
        match &self.state.borrow().get(*node)?.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::Inval),
        }
    }

    fn readdir(&self, dir: &u64) -> Result<Vec<DirEntry>, Errno> {
        let st = self.state.borrow();
        st.entries(*dir)?
            .iter()
            .map(|(name, ino)| {
                Ok(DirEntry {
                    name: name.clone(),
                    ino: *ino,
                    filetype: st.get(*ino)?.filetype(),
                })
            })
            .collect()
    }

    fn sync_dir(&self, dir: &u64) -> Result<(), Errno> {
        // Memory is the storage: there is nothing further to flush.
        self.state.borrow().entries(*dir).map(|_| ())
    }

    fn open(&self, node: &u64, opts: OpenOptions) -> Result<MemFile, Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        match st.get(*node)?.kind {
            Kind::File(_) => {}
            Kind::Dir { .. } => return Err(Errno::Isdir),
            Kind::Symlink(_) => return Err(Errno::Loop),
        }
        if opts.truncate {
            st.resize(*node, 0, now)?;
        }
        st.get_mut(*node)?.open += 1;
        Ok(MemFile { ino: *node })
    }

    fn create(
        &self,
        dir: &u64,
        name: &str,
        exclusive: bool,
        opts: OpenOptions,
    ) -> Result<(u64, MemFile), Errno> {
        let existing = self.state.borrow().child(*dir, name)?;
        if let Some(ino) = existing {
            if exclusive {
                return Err(Errno::Exist);
            }
            return Ok((ino, self.open(&ino, opts)?));
        }
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let ino = st.alloc(Kind::File(Vec::new()), now)?;
        st.link_into(*dir, name, ino, now)?;
        st.get_mut(ino)?.open = 1;
        Ok((ino, MemFile { ino }))
    }

    fn create_dir(&self, dir: &u64, name: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        if st.child(*dir, name)?.is_some() {
            return Err(Errno::Exist);
        }
        let ino = st.alloc(
            Kind::Dir {
                entries: BTreeMap::new(),
                parent: *dir,
            },
            now,
        )?;
        st.link_into(*dir, name, ino, now)
    }

    fn remove_dir(&self, dir: &u64, name: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let ino = st.child(*dir, name)?.ok_or(Errno::Noent)?;
        match &st.get(ino)?.kind {
            Kind::Dir { entries, .. } if entries.is_empty() => {}
            Kind::Dir { .. } => return Err(Errno::Notempty),
            _ => return Err(Errno::Notdir),
        }
        st.unlink_from(*dir, name, now)
    }

    fn unlink(&self, dir: &u64, name: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let ino = st.child(*dir, name)?.ok_or(Errno::Noent)?;
        if matches!(st.get(ino)?.kind, Kind::Dir { .. }) {
            return Err(Errno::Isdir);
        }
        st.unlink_from(*dir, name, now)
    }

    fn rename(&self, from_dir: &u64, from: &str, to_dir: &u64, to: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let src = st.child(*from_dir, from)?.ok_or(Errno::Noent)?;
        st.entries(*to_dir)?;
        let src_is_dir = matches!(st.get(src)?.kind, Kind::Dir { .. });
        if src_is_dir && st.is_ancestor(src, *to_dir)? {
            return Err(Errno::Inval);
        }
        if let Some(dst) = st.child(*to_dir, to)? {
            if dst == src {
                return Ok(());
            }
            match (&st.get(dst)?.kind, src_is_dir) {
                (Kind::Dir { entries, .. }, true) if !entries.is_empty() => {
                    return Err(Errno::Notempty);
                }
                (Kind::Dir { .. }, true) => {}
                (Kind::Dir { .. }, false) => return Err(Errno::Isdir),
                (_, true) => return Err(Errno::Notdir),
                (_, false) => {}
            }
            st.unlink_from(*to_dir, to, now)?;
        }
        st.entries_mut(*from_dir)?.remove(from);
        st.link_into(*to_dir, to, src, now)?;
        let node = st.get_mut(src)?;
        node.ctim = now;
        if let Kind::Dir { parent, .. } = &mut node.kind {
            *parent = *to_dir;
        }
        Ok(())
    }

    fn symlink(&self, dir: &u64, name: &str, target: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        if st.child(*dir, name)?.is_some() {
            return Err(Errno::Exist);
        }
        let ino = st.alloc(Kind::Symlink(target.to_string()), now)?;
        st.link_into(*dir, name, ino, now)
    }

    fn link(&self, from_dir: &u64, from: &str, to_dir: &u64, to: &str) -> Result<(), Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let src = st.child(*from_dir, from)?.ok_or(Errno::Noent)?;
        if matches!(st.get(src)?.kind, Kind::Dir { .. }) {
            return Err(Errno::Perm);
        }
        if st.child(*to_dir, to)?.is_some() {
            return Err(Errno::Exist);
        }
        st.link_into(*to_dir, to, src, now)?;
        let n = st.get_mut(src)?;
        n.nlink += 1;
        n.ctim = now;
        Ok(())
    }

    fn read_at(&self, file: &mut MemFile, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let node = st.get_mut(file.ino)?;
        let Kind::File(data) = &node.kind else {
            return Err(Errno::Isdir);
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let n = (data.len() - start).min(buf.len());
        buf[..n].copy_from_slice(&data[start..start + n]);
        node.atim = now;
        Ok(n)
    }

    fn write_at(&self, file: &mut MemFile, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        if buf.is_empty() {
            // A zero-length write changes nothing, not even the size.
            return Ok(0);
        }
        let now = (self.now)();
        let mut st = self.state.borrow_mut();
        let end = offset.checked_add(len64(buf.len())).ok_or(Errno::Fbig)?;
        let size = match &st.get(file.ino)?.kind {
            Kind::File(d) => len64(d.len()),
            _ => return Err(Errno::Isdir),
        };
        if end > size {
            st.resize(file.ino, end, now)?;
        }
        let node = st.get_mut(file.ino)?;
        let Kind::File(data) = &mut node.kind else {
            return Err(Errno::Isdir);
        };
        let start = to_index(offset)?;
        data[start..start + buf.len()].copy_from_slice(buf);
        node.mtim = now;
        node.ctim = now;
        Ok(buf.len())
    }

    fn file_stat(&self, file: &MemFile) -> Result<Filestat, Errno> {
        self.stat(&file.ino)
    }

    fn set_len(&self, file: &mut MemFile, len: u64) -> Result<(), Errno> {
        let now = (self.now)();
        self.state.borrow_mut().resize(file.ino, len, now)
    }

    fn sync(&self, file: &mut MemFile, _data_only: bool) -> Result<(), Errno> {
        // Memory is the storage: a write is durable once it returns.
        self.state.borrow().get(file.ino).map(|_| ())
    }

    fn file_set_times(
        &self,
        file: &mut MemFile,
        atim: Option<u64>,
        mtim: Option<u64>,
    ) -> Result<(), Errno> {
        self.set_times(&file.ino, atim, mtim)
    }

    fn close(&self, file: MemFile) {
        let mut st = self.state.borrow_mut();
        if let Some(n) = st.inodes.get_mut(&file.ino) {
            n.open = n.open.saturating_sub(1);
        }
        st.reclaim(file.ino);
    }
}
