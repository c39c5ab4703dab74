//! Kernel stream objects behind WASI descriptors: the console, the null
//! device and pipes. Reads of an empty console or pipe and writes to a full
//! pipe suspend only the calling process ([`super::current::block`]).

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use hypha_wasi::{Errno, InputStream, OutputStream, Readiness};

use super::current::block;
use super::event::Event;
use crate::sync::SpinLock;

// === console ===

/// Console input: raw bytes as typed, suspends until at least one arrives.
#[derive(Debug)]
pub struct ConsoleIn;

impl InputStream for ConsoleIn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let first = match crate::console::read_byte() {
            Some(byte) => byte,
            None => block(crate::console::next_byte())?,
        };
        buf[0] = first;
        let mut n = 1;
        while n < buf.len() {
            let Some(byte) = crate::console::read_byte() else { break };
            buf[n] = byte;
            n += 1;
        }
        Ok(n)
    }

    fn readiness(&self) -> Readiness {
        if crate::console::input_pending() { Readiness::Ready(1) } else { Readiness::NotReady }
    }

    fn is_terminal(&self) -> bool {
        true
    }
}

/// Console output (stdout and stderr of console processes).
#[derive(Debug)]
pub struct ConsoleOut;

impl OutputStream for ConsoleOut {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        crate::console::write_bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Errno> {
        Ok(())
    }

    fn is_terminal(&self) -> bool {
        true
    }
}

// === null ===

/// Reads see end of input.
#[derive(Debug)]
pub struct NullIn;

impl InputStream for NullIn {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Ok(0)
    }
    fn readiness(&self) -> Readiness {
        Readiness::Hangup
    }
}

/// Writes are discarded.
#[derive(Debug)]
pub struct NullOut;

impl OutputStream for NullOut {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Errno> {
        Ok(())
    }
}

// === pipes ===

/// Bytes a pipe holds; writes of up to this many bytes are atomic.
pub const PIPE_CAPACITY: usize = 4096;

#[derive(Debug)]
struct Pipe {
    bytes: SpinLock<VecDeque<u8>>,
    /// Open read ends / write ends (each an open file description).
    readers: AtomicUsize,
    writers: AtomicUsize,
    /// Readers wait here for data or the last writer's close, writers for
    /// room or the last reader's close.
    readable: Event,
    writable: Event,
}

/// The read end of a pipe.
#[derive(Debug)]
pub struct PipeReader(Arc<Pipe>);

/// The write end of a pipe.
#[derive(Debug)]
pub struct PipeWriter(Arc<Pipe>);

/// A new pipe's two ends.
pub fn pipe() -> (PipeReader, PipeWriter) {
    let pipe = Arc::new(Pipe {
        bytes: SpinLock::new(VecDeque::new()),
        readers: AtomicUsize::new(1),
        writers: AtomicUsize::new(1),
        readable: Event::new(),
        writable: Event::new(),
    });
    (PipeReader(pipe.clone()), PipeWriter(pipe))
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.0.readers.fetch_sub(1, Ordering::AcqRel);
        self.0.writable.notify_all();
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        self.0.writers.fetch_sub(1, Ordering::AcqRel);
        self.0.readable.notify_all();
    }
}

impl InputStream for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &*self.0;
        loop {
            {
                let mut bytes = pipe.bytes.lock();
                if !bytes.is_empty() {
                    let n = buf.len().min(bytes.len());
                    for (slot, byte) in buf.iter_mut().zip(bytes.drain(..n)) {
                        *slot = byte;
                    }
                    if bytes.is_empty() {
                        // Give the buffer back while the pipe is idle.
                        bytes.shrink_to_fit();
                    }
                    drop(bytes);
                    pipe.writable.notify_all();
                    return Ok(n);
                }
                if pipe.writers.load(Ordering::Acquire) == 0 {
                    return Ok(0);
                }
            }
            block(pipe.readable.wait_until(|| {
                (!pipe.bytes.lock().is_empty() || pipe.writers.load(Ordering::Acquire) == 0).then_some(())
            }))?;
        }
    }

    fn readiness(&self) -> Readiness {
        let len = self.0.bytes.lock().len();
        if len > 0 {
            Readiness::Ready(u64::try_from(len).unwrap_or(u64::MAX))
        } else if self.0.writers.load(Ordering::Acquire) == 0 {
            Readiness::Hangup
        } else {
            Readiness::NotReady
        }
    }
}

impl OutputStream for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let pipe = &*self.0;
        // Up to PIPE_CAPACITY bytes go in at once or not at all.
        let need = buf.len().min(PIPE_CAPACITY);
        loop {
            if pipe.readers.load(Ordering::Acquire) == 0 {
                return Err(Errno::Pipe);
            }
            {
                let mut bytes = pipe.bytes.lock();
                let room = PIPE_CAPACITY - bytes.len();
                if room >= need {
                    let n = buf.len().min(room);
                    bytes.extend(&buf[..n]);
                    drop(bytes);
                    pipe.readable.notify_all();
                    return Ok(n);
                }
            }
            block(pipe.writable.wait_until(|| {
                (PIPE_CAPACITY - pipe.bytes.lock().len() >= need || pipe.readers.load(Ordering::Acquire) == 0).then_some(())
            }))?;
        }
    }

    fn flush(&mut self) -> Result<(), Errno> {
        Ok(())
    }

    fn readiness(&self) -> Readiness {
        if self.0.readers.load(Ordering::Acquire) == 0 {
            Readiness::Hangup
        } else {
            let room = PIPE_CAPACITY - self.0.bytes.lock().len();
            if room > 0 { Readiness::Ready(u64::try_from(room).unwrap_or(0)) } else { Readiness::NotReady }
        }
    }
}
