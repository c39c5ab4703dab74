//! A oneshot channel: one value, sent once, received once.
//!
//! One shared allocation holds a state word, the value slot and a
//! [`WaitCell`] for the receiver. The sender writes the value *before*
//! publishing `SENT`, so the receiver owns the slot once it sees `SENT`.

use crate::loom::UnsafeCell;
use crate::loom::atomic::{AtomicUsize, Ordering};
use alloc::sync::Arc;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use maitake_sync::WaitCell;

/// The value is in the slot.
const SENT: usize = 1 << 0;
/// The sender was dropped without sending.
const SENDER_CLOSED: usize = 1 << 1;
/// The receiver was dropped.
const RECEIVER_CLOSED: usize = 1 << 2;
/// The receiver took the value.
const TAKEN: usize = 1 << 3;

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    receiver: WaitCell,
}

// SAFETY: the value slot is written only by the sender before SENT and read
// only by the receiver after observing SENT (or by whoever drops `Inner`
// last), so `T: Send` suffices to share `Inner` between the two ends.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Inner<T> {}

/// The sending half.
pub struct Sender<T> {
    /// `None` once `send` consumed it (so `Drop` knows not to close).
    inner: Option<Arc<Inner<T>>>,
}

/// The receiving half: a future of `Result<T, RecvError>`.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
}

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl core::error::Error for RecvError {}

/// A new channel.
#[must_use]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner { state: AtomicUsize::new(0), value: UnsafeCell::new(None), receiver: WaitCell::new() });
    (Sender { inner: Some(Arc::clone(&inner)) }, Receiver { inner })
}

// === impl Sender ===

impl<T> Sender<T> {
    /// Sends `value`.
    ///
    /// # Errors
    ///
    /// Gives `value` back if the receiver is gone.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let Some(inner) = self.inner.take() else {
            // Unreachable: only `send` takes `inner`, and it consumes `self`.
            return Err(value);
        };
        if inner.state.load(Ordering::Acquire) & RECEIVER_CLOSED != 0 {
            return Err(value);
        }
        // SAFETY: only the sender writes the slot, and only before SENT;
        // the receiver reads it only after seeing SENT.
        inner.value.with_mut(|slot| unsafe { *slot = Some(value) });
        let previous = inner.state.fetch_or(SENT, Ordering::AcqRel);
        if previous & RECEIVER_CLOSED != 0 {
            // The receiver left before seeing SENT and never reads the slot.
            // SAFETY: as above; nobody else reads the slot now.
            let value = inner.value.with_mut(|slot| unsafe { (*slot).take() });
            return match value {
                Some(value) => Err(value),
                None => Ok(()),
            };
        }
        inner.receiver.wake();
        Ok(())
    }

    /// Whether the receiver was dropped.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.as_ref().is_none_or(|inner| inner.state.load(Ordering::Acquire) & RECEIVER_CLOSED != 0)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // `inner` is still here only when `send` was never called.
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(SENDER_CLOSED, Ordering::AcqRel);
            inner.receiver.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.as_ref().map(|inner| inner.state.load(Ordering::Relaxed));
        f.debug_struct("Sender").field("state", &state).finish()
    }
}

// === impl Receiver ===

impl<T> Receiver<T> {
    fn try_take(&self) -> Option<Result<T, RecvError>> {
        let state = self.inner.state.load(Ordering::Acquire);
        if state & TAKEN != 0 {
            return Some(Err(RecvError));
        }
        if state & SENT != 0 {
            self.inner.state.fetch_or(TAKEN, Ordering::Relaxed);
            // SAFETY: SENT was published after the sender's last write.
            let value = self.inner.value.with_mut(|slot| unsafe { (*slot).take() });
            return Some(value.ok_or(RecvError));
        }
        if state & SENDER_CLOSED != 0 {
            return Some(Err(RecvError));
        }
        None
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    /// After it returned `Ready`, polling again yields `Err(RecvError)`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            if let Some(result) = self.try_take() {
                return Poll::Ready(result);
            }
            match self.inner.receiver.poll_wait(cx) {
                // Woken (or a stored wake consumed): check again.
                Poll::Ready(Ok(())) => {}
                // Closed cannot happen (we never close); Busy cannot either
                // (only this receiver registers). Treat both as "check".
                Poll::Ready(Err(_)) => {
                    if let Some(result) = self.try_take() {
                        return Poll::Ready(result);
                    }
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                Poll::Pending => {
                    // A send between our check and the registration woke
                    // the cell (and is stored), or is visible now.
                    return match self.try_take() {
                        Some(result) => Poll::Ready(result),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.inner.state.fetch_or(RECEIVER_CLOSED, Ordering::AcqRel);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").field("state", &self.inner.state.load(Ordering::Relaxed)).finish()
    }
}
