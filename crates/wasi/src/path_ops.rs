//! `path_*` syscalls, all resolved through [`crate::path::resolve`].

use alloc::string::{String, ToString};

use crate::backend::{FileSystem, OpenOptions};
use crate::ctx::{Desc, FdEntry, Handle, WasiCtx};
use crate::fd::decode_times;
use crate::mem::{GuestMem, to_u32, to_usize};
use crate::path::{Resolved, resolve};
use crate::types::{ClockId, Errno, Filetype, fdflags, lookupflags, oflags, rights};

/// Rights that need the file opened for writing.
const WRITE_RIGHTS: u64 = rights::FD_WRITE | rights::FD_ALLOCATE | rights::FD_FILESTAT_SET_SIZE;

impl<F: FileSystem> WasiCtx<F> {
    /// The directory behind `fd` (`Notdir` if it is not one) after checking
    /// it holds `needed`.
    /// The directory behind `fd` and the root preopen it descends from.
    fn dir_fd(&self, fd: u32, needed: u64) -> Result<(F::Node, Option<F::Node>), Errno> {
        let e = self.entry(fd)?;
        let dir = match &*e.handle.lock() {
            Handle::Dir { node, root, .. } => (node.clone(), root.clone()),
            _ => return Err(Errno::Notdir),
        };
        e.require(needed)?;
        Ok(dir)
    }

    fn resolve_at(
        &self,
        fd: u32,
        needed: u64,
        path: &str,
        follow: bool,
    ) -> Result<Resolved<F::Node>, Errno> {
        let (dir, root) = self.dir_fd(fd, needed)?;
        resolve(&self.fs, &dir, root.as_ref(), path, follow)
    }

    /// `path_open`.
    #[expect(clippy::too_many_arguments, reason = "mirrors the WASI signature")]
    pub fn path_open(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        dirflags: u32,
        path: (u32, u32),
        oflags: u16,
        base: u64,
        inheriting: u64,
        fdflags: u16,
        out: u32,
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?.to_string();
        mem.range(out, 4)?;
        if oflags & !oflags::ALL != 0 || fdflags & !fdflags::ALL != 0 {
            return Err(Errno::Inval);
        }
        let creat = oflags & oflags::CREAT != 0;
        let want_dir = oflags & oflags::DIRECTORY != 0;
        let trunc = oflags & oflags::TRUNC != 0;
        if creat && want_dir {
            return Err(Errno::Inval);
        }
        let mut needed = rights::PATH_OPEN;
        if creat {
            needed |= rights::PATH_CREATE_FILE;
        }
        if trunc {
            needed |= rights::PATH_FILESTAT_SET_SIZE;
        }
        let dir_inheriting = self.entry(fd)?.inheriting;
        let r = self.resolve_at(
            fd,
            needed,
            &path,
            dirflags & lookupflags::SYMLINK_FOLLOW != 0,
        )?;
        if (base | inheriting) & !dir_inheriting != 0 {
            return Err(Errno::Notcapable);
        }
        let write = base & WRITE_RIGHTS != 0 || trunc;
        let opts = OpenOptions {
            read: base & rights::FD_READ != 0,
            write,
            truncate: trunc,
        };
        let handle = match r.node {
            None => {
                if !creat {
                    return Err(Errno::Noent);
                }
                if r.must_be_dir {
                    return Err(Errno::Isdir);
                }
                let (parent, name) = r.entry(Errno::Inval)?;
                let exclusive = oflags & oflags::EXCL != 0;
                let (_, file) = self.fs.create(parent, name, exclusive, opts)?;
                Handle::File {
                    file,
                    offset: 0,
                    filetype: Filetype::RegularFile,
                }
            }
            Some((node, ty)) => {
                if creat && oflags & oflags::EXCL != 0 {
                    return Err(Errno::Exist);
                }
                match ty {
                    Filetype::SymbolicLink => return Err(Errno::Loop),
                    Filetype::Directory => {
                        if write {
                            return Err(Errno::Isdir);
                        }
                        let parent = if r.name.is_some() {
                            Some(r.parent)
                        } else {
                            r.grandparent
                        };
                        Handle::Dir {
                            node,
                            parent,
                            preopen: None,
                            root: self.dir_fd(fd, 0)?.1,
                        }
                    }
                    other => {
                        if want_dir || r.must_be_dir {
                            return Err(Errno::Notdir);
                        }
                        let file = self.fs.open(&node, opts)?;
                        Handle::File {
                            file,
                            offset: 0,
                            filetype: other,
                        }
                    }
                }
            }
        };
        let mask = match &handle {
            Handle::Dir { .. } => rights::DIRECTORY,
            // A device is not seekable: without `fd_seek`/`fd_tell` a
            // character device reads as a terminal (`isatty`).
            Handle::File {
                filetype: Filetype::CharacterDevice,
                ..
            } => rights::REGULAR_FILE & !(rights::FD_SEEK | rights::FD_TELL),
            _ => rights::REGULAR_FILE,
        };
        let entry = FdEntry {
            handle: Desc::new(handle),
            flags: fdflags,
            base: base & mask,
            inheriting,
        };
        let new_fd = self.insert(entry)?;
        mem.write_u32(out, new_fd)
    }

    /// `path_create_directory`.
    pub fn path_create_directory(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?;
        let r = self.resolve_at(fd, rights::PATH_CREATE_DIRECTORY, path, false)?;
        if r.node.is_some() {
            return Err(Errno::Exist);
        }
        let (parent, name) = r.entry(Errno::Exist)?;
        self.fs.create_dir(parent, name)
    }

    /// `path_remove_directory`.
    pub fn path_remove_directory(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?;
        let r = self.resolve_at(fd, rights::PATH_REMOVE_DIRECTORY, path, false)?;
        match r.filetype() {
            None => return Err(Errno::Noent),
            Some(Filetype::Directory) => {}
            Some(_) => return Err(Errno::Notdir),
        }
        let (parent, name) = r.entry(Errno::Inval)?;
        self.fs.remove_dir(parent, name)
    }

    /// `path_unlink_file`.
    pub fn path_unlink_file(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        path: (u32, u32),
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?;
        let r = self.resolve_at(fd, rights::PATH_UNLINK_FILE, path, false)?;
        match r.filetype() {
            None => return Err(Errno::Noent),
            Some(Filetype::Directory) => return Err(Errno::Isdir),
            Some(_) if r.must_be_dir => return Err(Errno::Notdir),
            Some(_) => {}
        }
        let (parent, name) = r.entry(Errno::Isdir)?;
        self.fs.unlink(parent, name)
    }

    /// `path_rename`.
    pub fn path_rename(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        old: (u32, u32),
        new_fd: u32,
        new: (u32, u32),
    ) -> Result<(), Errno> {
        let old = mem.read_str(old.0, old.1)?;
        let new = mem.read_str(new.0, new.1)?;
        let src_dir = self.dir_fd(fd, rights::PATH_RENAME_SOURCE)?;
        let dst_dir = self.dir_fd(new_fd, rights::PATH_RENAME_TARGET)?;
        let rs = resolve(&self.fs, &src_dir.0, src_dir.1.as_ref(), old, false)?;
        let rd = resolve(&self.fs, &dst_dir.0, dst_dir.1.as_ref(), new, false)?;
        let src_is_dir = match rs.filetype() {
            None => return Err(Errno::Noent),
            Some(t) => t == Filetype::Directory,
        };
        if !src_is_dir && (rs.must_be_dir || rd.must_be_dir) {
            return Err(Errno::Notdir);
        }
        match rd.filetype() {
            Some(Filetype::Directory) if !src_is_dir => return Err(Errno::Isdir),
            Some(t) if src_is_dir && t != Filetype::Directory => return Err(Errno::Notdir),
            _ => {}
        }
        let (sp, sn) = rs.entry(Errno::Busy)?;
        let (dp, dn) = rd.entry(Errno::Busy)?;
        self.fs.rename(sp, sn, dp, dn)
    }

    /// `path_symlink`: creates `new` (under `fd`) pointing at `target`.
    pub fn path_symlink(
        &mut self,
        mem: &GuestMem<'_>,
        target: (u32, u32),
        fd: u32,
        new: (u32, u32),
    ) -> Result<(), Errno> {
        let target = mem.read_str(target.0, target.1)?;
        let new = mem.read_str(new.0, new.1)?;
        let r = self.resolve_at(fd, rights::PATH_SYMLINK, new, false)?;
        if r.node.is_some() {
            return Err(Errno::Exist);
        }
        if r.must_be_dir {
            return Err(Errno::Noent);
        }
        if target.is_empty() {
            return Err(Errno::Noent);
        }
        if target.contains('\0') {
            return Err(Errno::Inval);
        }
        // An absolute target could never be followed inside the sandbox
        // and would point host programs outside it, unless the directory
        // descends from a root preopen (then it is followed from there).
        if target.starts_with('/') && self.dir_fd(fd, 0)?.1.is_none() {
            return Err(Errno::Perm);
        }
        let (parent, name) = r.entry(Errno::Exist)?;
        self.fs.symlink(parent, name, target)
    }

    /// `path_link`.
    pub fn path_link(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        flags: u32,
        old: (u32, u32),
        new_fd: u32,
        new: (u32, u32),
    ) -> Result<(), Errno> {
        let old = mem.read_str(old.0, old.1)?;
        let new = mem.read_str(new.0, new.1)?;
        let src_dir = self.dir_fd(fd, rights::PATH_LINK_SOURCE)?;
        let dst_dir = self.dir_fd(new_fd, rights::PATH_LINK_TARGET)?;
        if flags & lookupflags::SYMLINK_FOLLOW != 0 {
            return Err(Errno::Inval);
        }
        let rs = resolve(&self.fs, &src_dir.0, src_dir.1.as_ref(), old, false)?;
        match rs.filetype() {
            None => return Err(Errno::Noent),
            Some(Filetype::Directory) => return Err(Errno::Perm),
            Some(_) if rs.must_be_dir => return Err(Errno::Notdir),
            Some(_) => {}
        }
        let rd = resolve(&self.fs, &dst_dir.0, dst_dir.1.as_ref(), new, false)?;
        if rd.node.is_some() {
            return Err(Errno::Exist);
        }
        if rd.must_be_dir {
            return Err(Errno::Noent);
        }
        let (sp, sn) = rs.entry(Errno::Perm)?;
        let (dp, dn) = rd.entry(Errno::Exist)?;
        self.fs.link(sp, sn, dp, dn)
    }

    /// `path_readlink`: copies at most `buf_len` bytes of the target.
    pub fn path_readlink(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        path: (u32, u32),
        buf: u32,
        buf_len: u32,
        out: u32,
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?.to_string();
        mem.range(buf, buf_len)?;
        mem.range(out, 4)?;
        let r = self.resolve_at(fd, rights::PATH_READLINK, &path, false)?;
        let target: String = match &r.node {
            None => return Err(Errno::Noent),
            Some((node, Filetype::SymbolicLink)) => self.fs.readlink(node)?,
            Some(_) => return Err(Errno::Inval),
        };
        let n = target.len().min(to_usize(buf_len)?);
        mem.write_bytes(buf, target.as_bytes().get(..n).unwrap_or(&[]))?;
        mem.write_u32(out, to_u32(n)?)
    }

    /// `path_filestat_get`.
    pub fn path_filestat_get(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        flags: u32,
        path: (u32, u32),
        out: u32,
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?.to_string();
        mem.range(out, 64)?;
        let r = self.resolve_at(
            fd,
            rights::PATH_FILESTAT_GET,
            &path,
            flags & lookupflags::SYMLINK_FOLLOW != 0,
        )?;
        let Some((node, ty)) = &r.node else {
            return Err(Errno::Noent);
        };
        if r.must_be_dir && *ty != Filetype::Directory {
            return Err(Errno::Notdir);
        }
        let st = self.fs.stat(node)?;
        mem.write_bytes(out, &st.encode())
    }

    /// `path_filestat_set_times`.
    #[expect(clippy::too_many_arguments, reason = "mirrors the WASI signature")]
    pub fn path_filestat_set_times(
        &mut self,
        mem: &GuestMem<'_>,
        fd: u32,
        flags: u32,
        path: (u32, u32),
        atim: u64,
        mtim: u64,
        fst: u16,
    ) -> Result<(), Errno> {
        let path = mem.read_str(path.0, path.1)?;
        let clock = &self.clock;
        let (a, m) = decode_times(|| clock.now(ClockId::Realtime), atim, mtim, fst)?;
        let r = self.resolve_at(
            fd,
            rights::PATH_FILESTAT_SET_TIMES,
            path,
            flags & lookupflags::SYMLINK_FOLLOW != 0,
        )?;
        let Some((node, ty)) = &r.node else {
            return Err(Errno::Noent);
        };
        if r.must_be_dir && *ty != Filetype::Directory {
            return Err(Errno::Notdir);
        }
        self.fs.set_times(node, a, m)
    }
}
