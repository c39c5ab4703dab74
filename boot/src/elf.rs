//! Just enough ELF64 to load Hypha's kernel: a RISC-V static PIE whose
//! only dynamic relocations are `R_RISCV_RELATIVE`.
//!
//! Every read is bounds-checked; a malformed image is an [`ElfError`].

/// Why the kernel image was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfError {
    /// Shorter than a header, or a table or segment lies outside the file.
    Truncated,
    /// Not a little-endian ELF64 RISC-V executable.
    NotRiscv64Elf,
    /// Not `ET_DYN`: the kernel must be linked as a static PIE.
    NotPie,
    /// No `PT_LOAD` segment.
    NoSegments,
    /// A segment is both writable and executable (W^X).
    WritableAndExecutable {
        /// Its virtual address.
        vaddr: u64,
    },
    /// The kernel has a `PT_TLS` segment; per-CPU data goes through `tp`.
    HasTls,
    /// A relocation other than `R_RISCV_RELATIVE` / `R_RISCV_NONE`.
    UnsupportedRelocation {
        /// Its type.
        kind: u32,
    },
    /// A relocation's target is outside the loaded image.
    RelocationOutOfImage {
        /// Its `r_offset`.
        offset: u64,
    },
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("kernel ELF is truncated"),
            Self::NotRiscv64Elf => f.write_str("kernel is not a little-endian ELF64 RISC-V file"),
            Self::NotPie => f.write_str("kernel ELF is not ET_DYN (link it as a static PIE)"),
            Self::NoSegments => f.write_str("kernel ELF has no PT_LOAD segment"),
            Self::WritableAndExecutable { vaddr } => write!(f, "segment at {vaddr:#x} is writable and executable"),
            Self::HasTls => f.write_str("kernel ELF has a PT_TLS segment (unsupported)"),
            Self::UnsupportedRelocation { kind } => write!(f, "unsupported relocation type {kind}"),
            Self::RelocationOutOfImage { offset } => write!(f, "relocation at {offset:#x} is outside the image"),
        }
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_TLS: u32 = 7;
const DT_NULL: u64 = 0;
const DT_RELA: u64 = 7;
const DT_RELASZ: u64 = 8;
const R_RISCV_NONE: u32 = 0;
const R_RISCV_RELATIVE: u32 = 3;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One `PT_LOAD` segment.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    /// Link-time virtual address.
    pub vaddr: u64,
    /// Size in memory.
    pub mem_len: u64,
    /// Offset of its bytes in the file.
    pub file_offset: u64,
    /// Bytes in the file (the rest of `mem_len` is zero).
    pub file_len: u64,
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

/// A validated kernel image.
#[derive(Debug, Clone, Copy)]
pub struct KernelElf<'a> {
    bytes: &'a [u8],
    /// Entry point (link-time).
    pub entry: u64,
    program_headers: u64,
    program_header_count: u16,
    program_header_size: u16,
}

fn read_u16(bytes: &[u8], offset: u64) -> Result<u16, ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError::Truncated)?;
    let slice = bytes.get(start..start.checked_add(2).ok_or(ElfError::Truncated)?).ok_or(ElfError::Truncated)?;
    Ok(u16::from_le_bytes([slice[0], slice[1]]))
}

fn read_u32(bytes: &[u8], offset: u64) -> Result<u32, ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError::Truncated)?;
    let slice = bytes.get(start..start.checked_add(4).ok_or(ElfError::Truncated)?).ok_or(ElfError::Truncated)?;
    let mut word = [0u8; 4];
    word.copy_from_slice(slice);
    Ok(u32::from_le_bytes(word))
}

fn read_u64(bytes: &[u8], offset: u64) -> Result<u64, ElfError> {
    let start = usize::try_from(offset).map_err(|_| ElfError::Truncated)?;
    let slice = bytes.get(start..start.checked_add(8).ok_or(ElfError::Truncated)?).ok_or(ElfError::Truncated)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(slice);
    Ok(u64::from_le_bytes(word))
}

// === impl KernelElf ===

impl<'a> KernelElf<'a> {
    /// Checks the header and every program header.
    ///
    /// # Errors
    ///
    /// An [`ElfError`] naming the first problem.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ElfError> {
        if bytes.len() < 64 {
            return Err(ElfError::Truncated);
        }
        // Magic, ELFCLASS64, ELFDATA2LSB, EM_RISCV (243).
        if bytes[..4] != *b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 || read_u16(bytes, 18)? != 243 {
            return Err(ElfError::NotRiscv64Elf);
        }
        if read_u16(bytes, 16)? != 3 {
            return Err(ElfError::NotPie);
        }
        let elf = Self {
            bytes,
            entry: read_u64(bytes, 24)?,
            program_headers: read_u64(bytes, 32)?,
            program_header_size: read_u16(bytes, 54)?,
            program_header_count: read_u16(bytes, 56)?,
        };
        if elf.program_header_size < 56 {
            return Err(ElfError::Truncated);
        }
        let mut loads = 0;
        for index in 0..elf.program_header_count {
            let (kind, offset) = elf.program_header(index)?;
            match kind {
                PT_TLS => return Err(ElfError::HasTls),
                PT_LOAD => {
                    let segment = elf.segment_at(offset)?;
                    if segment.write && segment.execute {
                        return Err(ElfError::WritableAndExecutable { vaddr: segment.vaddr });
                    }
                    let end = segment.file_offset.checked_add(segment.file_len).ok_or(ElfError::Truncated)?;
                    if end > bytes.len() as u64 || segment.file_len > segment.mem_len {
                        return Err(ElfError::Truncated);
                    }
                    loads += 1;
                }
                _ => {}
            }
        }
        if loads == 0 {
            return Err(ElfError::NoSegments);
        }
        Ok(elf)
    }

    /// `(p_type, offset of the header)` of program header `index`.
    fn program_header(&self, index: u16) -> Result<(u32, u64), ElfError> {
        let offset = self.program_headers + u64::from(index) * u64::from(self.program_header_size);
        Ok((read_u32(self.bytes, offset)?, offset))
    }

    fn segment_at(&self, offset: u64) -> Result<Segment, ElfError> {
        let flags = read_u32(self.bytes, offset + 4)?;
        Ok(Segment {
            file_offset: read_u64(self.bytes, offset + 8)?,
            vaddr: read_u64(self.bytes, offset + 16)?,
            file_len: read_u64(self.bytes, offset + 32)?,
            mem_len: read_u64(self.bytes, offset + 40)?,
            read: flags & PF_R != 0,
            write: flags & PF_W != 0,
            execute: flags & PF_X != 0,
        })
    }

    /// The `PT_LOAD` segments.
    pub fn segments(&self) -> impl Iterator<Item = Segment> + '_ {
        (0..self.program_header_count).filter_map(|index| match self.program_header(index) {
            Ok((PT_LOAD, offset)) => self.segment_at(offset).ok(),
            _ => None,
        })
    }

    /// `[lowest vaddr, highest vaddr + mem_len)` over all segments, page-aligned.
    #[must_use]
    pub fn image_bounds(&self) -> (u64, u64) {
        let start = self.segments().map(|segment| segment.vaddr).min().unwrap_or(0) & !0xfff;
        let end = self.segments().map(|segment| segment.vaddr + segment.mem_len).max().unwrap_or(0);
        (start, end.div_ceil(0x1000) * 0x1000)
    }

    /// The file bytes of `segment`.
    #[must_use]
    pub fn segment_bytes(&self, segment: &Segment) -> &'a [u8] {
        // Bounds were checked in `parse`.
        let start = usize::try_from(segment.file_offset).unwrap_or(usize::MAX);
        let len = usize::try_from(segment.file_len).unwrap_or(0);
        self.bytes.get(start..start.saturating_add(len)).unwrap_or(&[])
    }

    /// Applies every `R_RISCV_RELATIVE` relocation to `image`, the loaded
    /// image (starting at link address `image_start`), for a kernel that
    /// will run at `slide` (wrapping) from its link address.
    ///
    /// Relocations are found through `PT_DYNAMIC` and read from the file.
    ///
    /// # Errors
    ///
    /// [`ElfError::UnsupportedRelocation`] or
    /// [`ElfError::RelocationOutOfImage`]; `image` may be partly relocated.
    pub fn relocate(&self, image: &mut [u8], image_start: u64, slide: u64) -> Result<usize, ElfError> {
        let Some(dynamic) = (0..self.program_header_count).find_map(|index| match self.program_header(index) {
            Ok((PT_DYNAMIC, offset)) => Some(offset),
            _ => None,
        }) else {
            return Ok(0);
        };
        let dynamic_offset = read_u64(self.bytes, dynamic + 8)?;
        let dynamic_len = read_u64(self.bytes, dynamic + 32)?;
        let (mut rela, mut rela_len) = (None, 0);
        let mut cursor = dynamic_offset;
        while cursor + 16 <= dynamic_offset + dynamic_len {
            let (tag, value) = (read_u64(self.bytes, cursor)?, read_u64(self.bytes, cursor + 8)?);
            match tag {
                DT_NULL => break,
                DT_RELA => rela = Some(value),
                DT_RELASZ => rela_len = value,
                _ => {}
            }
            cursor += 16;
        }
        let Some(rela_vaddr) = rela else { return Ok(0) };
        let rela_offset = self.file_offset_of(rela_vaddr).ok_or(ElfError::Truncated)?;
        let mut applied = 0;
        for entry in 0..rela_len / 24 {
            let base = rela_offset + entry * 24;
            let offset = read_u64(self.bytes, base)?;
            let info = read_u64(self.bytes, base + 8)?;
            let addend = read_u64(self.bytes, base + 16)?;
            #[expect(clippy::cast_possible_truncation, reason = "ELF64_R_TYPE is the low 32 bits of r_info")]
            let kind = info as u32;
            match kind {
                R_RISCV_NONE => continue,
                R_RISCV_RELATIVE => {}
                _ => return Err(ElfError::UnsupportedRelocation { kind }),
            }
            let place = offset
                .checked_sub(image_start)
                .and_then(|relative| usize::try_from(relative).ok())
                .and_then(|relative| image.get_mut(relative..relative.checked_add(8)?))
                .ok_or(ElfError::RelocationOutOfImage { offset })?;
            place.copy_from_slice(&addend.wrapping_add(slide).to_le_bytes());
            applied += 1;
        }
        Ok(applied)
    }

    /// The file offset holding link address `vaddr`.
    fn file_offset_of(&self, vaddr: u64) -> Option<u64> {
        self.segments()
            .find(|segment| vaddr >= segment.vaddr && vaddr < segment.vaddr + segment.file_len)
            .map(|segment| segment.file_offset + (vaddr - segment.vaddr))
    }
}
