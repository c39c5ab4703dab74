//! Precompiled code artifacts: a module's machine code and the per-function
//! metadata the runtime needs, written by [`Engine::precompile_artifact`]
//! and loaded by [`Module::deserialize`] without running the compiler.
//!
//! An artifact is bound to two things, both checked before anything else
//! is used:
//!
//! - the **engine fingerprint** ([`Engine::fingerprint`]): a SHA-256 over
//!   the artifact format version, a hash of this runtime's own source and of
//!   the compiler crate versions (`build.rs`), the target triple, every
//!   Cranelift flag and ISA flag, and every [`Config`](crate::Config) field
//!   that changes generated code (enabled features, memory strategy, epoch
//!   interruption, fuel, optimisation). Fields that do not change code
//!   (stack sizes, parallel compilation, the compile executor, Cranelift's
//!   IR verifier) are left out, so a debug-built precompiler and a
//!   release-built kernel agree.
//! - the **SHA-256 of the wasm bytes** it was compiled from.
//!
//! The artifact does not contain the wasm: loading re-parses the wasm bytes
//! (module-level validation included) to rebuild everything else (types,
//! imports, exports, segments, names, memory images) and skips only the
//! function-body validation and compilation, which the artifact proves the
//! compiler already did for exactly these bytes with exactly this
//! configuration. A 64-bit checksum over the whole artifact catches
//! accidental corruption; it is not an authenticity check: artifacts are as
//! trusted as the code that loads them (see the embedder's docs — in
//! Hypha, the initrd is part of the boot image).
//!
//! # Layout (little endian)
//!
//! ```text
//! magic "HYPHAWC\0" | format u32 | reserved u32 (0)
//! fingerprint [32] | wasm sha256 [32]
//! funcs u32, then (start u32, len u32) per defined function
//! trampolines u32, then offset u32 per type
//! traps u32, then (offset u32, code u8) per trap site, sorted by offset
//! code length u32, then the code bytes (relocations applied)
//! host trampolines u32, then per trampoline: type index u32,
//!   traps u32 + (offset u32, code u8) each, code length u32 + code bytes
//! checksum u64 over everything before it
//! ```

use alloc::vec::Vec;
use core::fmt;

use sha2::{Digest, Sha256};

use crate::compile::{CodeImage, HostTrampoline};
use crate::error::Error;
use crate::trap::TrapCode;

/// The first bytes of every artifact.
pub const MAGIC: [u8; 8] = *b"HYPHAWC\0";
/// The layout version this runtime reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the variable part.
const HEADER_LEN: usize = 8 + 4 + 4 + 32 + 32;
/// Trap-code byte of a pending trap (recorded by a libcall or host call).
const PENDING: u8 = 0xff;

/// Why an artifact was not used. Every variant means "compile instead".
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ArtifactError {
    /// Does not start with [`MAGIC`]: not an artifact.
    BadMagic,
    /// Written by a runtime with another layout version.
    UnsupportedVersion {
        /// The version in the artifact.
        found: u32,
    },
    /// Shorter than its own header or tables say.
    Truncated,
    /// The trailing checksum does not match the contents.
    Checksum,
    /// Compiled by an engine with another fingerprint (other runtime
    /// build, target, flags or code-changing configuration).
    FingerprintMismatch,
    /// Compiled from other wasm bytes.
    WasmMismatch,
    /// The tables are inconsistent with the code or the module.
    Malformed(&'static str),
    /// The wasm bytes do not parse, or the code could not be published.
    Module(Error),
}

impl fmt::Display for ArtifactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArtifactError::BadMagic => write!(f, "not a code artifact (bad magic)"),
            ArtifactError::UnsupportedVersion { found } => {
                write!(f, "artifact format {found}, this runtime reads {FORMAT_VERSION}")
            }
            ArtifactError::Truncated => write!(f, "artifact truncated"),
            ArtifactError::Checksum => write!(f, "artifact checksum mismatch (corrupted)"),
            ArtifactError::FingerprintMismatch => write!(f, "artifact compiled by a different engine configuration"),
            ArtifactError::WasmMismatch => write!(f, "artifact compiled from different wasm bytes"),
            ArtifactError::Malformed(why) => write!(f, "malformed artifact: {why}"),
            ArtifactError::Module(e) => write!(f, "artifact's module: {e}"),
        }
    }
}

impl core::error::Error for ArtifactError {}

/// The SHA-256 of `bytes` (what an artifact records about its wasm).
#[must_use]
pub fn wasm_digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A fast 64-bit checksum (8 bytes per step, then the tail and the length).
fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0x6a09_e667_f3bc_c908;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    (h ^ bytes.len() as u64).wrapping_mul(K)
}

fn encode_trap(code: Option<TrapCode>) -> u8 {
    match code {
        None => PENDING,
        Some(TrapCode::Unreachable) => 0,
        Some(TrapCode::IntegerOverflow) => 1,
        Some(TrapCode::IntegerDivisionByZero) => 2,
        Some(TrapCode::BadConversionToInteger) => 3,
        Some(TrapCode::MemoryOutOfBounds) => 4,
        Some(TrapCode::TableOutOfBounds) => 5,
        Some(TrapCode::UndefinedElement) => 6,
        Some(TrapCode::UninitializedElement) => 7,
        Some(TrapCode::IndirectCallTypeMismatch) => 8,
        Some(TrapCode::StackOverflow) => 9,
        Some(TrapCode::NullReference) => 10,
        Some(TrapCode::NullFunctionReference) => 11,
        Some(TrapCode::Host) => 12,
        Some(TrapCode::Interrupt) => 13,
        Some(TrapCode::OutOfFuel) => 14,
    }
}

fn decode_trap(byte: u8) -> Result<Option<TrapCode>, ArtifactError> {
    Ok(Some(match byte {
        PENDING => return Ok(None),
        0 => TrapCode::Unreachable,
        1 => TrapCode::IntegerOverflow,
        2 => TrapCode::IntegerDivisionByZero,
        3 => TrapCode::BadConversionToInteger,
        4 => TrapCode::MemoryOutOfBounds,
        5 => TrapCode::TableOutOfBounds,
        6 => TrapCode::UndefinedElement,
        7 => TrapCode::UninitializedElement,
        8 => TrapCode::IndirectCallTypeMismatch,
        9 => TrapCode::StackOverflow,
        10 => TrapCode::NullReference,
        11 => TrapCode::NullFunctionReference,
        12 => TrapCode::Host,
        13 => TrapCode::Interrupt,
        14 => TrapCode::OutOfFuel,
        _ => return Err(ArtifactError::Malformed("unknown trap code")),
    }))
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn len_u32(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| Error::Resource("artifact table larger than 4 GiB".into()))
}

fn put_traps(out: &mut Vec<u8>, traps: &[(u32, Option<TrapCode>)]) -> Result<(), Error> {
    put_u32(out, len_u32(traps.len())?);
    for &(offset, code) in traps {
        put_u32(out, offset);
        out.push(encode_trap(code));
    }
    Ok(())
}

/// Writes the artifact of `image`, compiled by an engine with `fingerprint`
/// from wasm whose SHA-256 is `wasm_sha256`.
pub(crate) fn write(fingerprint: &[u8; 32], wasm_sha256: &[u8; 32], image: &CodeImage) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(HEADER_LEN + image.bytes.len() + 16 * image.funcs.len() + 5 * image.traps.len() + 32);
    out.extend_from_slice(&MAGIC);
    put_u32(&mut out, FORMAT_VERSION);
    put_u32(&mut out, 0);
    out.extend_from_slice(fingerprint);
    out.extend_from_slice(wasm_sha256);
    put_u32(&mut out, len_u32(image.funcs.len())?);
    for &(start, len) in &image.funcs {
        put_u32(&mut out, start);
        put_u32(&mut out, len);
    }
    put_u32(&mut out, len_u32(image.array_trampolines.len())?);
    for &t in &image.array_trampolines {
        put_u32(&mut out, t);
    }
    put_traps(&mut out, &image.traps)?;
    put_u32(&mut out, len_u32(image.bytes.len())?);
    out.extend_from_slice(&image.bytes);
    put_u32(&mut out, len_u32(image.host_trampolines.len())?);
    for t in &image.host_trampolines {
        put_u32(&mut out, t.type_index);
        put_traps(&mut out, &t.traps)?;
        put_u32(&mut out, len_u32(t.bytes.len())?);
        out.extend_from_slice(&t.bytes);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    Ok(out)
}

/// A bounds-checked little-endian reader.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ArtifactError> {
        let end = self.at.checked_add(n).ok_or(ArtifactError::Truncated)?;
        let s = self.bytes.get(self.at..end).ok_or(ArtifactError::Truncated)?;
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, ArtifactError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u8(&mut self) -> Result<u8, ArtifactError> {
        Ok(self.take(1)?[0])
    }
    /// A trap table: count, then (offset u32, code u8) each.
    fn traps(&mut self) -> Result<Vec<(u32, Option<TrapCode>)>, ArtifactError> {
        let n = self.count(5)?;
        let mut traps = Vec::with_capacity(n);
        for _ in 0..n {
            let offset = self.u32()?;
            traps.push((offset, decode_trap(self.u8()?)?));
        }
        Ok(traps)
    }
    /// A count of entries of `entry` bytes each, refused when they cannot
    /// fit in what is left (so a corrupt count never allocates much).
    fn count(&mut self, entry: usize) -> Result<usize, ArtifactError> {
        let n = usize::try_from(self.u32()?).map_err(|_| ArtifactError::Truncated)?;
        if n.checked_mul(entry).is_none_or(|b| b > self.bytes.len() - self.at) {
            return Err(ArtifactError::Truncated);
        }
        Ok(n)
    }
}

/// Checks the header against `fingerprint` and `wasm_sha256`, then reads the
/// code image. Offsets are checked against the code length; the caller
/// checks the counts against the module.
pub(crate) fn read(artifact: &[u8], fingerprint: &[u8; 32], wasm_sha256: &[u8; 32]) -> Result<CodeImage, ArtifactError> {
    if artifact.len() < MAGIC.len() || artifact[..MAGIC.len()] != MAGIC {
        return Err(if MAGIC.starts_with(artifact) { ArtifactError::Truncated } else { ArtifactError::BadMagic });
    }
    let mut r = Reader { bytes: artifact, at: MAGIC.len() };
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(ArtifactError::UnsupportedVersion { found: version });
    }
    if artifact.len() < HEADER_LEN + 8 {
        return Err(ArtifactError::Truncated);
    }
    let (body, sum) = artifact.split_at(artifact.len() - 8);
    let sum = u64::from_le_bytes([sum[0], sum[1], sum[2], sum[3], sum[4], sum[5], sum[6], sum[7]]);
    if checksum(body) != sum {
        return Err(ArtifactError::Checksum);
    }
    let mut r = Reader { bytes: body, at: r.at };
    if r.u32()? != 0 {
        return Err(ArtifactError::Malformed("reserved header field is not zero"));
    }
    if r.take(32)? != fingerprint {
        return Err(ArtifactError::FingerprintMismatch);
    }
    if r.take(32)? != wasm_sha256 {
        return Err(ArtifactError::WasmMismatch);
    }
    let n = r.count(8)?;
    let mut funcs = Vec::with_capacity(n);
    for _ in 0..n {
        funcs.push((r.u32()?, r.u32()?));
    }
    let n = r.count(4)?;
    let mut array_trampolines = Vec::with_capacity(n);
    for _ in 0..n {
        array_trampolines.push(r.u32()?);
    }
    let traps = r.traps()?;
    let code_len = r.count(1)?;
    let bytes = r.take(code_len)?.to_vec();
    let n = r.count(12)?;
    let mut host_trampolines = Vec::with_capacity(n);
    for _ in 0..n {
        let type_index = r.u32()?;
        let traps = r.traps()?;
        let len = r.count(1)?;
        let code = r.take(len)?.to_vec();
        check_traps(&traps, code.len())?;
        host_trampolines.push(HostTrampoline { type_index, bytes: code, traps });
    }
    if r.at != body.len() {
        return Err(ArtifactError::Malformed("bytes after the code"));
    }
    check_traps(&traps, code_len)?;
    let code_len = u32::try_from(code_len).map_err(|_| ArtifactError::Malformed("code larger than 4 GiB"))?;
    // Functions: in order, not overlapping, inside the code.
    let mut end = 0u32;
    for &(start, len) in &funcs {
        let stop = start.checked_add(len).ok_or(ArtifactError::Malformed("function range overflows"))?;
        if start < end || stop > code_len {
            return Err(ArtifactError::Malformed("function outside the code or out of order"));
        }
        end = stop;
    }
    if array_trampolines.iter().any(|&t| t >= code_len) {
        return Err(ArtifactError::Malformed("trampoline outside the code"));
    }
    Ok(CodeImage { bytes, funcs, array_trampolines, traps, host_trampolines })
}

/// Trap sites must be inside the code (`len` bytes) and strictly sorted.
fn check_traps(traps: &[(u32, Option<TrapCode>)], len: usize) -> Result<(), ArtifactError> {
    if traps.iter().any(|&(o, _)| usize::try_from(o).map_or(true, |o| o >= len)) || !traps.is_sorted_by(|a, b| a.0 < b.0) {
        return Err(ArtifactError::Malformed("trap sites outside the code or not sorted"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> CodeImage {
        CodeImage {
            bytes: (0..64u8).collect(),
            funcs: alloc::vec![(0, 16), (16, 16)],
            array_trampolines: alloc::vec![32],
            traps: alloc::vec![(4, Some(TrapCode::Unreachable)), (20, None)],
            host_trampolines: alloc::vec![HostTrampoline { type_index: 0, bytes: alloc::vec![7; 24], traps: alloc::vec![(8, None)] }],
        }
    }

    #[test]
    fn round_trip_and_every_truncation_is_refused() {
        let (fp, wasm) = ([1; 32], [2; 32]);
        let bytes = write(&fp, &wasm, &image()).unwrap();
        let back = read(&bytes, &fp, &wasm).unwrap();
        assert_eq!(back.bytes, image().bytes);
        assert_eq!(back.funcs, image().funcs);
        assert_eq!(back.array_trampolines, image().array_trampolines);
        assert_eq!(back.traps, image().traps);
        assert_eq!(back.host_trampolines, image().host_trampolines);
        for len in 0..bytes.len() {
            let e = read(&bytes[..len], &fp, &wasm).unwrap_err();
            assert!(matches!(e, ArtifactError::Truncated | ArtifactError::Checksum), "length {len}: {e:?}");
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let (fp, wasm) = ([1; 32], [2; 32]);
        let bytes = write(&fp, &wasm, &image()).unwrap();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[i] ^= 1 << bit;
                let e = read(&bad, &fp, &wasm).unwrap_err();
                let expected = match i {
                    0..8 => matches!(e, ArtifactError::BadMagic),
                    8..12 => matches!(e, ArtifactError::UnsupportedVersion { .. }),
                    _ => matches!(e, ArtifactError::Checksum),
                };
                assert!(expected, "byte {i} bit {bit}: {e:?}");
            }
        }
    }

    #[test]
    fn wrong_fingerprint_or_wasm_is_refused() {
        let bytes = write(&[1; 32], &[2; 32], &image()).unwrap();
        assert!(matches!(read(&bytes, &[9; 32], &[2; 32]), Err(ArtifactError::FingerprintMismatch)));
        assert!(matches!(read(&bytes, &[1; 32], &[9; 32]), Err(ArtifactError::WasmMismatch)));
    }

    #[test]
    fn inconsistent_tables_are_malformed() {
        let (fp, wasm) = ([1; 32], [2; 32]);
        let mut bad = image();
        bad.funcs = alloc::vec![(16, 16), (0, 16)];
        assert!(matches!(read(&write(&fp, &wasm, &bad).unwrap(), &fp, &wasm), Err(ArtifactError::Malformed(_))));
        let mut bad = image();
        bad.traps.push((64, None));
        assert!(matches!(read(&write(&fp, &wasm, &bad).unwrap(), &fp, &wasm), Err(ArtifactError::Malformed(_))));
        let mut bad = image();
        bad.host_trampolines[0].traps = alloc::vec![(30, None)];
        assert!(matches!(read(&write(&fp, &wasm, &bad).unwrap(), &fp, &wasm), Err(ArtifactError::Malformed(_))));
        let mut bad = image();
        bad.array_trampolines = alloc::vec![100];
        assert!(matches!(read(&write(&fp, &wasm, &bad).unwrap(), &fp, &wasm), Err(ArtifactError::Malformed(_))));
    }

    #[test]
    fn every_trap_code_round_trips() {
        for b in (0..=14).chain([PENDING]) {
            assert_eq!(encode_trap(decode_trap(b).unwrap()), b);
        }
        assert!(decode_trap(15).is_err());
    }
}
