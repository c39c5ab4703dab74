//! [`yield_now`]: let other ready tasks run.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// Yields once: the task is woken immediately and goes to the back of its
/// worker's run queue, behind every other ready task.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        // While the task is POLLING this only sets WOKEN; end-poll then hands
        // the task back to the worker, which queues it at the back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
