//! The read-only initrd: a POSIX ustar archive in memory, parsed once into
//! a directory tree whose files point into the archive (no copy).
//!
//! Accepted: ustar and GNU headers (`ustar\0` `00` or `ustar ` ` \0`
//! magic), members of type regular file (`0` or NUL), hard link (`1`,
//! sharing the earlier member's data), symlink (`2`), directory (`5`),
//! contiguous file (`7`, as a regular file); pax extended headers (`x`:
//! `path`, `linkpath`, `size`, `mtime` records) and GNU long names (`L`,
//! `K`). Global pax headers (`g`) and device or FIFO members (`3`, `4`, `6`)
//! are skipped. Paths are relative to the archive root; a leading `/` or
//! `./` is dropped and a `..` component is an error. Parent directories
//! that have no member of their own are created with mode `0o755`. A later
//! member with the same path replaces the earlier one, as `tar -x` does.
//! The archive ends at two zero blocks, at one zero block or at the end of
//! the data (exactly at a block boundary).
//!
//! Every malformed input is a [`TarError`]; parsing never panics.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use hypha_wasi::types::{Errno, Filestat, Filetype};
use hypha_wasi::{DirEntry, OpenOptions};

use crate::mount::{MountFs, OpenFile, StaticFile};

const BLOCK: usize = 512;

/// Inode number of the root directory of a [`TarFs`].
pub const TAR_ROOT_INO: u64 = 1;

/// Why an archive was rejected. Offsets are byte offsets of the member's
/// header in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TarError {
    /// The data ends inside a header or a member's contents.
    Truncated {
        /// Header offset.
        offset: usize,
    },
    /// The header checksum does not match its bytes.
    BadChecksum {
        /// Header offset.
        offset: usize,
    },
    /// The magic field is neither ustar nor GNU.
    BadMagic {
        /// Header offset.
        offset: usize,
    },
    /// A numeric field is not octal (or is out of range).
    BadNumber {
        /// Header offset.
        offset: usize,
        /// Which field.
        field: &'static str,
    },
    /// A path or link target is not UTF-8, is empty where a name is needed,
    /// contains `..`, or a component is over 255 bytes.
    BadPath {
        /// Header offset.
        offset: usize,
    },
    /// A pax extended header is malformed.
    BadPax {
        /// Header offset.
        offset: usize,
    },
    /// A path goes through something that is not a directory, or a
    /// directory would replace a non-directory (or the reverse).
    NotADirectory {
        /// Header offset.
        offset: usize,
    },
    /// A hard link names a member that is not an earlier regular file.
    BadLink {
        /// Header offset.
        offset: usize,
    },
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarError::Truncated { offset } => write!(f, "archive truncated in member at {offset}"),
            TarError::BadChecksum { offset } => write!(f, "bad header checksum at {offset}"),
            TarError::BadMagic { offset } => write!(f, "not a ustar header at {offset}"),
            TarError::BadNumber { offset, field } => {
                write!(f, "bad {field} field in header at {offset}")
            }
            TarError::BadPath { offset } => write!(f, "bad path in member at {offset}"),
            TarError::BadPax { offset } => write!(f, "bad pax header at {offset}"),
            TarError::NotADirectory { offset } => {
                write!(f, "member at {offset} conflicts with a non-directory")
            }
            TarError::BadLink { offset } => write!(f, "bad hard link in member at {offset}"),
        }
    }
}

impl core::error::Error for TarError {}

/// The archive bytes: borrowed for the life of the kernel (an initrd left
/// in place by the loader) or shared.
#[derive(Clone, Debug)]
pub enum ArchiveBytes {
    /// Memory that lives forever.
    Static(&'static [u8]),
    /// A reference-counted copy.
    Shared(Arc<[u8]>),
}

impl ArchiveBytes {
    fn bytes(&self) -> &[u8] {
        match self {
            ArchiveBytes::Static(b) => b,
            ArchiveBytes::Shared(b) => b,
        }
    }
}

impl From<&'static [u8]> for ArchiveBytes {
    fn from(b: &'static [u8]) -> Self {
        ArchiveBytes::Static(b)
    }
}

impl From<Arc<[u8]>> for ArchiveBytes {
    fn from(b: Arc<[u8]>) -> Self {
        ArchiveBytes::Shared(b)
    }
}

impl From<Vec<u8>> for ArchiveBytes {
    fn from(b: Vec<u8>) -> Self {
        ArchiveBytes::Shared(b.into())
    }
}

#[derive(Debug)]
enum Kind {
    Dir(BTreeMap<String, u64>),
    /// The bytes and, when the archive recorded it, their SHA-256.
    File(Range<usize>, Option<[u8; 32]>),
    Symlink(String),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    mode: u32,
    mtime_ns: u64,
    nlink: u64,
}

/// A read-only file system over a ustar archive.
#[derive(Debug)]
pub struct TarFs {
    data: ArchiveBytes,
    /// `nodes[ino - 1]`.
    nodes: Vec<Node>,
}

// === parsing ===

/// Fields of one header after pax/GNU overrides.
struct Member {
    offset: usize,
    path: String,
    link: String,
    typeflag: u8,
    mode: u32,
    mtime: u64,
    data: Range<usize>,
    sha256: Option<[u8; 32]>,
}

#[derive(Default)]
struct Overrides {
    path: Option<String>,
    link: Option<String>,
    size: Option<u64>,
    mtime: Option<u64>,
    sha256: Option<[u8; 32]>,
}

fn field(h: &[u8], r: Range<usize>) -> &[u8] {
    h.get(r).unwrap_or(&[])
}

/// A NUL-terminated string field.
fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..end).unwrap_or(&[])
}

/// An octal field: optional leading spaces, digits, then NUL/space.
fn octal(b: &[u8], offset: usize, name: &'static str) -> Result<u64, TarError> {
    let bad = TarError::BadNumber { offset, field: name };
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        // GNU base-256: big-endian after the marker bit.
        let mut v: u64 = u64::from(b.first().copied().unwrap_or(0) & 0x7f);
        for &c in b.get(1..).unwrap_or(&[]) {
            v = v.checked_mul(256).ok_or_else(|| bad.clone())?;
            v |= u64::from(c);
        }
        return Ok(v);
    }
    let mut v: u64 = 0;
    let mut seen = false;
    let mut ended = false;
    for &c in b {
        match c {
            b' ' | 0 if !seen => {
                if c == 0 {
                    ended = true;
                }
            }
            b'0'..=b'7' if !ended => {
                seen = true;
                v = v
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .ok_or_else(|| bad.clone())?;
            }
            b' ' | 0 => ended = true,
            _ => return Err(bad),
        }
    }
    Ok(v)
}

fn checksum_ok(h: &[u8], offset: usize) -> Result<bool, TarError> {
    let stored = octal(field(h, 148..156), offset, "checksum")?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &c)| if (148..156).contains(&i) { 32 } else { u64::from(c) })
        .sum();
    Ok(sum == stored)
}

fn utf8(b: &[u8], offset: usize) -> Result<String, TarError> {
    core::str::from_utf8(b)
        .map(ToString::to_string)
        .map_err(|_| TarError::BadPath { offset })
}

/// Parses pax records `"<len> <key>=<value>\n"`.
fn parse_pax(data: &[u8], offset: usize, o: &mut Overrides) -> Result<(), TarError> {
    let bad = || TarError::BadPax { offset };
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|&c| c == 0) {
            break;
        }
        let sp = rest.iter().position(|&c| c == b' ').ok_or_else(bad)?;
        let len_txt = core::str::from_utf8(rest.get(..sp).ok_or_else(bad)?).map_err(|_| bad())?;
        let len: usize = len_txt.parse().map_err(|_| bad())?;
        if len <= sp + 1 || len > rest.len() {
            return Err(bad());
        }
        let rec = rest.get(sp + 1..len).ok_or_else(bad)?;
        let rec = rec.strip_suffix(b"\n").ok_or_else(bad)?;
        let eq = rec.iter().position(|&c| c == b'=').ok_or_else(bad)?;
        let key = rec.get(..eq).ok_or_else(bad)?;
        let value = rec.get(eq + 1..).ok_or_else(bad)?;
        match key {
            b"path" => o.path = Some(utf8(value, offset)?),
            b"linkpath" => o.link = Some(utf8(value, offset)?),
            b"size" => {
                let s = core::str::from_utf8(value).map_err(|_| bad())?;
                o.size = Some(s.parse().map_err(|_| bad())?);
            }
            SHA256_KEY => o.sha256 = Some(hex_digest(value).ok_or_else(bad)?),
            b"mtime" => {
                let s = core::str::from_utf8(value).map_err(|_| bad())?;
                let secs = s.split('.').next().unwrap_or("");
                o.mtime = Some(secs.parse().map_err(|_| bad())?);
            }
            _ => {}
        }
        rest = rest.get(len..).ok_or_else(bad)?;
    }
    Ok(())
}

/// The pax key under which an archive may record a regular file's
/// SHA-256 (64 hex digits). Hypha's xtask writes it for every file; the
/// kernel uses it as the file's identity in the module cache instead of
/// hashing the bytes again (the archive is part of the boot image, so its
/// records are as trusted as the bytes they describe).
pub const SHA256_KEY: &[u8] = b"HYPHA.sha256";

/// 64 hex digits as 32 bytes.
fn hex_digest(text: &[u8]) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let digit = |c: u8| char::from(c).to_digit(16).and_then(|d| u8::try_from(d).ok());
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

fn blocks_for(size: usize) -> Option<usize> {
    size.checked_add(BLOCK - 1).map(|s| s / BLOCK * BLOCK)
}

/// Splits the archive into members.
fn members(data: &[u8]) -> Result<Vec<Member>, TarError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut pending = Overrides::default();
    loop {
        if pos == data.len() {
            break;
        }
        let offset = pos;
        let h = data
            .get(pos..pos.checked_add(BLOCK).ok_or(TarError::Truncated { offset })?)
            .ok_or(TarError::Truncated { offset })?;
        if h.iter().all(|&c| c == 0) {
            break;
        }
        if !checksum_ok(h, offset)? {
            return Err(TarError::BadChecksum { offset });
        }
        let magic = field(h, 257..263);
        if magic != b"ustar\0" && magic != b"ustar " {
            return Err(TarError::BadMagic { offset });
        }
        let typeflag = field(h, 156..157).first().copied().unwrap_or(0);
        let header_size = octal(field(h, 124..136), offset, "size")?;
        let size = pending.size.take().unwrap_or(header_size);
        let size = usize::try_from(size).map_err(|_| TarError::Truncated { offset })?;
        let start = pos + BLOCK;
        let end = start.checked_add(size).ok_or(TarError::Truncated { offset })?;
        if end > data.len() {
            return Err(TarError::Truncated { offset });
        }
        let body = data.get(start..end).ok_or(TarError::Truncated { offset })?;
        let next = start
            .checked_add(blocks_for(size).ok_or(TarError::Truncated { offset })?)
            .ok_or(TarError::Truncated { offset })?;
        // The last member's padding may be missing only at the very end.
        pos = next.min(data.len());
        match typeflag {
            b'x' => {
                parse_pax(body, offset, &mut pending)?;
                continue;
            }
            b'g' => continue,
            b'L' => {
                pending.path = Some(utf8(cstr(body), offset)?);
                continue;
            }
            b'K' => {
                pending.link = Some(utf8(cstr(body), offset)?);
                continue;
            }
            _ => {}
        }
        let path = match pending.path.take() {
            Some(p) => p,
            None => {
                let name = cstr(field(h, 0..100));
                let prefix = if magic == b"ustar\0" {
                    cstr(field(h, 345..500))
                } else {
                    &[]
                };
                let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
                if !prefix.is_empty() {
                    p.extend_from_slice(prefix);
                    p.push(b'/');
                }
                p.extend_from_slice(name);
                utf8(&p, offset)?
            }
        };
        let link = match pending.link.take() {
            Some(l) => l,
            None => utf8(cstr(field(h, 157..257)), offset)?,
        };
        let mode = octal(field(h, 100..108), offset, "mode")?;
        let header_mtime = octal(field(h, 136..148), offset, "mtime")?;
        let mtime = pending.mtime.take().unwrap_or(header_mtime);
        let sha256 = pending.sha256.take();
        pending = Overrides::default();
        out.push(Member {
            offset,
            path,
            link,
            typeflag,
            mode: u32::try_from(mode & 0o7777).unwrap_or(0),
            mtime,
            data: start..end,
            sha256,
        });
    }
    Ok(out)
}

/// The components of a member path; `None` for the root itself.
fn components(path: &str, offset: usize) -> Result<Vec<&str>, TarError> {
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(TarError::BadPath { offset }),
            c if c.len() > 255 => return Err(TarError::BadPath { offset }),
            c => out.push(c),
        }
    }
    Ok(out)
}

// === impl TarFs ===

impl TarFs {
    /// Parses `data` (a ustar archive) into a file system.
    pub fn new(data: impl Into<ArchiveBytes>) -> Result<Self, TarError> {
        let data = data.into();
        let mut fs = TarFs {
            data,
            nodes: alloc::vec![Node {
                kind: Kind::Dir(BTreeMap::new()),
                mode: 0o755,
                mtime_ns: 0,
                nlink: 1,
            }],
        };
        let members = members(fs.data.bytes())?;
        for m in members {
            fs.add(m)?;
        }
        Ok(fs)
    }

    /// Number of inodes (the root included).
    #[must_use]
    pub fn inode_count(&self) -> usize {
        self.nodes.len()
    }

    fn node(&self, ino: u64) -> Result<&Node, Errno> {
        let i = ino.checked_sub(1).ok_or(Errno::Noent)?;
        self.nodes
            .get(usize::try_from(i).map_err(|_| Errno::Noent)?)
            .ok_or(Errno::Noent)
    }

    fn node_mut(&mut self, ino: u64) -> Option<&mut Node> {
        let i = usize::try_from(ino.checked_sub(1)?).ok()?;
        self.nodes.get_mut(i)
    }

    fn push(&mut self, node: Node) -> u64 {
        self.nodes.push(node);
        u64::try_from(self.nodes.len()).unwrap_or(u64::MAX)
    }

    /// The directory `comps` names, creating missing ones.
    fn make_dirs(&mut self, comps: &[&str], offset: usize) -> Result<u64, TarError> {
        let mut dir = TAR_ROOT_INO;
        for &c in comps {
            let existing = match self.node(dir).map(|n| &n.kind) {
                Ok(Kind::Dir(entries)) => entries.get(c).copied(),
                _ => return Err(TarError::NotADirectory { offset }),
            };
            dir = match existing {
                Some(ino) => ino,
                None => {
                    let ino = self.push(Node {
                        kind: Kind::Dir(BTreeMap::new()),
                        mode: 0o755,
                        mtime_ns: 0,
                        nlink: 1,
                    });
                    self.insert(dir, c, ino, offset)?;
                    ino
                }
            };
        }
        match self.node(dir).map(|n| &n.kind) {
            Ok(Kind::Dir(_)) => Ok(dir),
            _ => Err(TarError::NotADirectory { offset }),
        }
    }

    fn insert(&mut self, dir: u64, name: &str, ino: u64, offset: usize) -> Result<(), TarError> {
        match self.node_mut(dir).map(|n| &mut n.kind) {
            Some(Kind::Dir(entries)) => {
                entries.insert(name.to_string(), ino);
                Ok(())
            }
            _ => Err(TarError::NotADirectory { offset }),
        }
    }

    fn lookup_path(&self, comps: &[&str]) -> Option<u64> {
        let mut cur = TAR_ROOT_INO;
        for &c in comps {
            match &self.node(cur).ok()?.kind {
                Kind::Dir(entries) => cur = *entries.get(c)?,
                _ => return None,
            }
        }
        Some(cur)
    }

    fn add(&mut self, m: Member) -> Result<(), TarError> {
        let offset = m.offset;
        let comps = components(&m.path, offset)?;
        let mtime_ns = m.mtime.saturating_mul(1_000_000_000);
        let Some((&name, parents)) = comps.split_last() else {
            // The root itself ("./"): take its mode if it is a directory.
            if m.typeflag == b'5' {
                if let Some(root) = self.node_mut(TAR_ROOT_INO) {
                    root.mode = m.mode;
                    root.mtime_ns = mtime_ns;
                }
                return Ok(());
            }
            return Err(TarError::BadPath { offset });
        };
        let dir = self.make_dirs(parents, offset)?;
        let existing = match self.node(dir).map(|n| &n.kind) {
            Ok(Kind::Dir(entries)) => entries.get(name).copied(),
            _ => None,
        };
        let existing_is_dir = existing
            .and_then(|i| self.node(i).ok())
            .is_some_and(|n| matches!(n.kind, Kind::Dir(_)));
        let kind = match m.typeflag {
            b'0' | 0 | b'7' => Kind::File(m.data, m.sha256),
            b'5' => {
                if let Some(ino) = existing.filter(|_| existing_is_dir) {
                    // A directory member for an implied directory: its mode.
                    if let Some(n) = self.node_mut(ino) {
                        n.mode = m.mode;
                        n.mtime_ns = mtime_ns;
                    }
                    return Ok(());
                }
                Kind::Dir(BTreeMap::new())
            }
            b'2' => {
                if m.link.is_empty() {
                    return Err(TarError::BadPath { offset });
                }
                Kind::Symlink(m.link)
            }
            b'1' => {
                let target = components(&m.link, offset)?;
                let ino = self
                    .lookup_path(&target)
                    .filter(|&i| self.node(i).is_ok_and(|n| matches!(n.kind, Kind::File(..))))
                    .ok_or(TarError::BadLink { offset })?;
                if existing_is_dir {
                    return Err(TarError::NotADirectory { offset });
                }
                if existing == Some(ino) {
                    return Ok(());
                }
                self.unlink_existing(existing);
                if let Some(n) = self.node_mut(ino) {
                    n.nlink += 1;
                }
                return self.insert(dir, name, ino, offset);
            }
            // Devices and FIFOs have no meaning in the initrd.
            _ => return Ok(()),
        };
        if existing_is_dir {
            // A non-directory (or a fresh directory) replacing a directory
            // would orphan its subtree.
            return Err(TarError::NotADirectory { offset });
        }
        self.unlink_existing(existing);
        let ino = self.push(Node {
            kind,
            mode: m.mode,
            mtime_ns,
            nlink: 1,
        });
        self.insert(dir, name, ino, offset)
    }

    fn unlink_existing(&mut self, existing: Option<u64>) {
        if let Some(n) = existing.and_then(|i| self.node_mut(i)) {
            n.nlink = n.nlink.saturating_sub(1);
        }
    }

    fn filetype(n: &Node) -> Filetype {
        match n.kind {
            Kind::Dir(_) => Filetype::Directory,
            Kind::File(..) => Filetype::RegularFile,
            Kind::Symlink(_) => Filetype::SymbolicLink,
        }
    }

    /// Contents of regular file `ino`.
    fn contents(&self, ino: u64) -> Result<&[u8], Errno> {
        match &self.node(ino)?.kind {
            Kind::File(r, _) => self.data.bytes().get(r.clone()).ok_or(Errno::Io),
            Kind::Dir(_) => Err(Errno::Isdir),
            Kind::Symlink(_) => Err(Errno::Loop),
        }
    }
}

fn len64(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

impl MountFs for TarFs {
    fn root(&self) -> u64 {
        TAR_ROOT_INO
    }

    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, Filetype), Errno> {
        match &self.node(dir)?.kind {
            Kind::Dir(entries) => {
                let ino = *entries.get(name).ok_or(Errno::Noent)?;
                Ok((ino, Self::filetype(self.node(ino)?)))
            }
            _ => Err(Errno::Notdir),
        }
    }

    fn static_file(&self, node: u64) -> Option<StaticFile> {
        let ArchiveBytes::Static(archive) = self.data else { return None };
        match &self.node(node).ok()?.kind {
            Kind::File(range, sha256) => Some(StaticFile { bytes: archive.get(range.clone())?, sha256: *sha256 }),
            _ => None,
        }
    }

    fn stat(&self, node: u64) -> Result<Filestat, Errno> {
        let n = self.node(node)?;
        let (size, nlink) = match &n.kind {
            Kind::File(r, _) => (len64(r.len()), n.nlink),
            Kind::Symlink(t) => (len64(t.len()), n.nlink),
            Kind::Dir(entries) => {
                let subdirs = entries
                    .values()
                    .filter(|&&i| self.node(i).is_ok_and(|c| matches!(c.kind, Kind::Dir(_))))
                    .count();
                (len64(entries.len()), 2 + len64(subdirs))
            }
        };
        Ok(Filestat {
            dev: 0,
            ino: node,
            filetype: Self::filetype(n).raw(),
            nlink,
            size,
            atim: n.mtime_ns,
            mtim: n.mtime_ns,
            ctim: n.mtime_ns,
        })
    }

    fn mode(&self, node: u64) -> Result<Option<u32>, Errno> {
        Ok(Some(self.node(node)?.mode))
    }

    fn readlink(&self, node: u64) -> Result<String, Errno> {
        match &self.node(node)?.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::Inval),
        }
    }

    fn readdir(&self, dir: u64) -> Result<Vec<DirEntry>, Errno> {
        match &self.node(dir)?.kind {
            Kind::Dir(entries) => entries
                .iter()
                .map(|(name, &ino)| {
                    Ok(DirEntry {
                        name: name.clone(),
                        ino,
                        filetype: Self::filetype(self.node(ino)?),
                    })
                })
                .collect(),
            _ => Err(Errno::Notdir),
        }
    }

    fn open(&self, node: u64, opts: OpenOptions) -> Result<Box<dyn OpenFile>, Errno> {
        let data = self.contents(node)?;
        if opts.write || opts.truncate {
            return Err(Errno::Rofs);
        }
        let stat = self.stat(node)?;
        let range = match &self.node(node)?.kind {
            Kind::File(r, _) => r.clone(),
            _ => return Err(Errno::Inval),
        };
        debug_assert_eq!(data.len(), range.len());
        Ok(Box::new(TarFile {
            data: self.data.clone(),
            range,
            stat,
        }))
    }
}

/// An open file of a [`TarFs`]: a window into the archive.
#[derive(Debug)]
struct TarFile {
    data: ArchiveBytes,
    range: Range<usize>,
    stat: Filestat,
}

impl OpenFile for TarFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let contents = self.data.bytes().get(self.range.clone()).ok_or(Errno::Io)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(contents.len());
        let src = contents.get(start..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        buf.get_mut(..n)
            .ok_or(Errno::Io)?
            .copy_from_slice(src.get(..n).ok_or(Errno::Io)?);
        Ok(n)
    }

    fn stat(&self) -> Result<Filestat, Errno> {
        Ok(self.stat)
    }
}

// === building archives ===

/// Writes ustar archives (for tests, and for tools that pack an initrd).
#[derive(Debug, Default)]
pub struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    /// An empty archive.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a regular file.
    pub fn file(&mut self, path: &str, mode: u32, contents: &[u8]) -> &mut Self {
        self.member(path, b'0', mode, "", contents)
    }

    /// Adds a regular file with a [`SHA256_KEY`] pax record saying its
    /// SHA-256 is `sha256` (which is written as given, not checked).
    pub fn file_with_sha256(&mut self, path: &str, mode: u32, contents: &[u8], sha256: &[u8; 32]) -> &mut Self {
        let mut pax = Vec::new();
        let hex: String = sha256.iter().map(|b| alloc::format!("{b:02x}")).collect();
        pax_record(&mut pax, core::str::from_utf8(SHA256_KEY).unwrap_or("HYPHA.sha256"), &hex);
        self.raw_member("././@PaxHeader", b'x', 0o644, "", &pax);
        self.member(path, b'0', mode, "", contents)
    }

    /// Adds a directory.
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        self.member(path, b'5', mode, "", &[])
    }

    /// Adds a symlink to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        self.member(path, b'2', 0o777, target, &[])
    }

    /// Adds a hard link to the earlier member `target`.
    pub fn hard_link(&mut self, path: &str, target: &str) -> &mut Self {
        self.member(path, b'1', 0o644, target, &[])
    }

    /// Adds a member with any type flag. A path over 100 bytes gets a pax
    /// `path` record; a link target over 100 bytes a `linkpath` record.
    pub fn member(
        &mut self,
        path: &str,
        typeflag: u8,
        mode: u32,
        link: &str,
        contents: &[u8],
    ) -> &mut Self {
        let mut pax = Vec::new();
        if path.len() > 100 {
            pax_record(&mut pax, "path", path);
        }
        if link.len() > 100 {
            pax_record(&mut pax, "linkpath", link);
        }
        if !pax.is_empty() {
            self.raw_member("././@PaxHeader", b'x', 0o644, "", &pax);
        }
        self.raw_member(path, typeflag, mode, link, contents);
        self
    }

    fn raw_member(&mut self, path: &str, typeflag: u8, mode: u32, link: &str, contents: &[u8]) {
        let mut h = [0u8; BLOCK];
        put(&mut h[0..100], path.as_bytes());
        put_octal(&mut h[100..108], u64::from(mode));
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        put_octal(&mut h[124..136], len64(contents.len()));
        put_octal(&mut h[136..148], 0);
        h[156] = typeflag;
        put(&mut h[157..257], link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u64 = h.iter().map(|&c| u64::from(c)).sum();
        put_octal(&mut h[148..155], sum);
        self.out.extend_from_slice(&h);
        self.out.extend_from_slice(contents);
        let pad = blocks_for(contents.len()).unwrap_or(0) - contents.len();
        self.out.resize(self.out.len() + pad, 0);
    }

    /// The archive, with its two terminating zero blocks.
    #[must_use]
    pub fn finish(&self) -> Vec<u8> {
        let mut out = self.out.clone();
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }
}

fn put(dst: &mut [u8], src: &[u8]) {
    let n = src.len().min(dst.len());
    dst[..n].copy_from_slice(&src[..n]);
}

/// Octal digits, NUL-terminated, right-aligned in `dst`.
fn put_octal(dst: &mut [u8], mut v: u64) {
    let Some((last, digits)) = dst.split_last_mut() else {
        return;
    };
    *last = 0;
    for d in digits.iter_mut().rev() {
        *d = b'0' + u8::try_from(v & 7).unwrap_or(0);
        v >>= 3;
    }
}

fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    // "<len> key=value\n" where <len> counts itself.
    let body = key.len() + value.len() + 3;
    let mut len = body + 1;
    loop {
        let digits = len.to_string().len();
        if body + digits == len {
            break;
        }
        len = body + digits;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value.as_bytes());
    out.push(b'\n');
}
