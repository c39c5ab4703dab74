//! Kernel devices under `/dev` beyond the ones `hypha-vfs` has built in.

use hypha_vfs::CharDevice;
use hypha_wasi::Errno;

/// `/dev/console`: the UART console. Reads take the bytes received so far
/// (raw, no echo) and fail with `again` when there are none; writes go out
/// in order with other console output (`\n` becomes `\r\n`; bytes that are
/// not UTF-8 are shown as U+FFFD).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleDevice;

impl CharDevice for ConsoleDevice {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut count = 0;
        for slot in buf.iter_mut() {
            let Some(byte) = crate::console::read_byte() else { break };
            *slot = byte;
            count += 1;
        }
        if count == 0 && !buf.is_empty() { Err(Errno::Again) } else { Ok(count) }
    }

    fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        crate::console::print(format_args!("{}", Lossy(buf)));
        Ok(buf.len())
    }
}

/// Bytes shown as UTF-8, invalid sequences as U+FFFD.
struct Lossy<'a>(&'a [u8]);

impl core::fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
            if !chunk.invalid().is_empty() {
                f.write_str("\u{fffd}")?;
            }
        }
        Ok(())
    }
}
