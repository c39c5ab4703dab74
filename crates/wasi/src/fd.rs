//! `fd_*` syscalls.

use alloc::string::String;
use alloc::vec::Vec;

use crate::backend::{FileSystem, Readiness};
use crate::ctx::{FdEntry, Handle, WasiCtx};
use crate::mem::{GuestMem, len_u64, to_u32};
use crate::types::{
    Advice, Dirent, Errno, Fdstat, Filestat, Filetype, PREOPENTYPE_DIR, Whence, fdflags, fstflags,
    rights,
};

/// Decodes `fstflags` + the two timestamps into "set to" values, with
/// `*_NOW` read from the realtime clock. Both a time and its `_NOW` flag
/// (or an unknown bit) is `Inval`.
pub(crate) fn decode_times(
    clock_now: impl Fn() -> Result<u64, Errno>,
    atim: u64,
    mtim: u64,
    flags: u16,
) -> Result<(Option<u64>, Option<u64>), Errno> {
    if flags & !fstflags::ALL != 0 {
        return Err(Errno::Inval);
    }
    let pick = |set: u16, now: u16, val: u64| -> Result<Option<u64>, Errno> {
        match (flags & set != 0, flags & now != 0) {
            (true, true) => Err(Errno::Inval),
            (true, false) => Ok(Some(val)),
            (false, true) => clock_now().map(Some),
            (false, false) => Ok(None),
        }
    };
    Ok((
        pick(fstflags::ATIM, fstflags::ATIM_NOW, atim)?,
        pick(fstflags::MTIM, fstflags::MTIM_NOW, mtim)?,
    ))
}

fn sync_flags(flags: u16) -> bool {
    flags & (fdflags::SYNC | fdflags::DSYNC) != 0
}

impl<F: FileSystem> WasiCtx<F> {
    /// `fd_close`.
    pub fn fd_close(&mut self, fd: u32) -> Result<(), Errno> {
        let entry = self.fds.remove(&fd).ok_or(Errno::Badf)?;
        self.release(entry)
    }

    /// `fd_renumber`: moves `from` onto `to`, closing what `to` held.
    pub fn fd_renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        if !self.fds.contains_key(&from) || !self.fds.contains_key(&to) {
            return Err(Errno::Badf);
        }
        if from == to {
            return Ok(());
        }
        let entry = self.fds.remove(&from).ok_or(Errno::Badf)?;
        self.install(to, entry);
        Ok(())
    }

    /// `fd_fdstat_get`.
    pub fn fd_fdstat_get(&self, mem: &mut GuestMem<'_>, fd: u32, out: u32) -> Result<(), Errno> {
        let e = self.entry(fd)?;
        let st = Fdstat {
            filetype: e.filetype().raw(),
            flags: e.flags,
            rights_base: e.base,
            rights_inheriting: e.inheriting,
        };
        mem.write_bytes(out, &st.encode())
    }

    /// `fd_fdstat_set_flags`.
    pub fn fd_fdstat_set_flags(&mut self, fd: u32, flags: u16) -> Result<(), Errno> {
        let e = self.entry_mut(fd)?;
        e.require(rights::FD_FDSTAT_SET_FLAGS)?;
        if flags & !fdflags::ALL != 0 {
            return Err(Errno::Inval);
        }
        e.flags = flags;
        Ok(())
    }

    /// `fd_fdstat_set_rights`: rights can only be dropped.
    pub fn fd_fdstat_set_rights(
        &mut self,
        fd: u32,
        base: u64,
        inheriting: u64,
    ) -> Result<(), Errno> {
        let e = self.entry_mut(fd)?;
        if base & !e.base != 0 || inheriting & !e.inheriting != 0 {
            return Err(Errno::Notcapable);
        }
        e.base = base;
        e.inheriting = inheriting;
        Ok(())
    }

    pub(crate) fn entry_stat(&self, e: &FdEntry<F>) -> Result<Filestat, Errno> {
        let h = e.handle.lock();
        match &*h {
            Handle::File { file, .. } => self.fs.file_stat(file),
            Handle::Dir { node, .. } => self.fs.stat(node),
            Handle::Input(_) | Handle::Output(_) => Ok(Filestat {
                filetype: h.filetype().raw(),
                nlink: 1,
                ..Filestat::default()
            }),
        }
    }

    /// `fd_filestat_get`.
    pub fn fd_filestat_get(&self, mem: &mut GuestMem<'_>, fd: u32, out: u32) -> Result<(), Errno> {
        let e = self.entry(fd)?;
        e.require(rights::FD_FILESTAT_GET)?;
        let st = self.entry_stat(e)?;
        mem.write_bytes(out, &st.encode())
    }

    /// `fd_filestat_set_size`.
    pub fn fd_filestat_set_size(&mut self, fd: u32, size: u64) -> Result<(), Errno> {
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_FILESTAT_SET_SIZE)?;
        match &mut *e.handle.lock() {
            Handle::File { file, .. } => fs.set_len(file, size),
            Handle::Dir { .. } => Err(Errno::Isdir),
            _ => Err(Errno::Inval),
        }
    }

    /// `fd_filestat_set_times`.
    pub fn fd_filestat_set_times(
        &mut self,
        fd: u32,
        atim: u64,
        mtim: u64,
        flags: u16,
    ) -> Result<(), Errno> {
        let clock = &self.clock;
        let (a, m) = decode_times(
            || clock.now(crate::types::ClockId::Realtime),
            atim,
            mtim,
            flags,
        )?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_FILESTAT_SET_TIMES)?;
        match &mut *e.handle.lock() {
            Handle::File { file, .. } => fs.file_set_times(file, a, m),
            Handle::Dir { node, .. } => fs.set_times(node, a, m),
            _ => Err(Errno::Inval),
        }
    }

    /// `fd_advise`: validated; advice is a hint the backends do not need.
    pub fn fd_advise(&mut self, fd: u32, offset: u64, len: u64, advice: u8) -> Result<(), Errno> {
        Advice::from_raw(advice)?;
        let e = self.entry(fd)?;
        e.require(rights::FD_ADVISE)?;
        offset.checked_add(len).ok_or(Errno::Inval)?;
        match &*e.handle.lock() {
            Handle::File { .. } => Ok(()),
            Handle::Dir { .. } => Err(Errno::Isdir),
            _ => Err(Errno::Spipe),
        }
    }

    /// `fd_allocate`: makes the file at least `offset + len` bytes long.
    pub fn fd_allocate(&mut self, fd: u32, offset: u64, len: u64) -> Result<(), Errno> {
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_ALLOCATE)?;
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        if end > i64::MAX.unsigned_abs() {
            return Err(Errno::Fbig);
        }
        match &mut *e.handle.lock() {
            Handle::File { file, .. } => {
                if fs.file_stat(file)?.size < end {
                    fs.set_len(file, end)?;
                }
                Ok(())
            }
            Handle::Dir { .. } => Err(Errno::Isdir),
            _ => Err(Errno::Spipe),
        }
    }

    /// `fd_sync` / `fd_datasync`.
    pub fn fd_sync(&mut self, fd: u32, data_only: bool) -> Result<(), Errno> {
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(if data_only {
            rights::FD_DATASYNC
        } else {
            rights::FD_SYNC
        })?;
        match &mut *e.handle.lock() {
            Handle::File { file, .. } => fs.sync(file, data_only),
            Handle::Dir { node, .. } => fs.sync_dir(node),
            Handle::Output(s) => s.flush(),
            Handle::Input(_) => Err(Errno::Inval),
        }
    }

    /// `fd_seek`.
    pub fn fd_seek(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        delta: i64,
        whence: u8,
        out: u32,
    ) -> Result<(), Errno> {
        let whence = Whence::from_raw(whence)?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        if whence == Whence::Cur && delta == 0 {
            if e.base & (rights::FD_SEEK | rights::FD_TELL) == 0 {
                return Err(Errno::Notcapable);
            }
        } else {
            e.require(rights::FD_SEEK)?;
        }
        mem.range(out, 8)?;
        let mut h = e.handle.lock();
        let Handle::File { file, offset, .. } = &mut *h else {
            return Err(match *h {
                Handle::Dir { .. } => Errno::Isdir,
                _ => Errno::Spipe,
            });
        };
        let base = match whence {
            Whence::Set => 0,
            Whence::Cur => *offset,
            Whence::End => fs.file_stat(file)?.size,
        };
        let base = i64::try_from(base).map_err(|_| Errno::Overflow)?;
        let new = base.checked_add(delta).ok_or(Errno::Inval)?;
        let new = u64::try_from(new).map_err(|_| Errno::Inval)?;
        *offset = new;
        mem.write_u64(out, new)
    }

    /// `fd_tell`.
    pub fn fd_tell(&mut self, mem: &mut GuestMem<'_>, fd: u32, out: u32) -> Result<(), Errno> {
        let e = self.entry(fd)?;
        e.require(rights::FD_TELL)?;
        match &*e.handle.lock() {
            Handle::File { offset, .. } => mem.write_u64(out, *offset),
            Handle::Dir { .. } => Err(Errno::Isdir),
            _ => Err(Errno::Spipe),
        }
    }

    /// `fd_read`: reads at the current offset (files) or from the stream.
    pub fn fd_read(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        out: u32,
    ) -> Result<(), Errno> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.range(out, 4)?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_READ)?;
        let mut total = 0usize;
        match &mut *e.handle.lock() {
            Handle::File { file, offset, .. } => {
                for &(buf, len) in &iovs {
                    let dst = mem.slice_mut(buf, len)?;
                    let n = fs.read_at(file, dst, *offset)?;
                    *offset = offset.saturating_add(len_u64(n));
                    total += n;
                    if n < dst.len() {
                        break;
                    }
                }
            }
            Handle::Input(s) => {
                if e.flags & fdflags::NONBLOCK != 0 && s.readiness() == Readiness::NotReady {
                    return Err(Errno::Again);
                }
                // One read into the first non-empty buffer: a second read
                // could block after data was already delivered.
                if let Some(&(buf, len)) = iovs.iter().find(|(_, len)| *len > 0) {
                    total = s.read(mem.slice_mut(buf, len)?)?;
                }
            }
            Handle::Dir { .. } => return Err(Errno::Isdir),
            Handle::Output(_) => return Err(Errno::Badf),
        }
        mem.write_u32(out, to_u32(total)?)
    }

    /// `fd_pread`: reads at `offset` without moving the fd offset.
    pub fn fd_pread(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<(), Errno> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.range(out, 4)?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_READ)?;
        let mut h = e.handle.lock();
        let Handle::File { file, .. } = &mut *h else {
            return Err(if matches!(*h, Handle::Dir { .. }) {
                Errno::Isdir
            } else {
                Errno::Spipe
            });
        };
        let mut total = 0usize;
        let mut pos = offset;
        for &(buf, len) in &iovs {
            let dst = mem.slice_mut(buf, len)?;
            let n = fs.read_at(file, dst, pos)?;
            pos = pos.saturating_add(len_u64(n));
            total += n;
            if n < dst.len() {
                break;
            }
        }
        mem.write_u32(out, to_u32(total)?)
    }

    /// `fd_write`: at the current offset, or at end of file in append mode.
    pub fn fd_write(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        out: u32,
    ) -> Result<(), Errno> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.range(out, 4)?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_WRITE)?;
        let flags = e.flags;
        let mut total = 0usize;
        match &mut *e.handle.lock() {
            Handle::File { file, offset, .. } => {
                if flags & fdflags::APPEND != 0 {
                    *offset = fs.file_stat(file)?.size;
                }
                for &(buf, len) in &iovs {
                    let src = mem.slice(buf, len)?;
                    let n = write_all_at(fs, file, src, *offset)?;
                    *offset = offset.saturating_add(len_u64(n));
                    total += n;
                    if n < src.len() {
                        break;
                    }
                }
                if sync_flags(flags) {
                    fs.sync(file, flags & fdflags::SYNC == 0)?;
                }
            }
            Handle::Output(s) => {
                if flags & fdflags::NONBLOCK != 0 && s.readiness() == Readiness::NotReady {
                    return Err(Errno::Again);
                }
                for &(buf, len) in &iovs {
                    let mut src = mem.slice(buf, len)?;
                    while !src.is_empty() {
                        let n = s.write(src)?;
                        if n == 0 {
                            return Err(Errno::Io);
                        }
                        total += n;
                        src = src.get(n..).unwrap_or(&[]);
                    }
                }
            }
            Handle::Dir { .. } => return Err(Errno::Isdir),
            Handle::Input(_) => return Err(Errno::Badf),
        }
        mem.write_u32(out, to_u32(total)?)
    }

    /// `fd_pwrite`: writes at `offset` without moving the fd offset.
    pub fn fd_pwrite(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        iovs: u32,
        iovs_len: u32,
        offset: u64,
        out: u32,
    ) -> Result<(), Errno> {
        let iovs = mem.iovecs(iovs, iovs_len)?;
        mem.range(out, 4)?;
        let fs = &self.fs;
        let e = self.fds.get_mut(&fd).ok_or(Errno::Badf)?;
        e.require(rights::FD_WRITE)?;
        let flags = e.flags;
        let mut h = e.handle.lock();
        let Handle::File { file, .. } = &mut *h else {
            return Err(if matches!(*h, Handle::Dir { .. }) {
                Errno::Isdir
            } else {
                Errno::Spipe
            });
        };
        let mut total = 0usize;
        let mut pos = offset;
        for &(buf, len) in &iovs {
            let src = mem.slice(buf, len)?;
            let n = write_all_at(fs, file, src, pos)?;
            pos = pos.saturating_add(len_u64(n));
            total += n;
        }
        if sync_flags(flags) {
            fs.sync(file, flags & fdflags::SYNC == 0)?;
        }
        mem.write_u32(out, to_u32(total)?)
    }

    /// `fd_prestat_get`.
    pub fn fd_prestat_get(&self, mem: &mut GuestMem<'_>, fd: u32, out: u32) -> Result<(), Errno> {
        let name = self.preopen_name(fd)?;
        mem.range(out, 8)?;
        mem.write_bytes(out, &[PREOPENTYPE_DIR, 0, 0, 0])?;
        mem.write_u32(out + 4, to_u32(name.len())?)
    }

    /// `fd_prestat_dir_name`.
    pub fn fd_prestat_dir_name(
        &self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        buf: u32,
        len: u32,
    ) -> Result<(), Errno> {
        let name = self.preopen_name(fd)?;
        if crate::mem::to_usize(len)? < name.len() {
            return Err(Errno::Nametoolong);
        }
        mem.write_bytes(buf, name.as_bytes())
    }

    fn preopen_name(&self, fd: u32) -> Result<String, Errno> {
        match &*self.entry(fd)?.handle.lock() {
            Handle::Dir {
                preopen: Some(name),
                ..
            } => Ok(name.clone()),
            _ => Err(Errno::Badf),
        }
    }

    /// `fd_readdir`: entries from index `cookie`, `.` and `..` first, each a
    /// 24-byte `dirent` plus name; the last one is cut at `buf_len`.
    pub fn fd_readdir(
        &mut self,
        mem: &mut GuestMem<'_>,
        fd: u32,
        buf: u32,
        buf_len: u32,
        cookie: u64,
        out: u32,
    ) -> Result<(), Errno> {
        mem.range(buf, buf_len)?;
        mem.range(out, 4)?;
        let e = self.entry(fd)?;
        e.require(rights::FD_READDIR)?;
        let (node, parent) = match &*e.handle.lock() {
            Handle::Dir { node, parent, .. } => (node.clone(), parent.clone()),
            _ => return Err(Errno::Notdir),
        };
        let self_ino = self.fs.stat(&node)?.ino;
        let parent_ino = match parent {
            Some(p) => self.fs.stat(&p)?.ino,
            None => self_ino,
        };
        let mut entries = self.fs.readdir(&node)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let cap = crate::mem::to_usize(buf_len)?;
        let start = usize::try_from(cookie).unwrap_or(usize::MAX);
        let dots = [(".", self_ino), ("..", parent_ino)];
        let all = dots
            .iter()
            .map(|(n, ino)| (*n, *ino, Filetype::Directory))
            .chain(entries.iter().map(|d| (d.name.as_str(), d.ino, d.filetype)));
        let mut bytes: Vec<u8> = Vec::new();
        for (i, (name, ino, ty)) in all.enumerate().skip(start) {
            if bytes.len() >= cap {
                break;
            }
            let d = Dirent {
                d_next: u64::try_from(i + 1).map_err(|_| Errno::Overflow)?,
                d_ino: ino,
                d_namlen: to_u32(name.len())?,
                d_type: ty.raw(),
            };
            bytes.extend_from_slice(&d.encode());
            bytes.extend_from_slice(name.as_bytes());
        }
        bytes.truncate(cap);
        mem.write_bytes(buf, &bytes)?;
        mem.write_u32(out, to_u32(bytes.len())?)
    }
}

fn write_all_at<F: FileSystem>(
    fs: &F,
    file: &mut F::File,
    mut src: &[u8],
    mut pos: u64,
) -> Result<usize, Errno> {
    let mut total = 0;
    while !src.is_empty() {
        let n = fs.write_at(file, src, pos)?;
        if n == 0 {
            break;
        }
        total += n;
        pos = pos.saturating_add(len_u64(n));
        src = src.get(n..).unwrap_or(&[]);
    }
    Ok(total)
}
