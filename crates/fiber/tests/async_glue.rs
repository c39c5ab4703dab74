//! The pattern the WebAssembly runtime uses for `call_async`: a future that
//! resumes a fiber on every poll; code on the fiber polls a host future with
//! the outer task's `Context` and suspends with a "pending" marker while it
//! is not ready.

use std::cell::Cell;
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use hypha_fiber::{Cancelled, Fiber, FiberResult, FiberStack, Suspend};

/// What the fiber gets on each resume: the `Context` of the poll that
/// resumed it. Only valid until the fiber suspends again.
type PollCx = *mut Context<'static>;

/// What the fiber yields: "a host future is pending".
#[derive(Debug)]
struct Pending;

type CallSuspend<T> = Suspend<PollCx, Pending, Result<T, Cancelled>>;

/// Runs `fut` to completion from the fiber, suspending while it is pending.
fn block_on_host<T, O>(suspend: &CallSuspend<T>, cx: &mut PollCx, fut: impl Future<Output = O>) -> Result<O, Cancelled> {
    let mut fut = pin!(fut);
    loop {
        // SAFETY: `*cx` came from the `poll` that resumed this fiber most
        // recently, and that `poll` is still running (it is waiting in
        // `Fiber::resume` for us to suspend or return).
        let ready = fut.as_mut().poll(unsafe { &mut *(*cx).cast::<Context<'_>>() });
        if let Poll::Ready(v) = ready {
            return Ok(v);
        }
        *cx = suspend.suspend(Pending)?;
    }
}

/// The future `call_async` returns.
struct CallAsync<'a, T> {
    fiber: Fiber<'a, PollCx, Pending, Result<T, Cancelled>>,
}

impl<T> Future for CallAsync<'_, T> {
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let cx = std::ptr::from_mut(cx).cast::<Context<'static>>();
        match self.fiber.resume(cx) {
            FiberResult::Yield(Pending) => Poll::Pending,
            FiberResult::Return(r) => Poll::Ready(r),
        }
    }
}

/// A host future that is pending `n` times, waking its task each time.
fn pending_n_times(n: u32) -> impl Future<Output = u32> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            Poll::Ready(n)
        } else {
            left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Polls `fut` until ready, requiring a wake before each re-poll.
fn run<F: Future>(fut: F) -> (F::Output, usize) {
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    let mut polls = 0;
    loop {
        polls += 1;
        let woken_before = counter.0.load(Ordering::Relaxed);
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return (v, polls),
            Poll::Pending => assert!(counter.0.load(Ordering::Relaxed) > woken_before, "pending without a wake"),
        }
    }
}

#[test]
fn guest_suspended_ten_thousand_times_in_an_async_host_call_resumes_correctly() {
    let fiber = Fiber::new(FiberStack::new(64 * 1024).unwrap(), |mut cx: PollCx, s: &CallSuspend<u64>| {
        // "Guest" state that must survive every suspension.
        let mut acc = 0_u64;
        for i in 0..100_u32 {
            let v = block_on_host(s, &mut cx, pending_n_times(100))?;
            acc = acc.wrapping_mul(31).wrapping_add(u64::from(v + i));
        }
        Ok(acc)
    })
    .unwrap();
    let (result, polls) = run(CallAsync { fiber });
    let expected = (0..100_u64).fold(0_u64, |acc, i| acc.wrapping_mul(31).wrapping_add(100 + i));
    assert_eq!(result, Ok(expected));
    assert_eq!(polls, 100 * 100 + 1);
}

#[test]
fn dropping_a_pending_call_drops_the_pinned_host_future_on_the_fiber() {
    struct Guard(Rc<Cell<bool>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Rc::clone(&dropped);
    let fiber = Fiber::new(FiberStack::new(64 * 1024).unwrap(), move |mut cx: PollCx, s: &CallSuspend<u32>| {
        let guard = Guard(flag);
        let never = async move {
            let _g = guard;
            std::future::pending::<u32>().await
        };
        block_on_host(s, &mut cx, never)
    })
    .unwrap();
    let mut call = Box::pin(CallAsync { fiber });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    assert!(!dropped.get());
    drop(call);
    assert!(dropped.get(), "the host future on the fiber stack was dropped by cancellation");
}
