//! Host tests for `hypha-fiber`: switching, values both ways, nesting, many
//! fibers, panics, cancellation on drop, guard pages, machine state.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use hypha_fiber::{Cancelled, Fiber, FiberResult, FiberStack, SendFiber, StackError, Suspend};

const STACK: usize = 64 * 1024;

fn stack() -> FiberStack {
    FiberStack::new(STACK).expect("mmap a fiber stack")
}

fn expect_yield<Y: std::fmt::Debug, R: std::fmt::Debug>(r: FiberResult<Y, R>) -> Y {
    match r {
        FiberResult::Yield(y) => y,
        FiberResult::Return(r) => panic!("expected a yield, fiber returned {r:?}"),
    }
}

fn expect_return<Y: std::fmt::Debug, R: std::fmt::Debug>(r: FiberResult<Y, R>) -> R {
    match r {
        FiberResult::Return(r) => r,
        FiberResult::Yield(y) => panic!("expected a return, fiber yielded {y:?}"),
    }
}

// === values both ways ===

#[test]
fn ping_pong_passes_values_both_ways() {
    let mut fiber = Fiber::new(stack(), |first: u64, s: &Suspend<u64, String, Vec<u64>>| {
        let mut seen = vec![first];
        let mut next = s.suspend(format!("got {first}")).unwrap();
        while next != 0 {
            seen.push(next);
            next = s.suspend(format!("got {next}")).unwrap();
        }
        seen
    })
    .unwrap();
    assert_eq!(expect_yield(fiber.resume(7)), "got 7");
    assert!(!fiber.is_finished());
    assert_eq!(expect_yield(fiber.resume(8)), "got 8");
    assert_eq!(expect_yield(fiber.resume(9)), "got 9");
    assert_eq!(expect_return(fiber.resume(0)), vec![7, 8, 9]);
    assert!(fiber.is_finished());
}

#[test]
fn returns_without_suspending() {
    let mut fiber = Fiber::new(stack(), |x: i32, _: &Suspend<i32, (), i32>| x * 2).unwrap();
    assert_eq!(expect_return(fiber.resume(21)), 42);
}

#[test]
fn ten_thousand_suspensions_and_resumptions() {
    const N: u64 = 10_000;
    let mut fiber = Fiber::new(stack(), |mut x: u64, s: &Suspend<u64, u64, u64>| {
        let mut sum = 0;
        for i in 0..N {
            sum += x;
            x = s.suspend(i).unwrap();
        }
        sum + x
    })
    .unwrap();
    let mut expected_sum = 0;
    let mut next = 1;
    for i in 0..N {
        expected_sum += next;
        assert_eq!(expect_yield(fiber.resume(next)), i);
        next = i * 3 + 1;
    }
    assert_eq!(expect_return(fiber.resume(next)), expected_sum + next);
}

#[test]
fn locals_across_suspensions_survive() {
    // Integer and floating-point values live in callee-saved registers across
    // the switch in optimised builds; the resumer clobbers its own.
    let mut fiber = Fiber::new(stack(), |seed: f64, s: &Suspend<f64, f64, f64>| {
        let (mut a, mut b, mut c, mut d) = (seed, seed * 2.0, seed * 3.0, seed * 4.0);
        let (mut i1, mut i2, mut i3) = (1_u64, 2_u64, 3_u64);
        for _ in 0..100 {
            let r = s.suspend(a + b + c + d).unwrap();
            a += r;
            b *= 1.0001;
            c -= r;
            d += 0.5;
            i1 = i1.wrapping_mul(31).wrapping_add(i2);
            i2 ^= i3.rotate_left(7);
            i3 = i3.wrapping_add(i1);
        }
        a + b + c + d + f64::from(u32::try_from((i1 ^ i2 ^ i3) & 0xffff).unwrap())
    })
    .unwrap();
    let mut expect = {
        let seed = 1.5_f64;
        let (mut a, mut b, mut c, mut d) = (seed, seed * 2.0, seed * 3.0, seed * 4.0);
        let (mut i1, mut i2, mut i3) = (1_u64, 2_u64, 3_u64);
        let mut yields = Vec::new();
        for k in 0..100 {
            yields.push(a + b + c + d);
            let r = f64::from(k) * 0.25;
            a += r;
            b *= 1.0001;
            c -= r;
            d += 0.5;
            i1 = i1.wrapping_mul(31).wrapping_add(i2);
            i2 ^= i3.rotate_left(7);
            i3 = i3.wrapping_add(i1);
        }
        yields.push(a + b + c + d + f64::from(u32::try_from((i1 ^ i2 ^ i3) & 0xffff).unwrap()));
        yields.into_iter()
    };
    let mut r = fiber.resume(1.5);
    for k in 0..100 {
        let y = expect_yield(r);
        assert_eq!(y.to_bits(), expect.next().unwrap().to_bits(), "yield {k}");
        // Busy the resumer's registers between switches.
        let noise: f64 = (0..16).map(|i| f64::from(i).sqrt()).sum();
        std::hint::black_box(noise);
        r = fiber.resume(f64::from(k) * 0.25);
    }
    assert_eq!(expect_return(r).to_bits(), expect.next().unwrap().to_bits());
}

// === nesting, many fibers ===

#[test]
fn nested_fibers() {
    // The outer fiber drives an inner one and forwards its yields, doubled.
    let mut outer = Fiber::new(stack(), |n: u32, s: &Suspend<u32, u32, u32>| {
        let mut inner = Fiber::new(stack(), |n: u32, s2: &Suspend<u32, u32, u32>| {
            let mut total = 0;
            let mut x = n;
            for _ in 0..3 {
                total += x;
                x = s2.suspend(x + 1).unwrap();
            }
            total + x
        })
        .unwrap();
        let mut r = inner.resume(n);
        loop {
            match r {
                FiberResult::Yield(y) => {
                    let back = s.suspend(y * 2).unwrap();
                    r = inner.resume(back);
                }
                FiberResult::Return(total) => return total * 10,
            }
        }
    })
    .unwrap();
    assert_eq!(expect_yield(outer.resume(1)), 4); // inner yields 2
    assert_eq!(expect_yield(outer.resume(5)), 12); // inner yields 6
    assert_eq!(expect_yield(outer.resume(7)), 16); // inner yields 8
    assert_eq!(expect_return(outer.resume(100)), (1 + 5 + 7 + 100) * 10);
}

#[test]
fn current_stack_tracks_the_innermost_fiber() {
    assert_eq!(hypha_fiber::current_stack(), None);
    let mut outer = Fiber::new(stack(), |(), s: &Suspend<(), (), ()>| {
        let mine = s.stack();
        assert_eq!(hypha_fiber::current_stack(), Some(mine));
        let mut inner = Fiber::new(stack(), |(), s2: &Suspend<(), (), ()>| {
            assert_eq!(hypha_fiber::current_stack(), Some(s2.stack()));
            assert!(hypha_fiber::is_guard_address(s2.stack().limit() - 1));
            assert!(!hypha_fiber::is_guard_address(s2.stack().limit()));
            s2.suspend(()).unwrap();
        })
        .unwrap();
        expect_yield(inner.resume(()));
        assert_eq!(hypha_fiber::current_stack(), Some(mine));
        s.suspend(()).unwrap();
        expect_return(inner.resume(()));
    })
    .unwrap();
    expect_yield(outer.resume(()));
    assert_eq!(hypha_fiber::current_stack(), None);
    expect_return(outer.resume(()));
}

#[test]
fn many_fibers_alive_at_once() {
    const FIBERS: usize = 1000;
    const ROUNDS: usize = 20;
    let mut fibers: Vec<_> = (0..FIBERS)
        .map(|id| {
            Fiber::new(
                FiberStack::new(16 * 1024).unwrap(),
                move |mut acc: usize, s: &Suspend<usize, usize, usize>| {
                    for _ in 0..ROUNDS {
                        acc = acc * 3 + id;
                        acc = s.suspend(acc % 1_000_003).unwrap();
                    }
                    acc + id
                },
            )
            .unwrap()
        })
        .collect();
    let mut values: Vec<usize> = (0..FIBERS).collect();
    let mut model: Vec<usize> = (0..FIBERS).collect();
    for _ in 0..ROUNDS {
        // Round-robin, so every fiber is suspended mid-loop while the others run.
        for (id, fiber) in fibers.iter_mut().enumerate() {
            values[id] = expect_yield(fiber.resume(values[id]));
            model[id] = (model[id] * 3 + id) % 1_000_003;
            assert_eq!(values[id], model[id]);
        }
    }
    for (id, fiber) in fibers.iter_mut().enumerate() {
        assert_eq!(expect_return(fiber.resume(values[id])), model[id] + id);
    }
}

#[test]
fn stack_can_be_reused_by_the_next_fiber() {
    let mut fiber = Fiber::new(stack(), |x: u8, _: &Suspend<u8, (), u8>| x + 1).unwrap();
    let region = fiber.stack();
    assert_eq!(expect_return(fiber.resume(1)), 2);
    let stack = fiber.into_stack();
    assert_eq!(stack.region(), region);
    let mut again = Fiber::new(stack, |x: u8, s: &Suspend<u8, u8, u8>| s.suspend(x).unwrap() * 2).unwrap();
    assert_eq!(expect_yield(again.resume(5)), 5);
    assert_eq!(expect_return(again.resume(21)), 42);
}

#[test]
fn send_fiber_resumes_on_another_thread() {
    // SAFETY: the closure holds only plain integers across suspensions.
    let mut fiber = unsafe {
        SendFiber::new(stack(), |x: u64, s: &Suspend<u64, u64, u64>| {
            let y = s.suspend(x + 1).unwrap();
            y * 2
        })
    }
    .unwrap();
    assert_eq!(expect_yield(fiber.resume(1)), 2);
    let out = std::thread::spawn(move || expect_return(fiber.resume(20)))
        .join()
        .unwrap();
    assert_eq!(out, 40);
}

#[test]
fn send_fiber_migrates_between_threads_many_times() {
    use std::sync::mpsc;
    const THREADS: usize = 4;
    const HOPS: u64 = 400;
    // SAFETY: the closure holds only integers across suspensions.
    let fiber = unsafe {
        SendFiber::new(stack(), |mut x: u64, s: &Suspend<u64, u64, u64>| {
            let mut sum = 0;
            for _ in 0..HOPS {
                assert_eq!(hypha_fiber::current_stack(), Some(s.stack()));
                sum += x;
                x = s.suspend(sum).unwrap();
            }
            sum
        })
    }
    .unwrap();
    // A ring of threads passes the fiber along; each resumes it once per visit.
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel()).unzip();
    // Carries the final sum, or the message of a panic on any thread (so a
    // failure ends the test instead of stalling the ring).
    let (done_tx, done_rx) = mpsc::channel::<Result<u64, String>>();
    senders[0].send(Some((fiber, 0_u64))).unwrap();
    let handles: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, rx)| {
            let next = senders[(i + 1) % THREADS].clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                while let Ok(Some((mut fiber, hop))) = rx.recv() {
                    let step = catch_unwind(AssertUnwindSafe(|| {
                        assert_eq!(hypha_fiber::current_stack(), None);
                        fiber.resume(hop)
                    }));
                    match step {
                        Ok(FiberResult::Yield(_)) => next.send(Some((fiber, hop + 1))).unwrap(),
                        Ok(FiberResult::Return(sum)) => done.send(Ok(sum)).unwrap(),
                        Err(e) => {
                            let msg = e.downcast_ref::<String>().cloned().unwrap_or_else(|| "panic".to_owned());
                            done.send(Err(msg)).unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    drop(done_tx);
    let sum = done_rx.recv().unwrap();
    for tx in &senders {
        tx.send(None).unwrap();
    }
    for h in handles {
        h.join().unwrap();
    }
    // Resumed with hop numbers 0, 1, 2, ...; the last one only ends the loop.
    assert_eq!(sum, Ok((0..HOPS).sum::<u64>()));
}

#[test]
fn panic_after_migrating_surfaces_on_the_new_thread_and_leaves_both_threads_sane() {
    // SAFETY: the closure holds only an integer across its suspension.
    let mut fiber = unsafe {
        SendFiber::new(stack(), |x: u32, s: &Suspend<u32, (), ()>| {
            let y = s.suspend(()).unwrap();
            assert_eq!(x, y, "migrated fiber panics");
        })
    }
    .unwrap();
    assert!(matches!(fiber.resume(1), FiberResult::Yield(())));
    let other = std::thread::spawn(move || {
        let err = catch_unwind(AssertUnwindSafe(|| fiber.resume(2))).unwrap_err();
        let msg = err.downcast_ref::<String>().cloned();
        // The panic bookkeeping of this thread is balanced: not panicking,
        // and a fresh panic is caught normally.
        let sane = !std::thread::panicking() && catch_unwind(|| panic!("again")).is_err();
        (msg, sane)
    })
    .join()
    .unwrap();
    assert!(other.0.is_some_and(|m| m.contains("migrated fiber panics")));
    assert!(other.1);
    assert!(!std::thread::panicking());
    assert!(catch_unwind(|| panic!("here too")).is_err());
}

// === bad use ===

#[test]
fn closure_too_big_for_the_stack_is_an_error() {
    #[expect(
        clippy::large_stack_arrays,
        reason = "the point is a closure bigger than the fiber stack"
    )]
    let big = [7_u8; 128 * 1024];
    let result = Fiber::new(
        FiberStack::new(16 * 1024).unwrap(),
        move |(), _: &Suspend<(), (), u8>| big[5],
    );
    match result {
        Err(StackError::TooSmall { requested, minimum }) => {
            assert_eq!(requested, 16 * 1024);
            assert!(minimum > 128 * 1024);
        }
        other => panic!("expected TooSmall, got {other:?}"),
    }
}

#[test]
fn resuming_a_finished_fiber_panics() {
    let mut fiber = Fiber::new(stack(), |(), _: &Suspend<(), (), ()>| {}).unwrap();
    expect_return(fiber.resume(()));
    let err = catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"resumed a finished fiber"));
}

#[test]
fn suspend_smuggled_into_a_nested_fiber_panics() {
    let mut outer = Fiber::new(stack(), |(), s: &Suspend<(), (), bool>| {
        let mut inner = Fiber::new(stack(), |(), _: &Suspend<(), (), ()>| {
            // Wrong handle: it belongs to the outer fiber.
            let _ = s.suspend(());
        })
        .unwrap();
        catch_unwind(AssertUnwindSafe(|| inner.resume(()))).is_err()
    })
    .unwrap();
    assert!(expect_return(outer.resume(())));
}

// === panics ===

#[test]
fn panic_inside_a_fiber_surfaces_on_the_resumer() {
    let mut fiber = Fiber::new(stack(), |x: u32, s: &Suspend<u32, u32, u32>| {
        let y = s.suspend(x).unwrap();
        assert!(y < 10, "fiber got {y}");
        y
    })
    .unwrap();
    assert_eq!(expect_yield(fiber.resume(1)), 1);
    let err = catch_unwind(AssertUnwindSafe(|| fiber.resume(99))).unwrap_err();
    assert_eq!(err.downcast_ref::<String>().map(String::as_str), Some("fiber got 99"));
    assert!(fiber.is_finished());
    // The thread is fine afterwards and new fibers work.
    let mut next = Fiber::new(stack(), |x: u32, _: &Suspend<u32, u32, u32>| x).unwrap();
    assert_eq!(expect_return(next.resume(3)), 3);
}

#[test]
fn panic_in_a_nested_fiber_surfaces_through_both_resumers() {
    let mut outer = Fiber::new(stack(), |(), _: &Suspend<(), (), ()>| {
        let mut inner = Fiber::new(stack(), |(), _: &Suspend<(), (), ()>| panic!("deep")).unwrap();
        inner.resume(());
    })
    .unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| outer.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"deep"));
    assert!(outer.is_finished());
    assert_eq!(hypha_fiber::current_stack(), None, "the thread is back on its own stack");
}

#[test]
fn panic_on_the_first_resume_surfaces_too() {
    let mut fiber = Fiber::new(stack(), |(), _: &Suspend<(), (), ()>| panic!("at once")).unwrap();
    let err = catch_unwind(AssertUnwindSafe(|| fiber.resume(()))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"at once"));
}

// === drop and cancellation ===

/// Counts drops into a shared cell.
struct DropCounter(Rc<Cell<u32>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_suspended_fiber_cancels_it_and_runs_destructors() {
    let drops = Rc::new(Cell::new(0));
    let log = Rc::new(RefCell::new(Vec::new()));
    {
        let drops_in = Rc::clone(&drops);
        let log = Rc::clone(&log);
        let mut fiber = Fiber::new(stack(), move |(), s: &Suspend<(), u32, ()>| {
            let _on_stack = DropCounter(Rc::clone(&drops_in));
            let boxed = Box::new(DropCounter(Rc::clone(&drops_in)));
            let first = s.suspend(1);
            log.borrow_mut().push(format!("{first:?}"));
            // Cancelled fibers cannot yield again: suspend returns at once.
            let second = s.suspend(2);
            log.borrow_mut()
                .push(format!("{second:?} cancelled={}", s.is_cancelled()));
            drop(boxed);
        })
        .unwrap();
        assert_eq!(expect_yield(fiber.resume(())), 1);
        assert_eq!(drops.get(), 0);
        drop(fiber);
    }
    assert_eq!(drops.get(), 2, "both values on the fiber stack were dropped");
    assert_eq!(
        *log.borrow(),
        vec![
            format!("{:?}", Err::<(), _>(Cancelled)),
            "Err(Cancelled) cancelled=true".to_owned()
        ]
    );
}

#[test]
fn dropping_an_unstarted_fiber_drops_the_closure_without_running_it() {
    let drops = Rc::new(Cell::new(0));
    let ran = Rc::new(Cell::new(false));
    let counter = DropCounter(Rc::clone(&drops));
    let ran2 = Rc::clone(&ran);
    let fiber = Fiber::new(stack(), move |(), _: &Suspend<(), (), ()>| {
        let _keep = &counter;
        ran2.set(true);
    })
    .unwrap();
    assert_eq!(drops.get(), 0);
    drop(fiber);
    assert_eq!(drops.get(), 1);
    assert!(!ran.get());
}

#[test]
fn dropping_a_finished_fiber_does_not_run_it_again() {
    let runs = Rc::new(Cell::new(0));
    let runs2 = Rc::clone(&runs);
    let mut fiber = Fiber::new(stack(), move |(), _: &Suspend<(), (), ()>| runs2.set(runs2.get() + 1)).unwrap();
    expect_return(fiber.resume(()));
    drop(fiber);
    assert_eq!(runs.get(), 1);
}

#[test]
fn cancel_returns_what_the_closure_returned() {
    let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), (), Result<u32, Cancelled>>| {
        let mut done = 0;
        while done < 100 {
            s.suspend(())?;
            done += 1;
        }
        Ok(done)
    })
    .unwrap();
    expect_yield(fiber.resume(()));
    expect_yield(fiber.resume(()));
    assert_eq!(fiber.cancel(), Some(Err(Cancelled)));
    assert!(fiber.is_finished());
    assert_eq!(fiber.cancel(), None);
}

#[test]
fn panic_while_cancelling_is_reraised_from_drop() {
    let fiber = {
        let mut f = Fiber::new(stack(), |(), s: &Suspend<(), (), ()>| {
            if s.suspend(()).is_err() {
                panic!("winding down failed");
            }
        })
        .unwrap();
        expect_yield(f.resume(()));
        f
    };
    let err = catch_unwind(AssertUnwindSafe(move || drop(fiber))).unwrap_err();
    assert_eq!(err.downcast_ref::<&str>(), Some(&"winding down failed"));
}

#[test]
fn pinned_value_on_a_cancelled_fiber_is_dropped_before_the_stack_is_freed() {
    // Models an intrusive wait-list node: a pinned value on the fiber stack
    // registers its address; its destructor must unregister before the
    // stack memory goes away.
    let registry: Rc<RefCell<Vec<usize>>> = Rc::default();
    struct Node {
        registry: Rc<RefCell<Vec<usize>>>,
        _pinned: core::marker::PhantomPinned,
    }
    impl Drop for Node {
        fn drop(&mut self) {
            let me = std::ptr::from_ref(self).addr();
            self.registry.borrow_mut().retain(|&a| a != me);
        }
    }
    let reg = Rc::clone(&registry);
    let mut fiber = Fiber::new(stack(), move |(), s: &Suspend<(), (), ()>| {
        let node = std::pin::pin!(Node {
            registry: Rc::clone(&reg),
            _pinned: core::marker::PhantomPinned
        });
        reg.borrow_mut().push(std::ptr::from_ref(&*node).addr());
        while s.suspend(()).is_ok() {}
    })
    .unwrap();
    expect_yield(fiber.resume(()));
    let region = fiber.stack();
    assert!(registry.borrow().iter().all(|&a| region.contains(a)));
    assert_eq!(registry.borrow().len(), 1);
    drop(fiber);
    assert!(registry.borrow().is_empty());
}

// === machine state ===

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    fn mxcsr() -> u32 {
        let mut v = 0_u32;
        // SAFETY: stmxcsr stores 4 bytes into `v`.
        unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &raw mut v, options(nostack)) };
        v
    }

    fn set_mxcsr(v: u32) {
        // SAFETY: loads a valid MXCSR value (only rounding bits changed).
        unsafe { core::arch::asm!("ldmxcsr [{}]", in(reg) &raw const v, options(nostack)) };
    }

    const ROUND_MASK: u32 = 0x6000;
    const ROUND_UP: u32 = 0x4000;

    #[test]
    fn mxcsr_rounding_mode_is_per_context() {
        let outside = mxcsr();
        assert_eq!(outside & ROUND_MASK, 0, "host runs round-to-nearest");
        let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), u32, u32>| {
            set_mxcsr((mxcsr() & !ROUND_MASK) | ROUND_UP);
            s.suspend(mxcsr()).unwrap();
            let back = mxcsr();
            set_mxcsr(back & !ROUND_MASK);
            back
        })
        .unwrap();
        assert_eq!(expect_yield(fiber.resume(())) & ROUND_MASK, ROUND_UP);
        assert_eq!(mxcsr(), outside, "fiber's rounding mode did not leak out");
        assert_eq!(
            expect_return(fiber.resume(())) & ROUND_MASK,
            ROUND_UP,
            "and it was restored inside"
        );
        assert_eq!(mxcsr(), outside);
    }

    fn fcw() -> u16 {
        let mut v = 0_u16;
        // SAFETY: fnstcw stores 2 bytes into `v`.
        unsafe { core::arch::asm!("fnstcw [{}]", in(reg) &raw mut v, options(nostack)) };
        v
    }

    fn set_fcw(v: u16) {
        // SAFETY: loads a valid x87 control word (only precision bits changed).
        unsafe { core::arch::asm!("fldcw [{}]", in(reg) &raw const v, options(nostack)) };
    }

    /// x87 precision control: bits 8..9 (0b11 = 64-bit, 0b00 = 24-bit).
    const PRECISION_MASK: u16 = 0x0300;

    #[test]
    fn x87_control_word_is_per_context() {
        let outside = fcw();
        assert_eq!(outside & PRECISION_MASK, PRECISION_MASK, "host runs 64-bit x87 precision");
        let mut fiber = Fiber::new(stack(), |(), s: &Suspend<(), u16, u16>| {
            set_fcw(fcw() & !PRECISION_MASK);
            s.suspend(fcw()).unwrap();
            let back = fcw();
            set_fcw(back | PRECISION_MASK);
            back
        })
        .unwrap();
        assert_eq!(expect_yield(fiber.resume(())) & PRECISION_MASK, 0);
        assert_eq!(fcw(), outside, "fiber's x87 precision did not leak out");
        assert_eq!(expect_return(fiber.resume(())) & PRECISION_MASK, 0, "and it was restored inside");
        assert_eq!(fcw(), outside);
    }
}

#[test]
fn stack_is_16_byte_aligned_at_entry() {
    let mut fiber = Fiber::new(stack(), |(), _: &Suspend<(), (), usize>| {
        // A 16-aligned local proves the frame is aligned as the ABI says.
        #[repr(align(16))]
        struct A([u8; 16]);
        let a = std::hint::black_box(A([0; 16]));
        std::ptr::from_ref(&a.0).addr() % 16
    })
    .unwrap();
    assert_eq!(expect_return(fiber.resume(())), 0);
}

#[test]
fn backtrace_inside_a_fiber_ends_at_the_fiber_entry() {
    let mut fiber = Fiber::new(stack(), |(), _: &Suspend<(), (), String>| {
        std::backtrace::Backtrace::force_capture().to_string()
    })
    .unwrap();
    let trace = expect_return(fiber.resume(()));
    assert!(trace.contains("hypha_fiber::fiber::entry"), "{trace}");
    // Nothing from the resumer's stack: not `Fiber::resume`, not the test harness.
    assert!(
        !trace.contains("::resume"),
        "walk did not stop at the fiber entry:\n{trace}"
    );
    assert!(
        !trace.contains("run_test"),
        "walk did not stop at the fiber entry:\n{trace}"
    );
}

// === custom stack allocators (the kernel's path) ===

mod allocators {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hypha_fiber::{MmapStackAllocator, StackAllocator, StackRegion};

    use super::*;

    /// Counts calls; memory from the host allocator.
    #[derive(Default)]
    struct Counting {
        allocated: AtomicUsize,
        freed: AtomicUsize,
    }

    // SAFETY: forwards to `MmapStackAllocator`, which upholds the contract.
    unsafe impl StackAllocator for Counting {
        fn allocate(&self, size: usize) -> Result<StackRegion, StackError> {
            self.allocated.fetch_add(1, Ordering::Relaxed);
            MmapStackAllocator::with_guard_pages(2).allocate(size)
        }

        unsafe fn deallocate(&self, region: StackRegion) {
            self.freed.fetch_add(1, Ordering::Relaxed);
            // SAFETY: forwarded from our caller; the region came from the
            // same kind of allocator.
            unsafe { MmapStackAllocator::with_guard_pages(2).deallocate(region) };
        }
    }

    #[test]
    fn fiber_on_a_custom_allocator_frees_its_stack_exactly_once() {
        let alloc = Arc::new(Counting::default());
        let stack = FiberStack::with_allocator(alloc.clone(), 32 * 1024).unwrap();
        assert_eq!(stack.region().guard_size(), 2 * MmapStackAllocator::page_size());
        let mut fiber = Fiber::new(stack, |x: u32, s: &Suspend<u32, u32, u32>| s.suspend(x).unwrap() + 1).unwrap();
        assert_eq!(expect_yield(fiber.resume(1)), 1);
        // Finishing and reusing the stack does not free it...
        assert_eq!(expect_return(fiber.resume(2)), 3);
        let stack = fiber.into_stack();
        assert_eq!(alloc.freed.load(Ordering::Relaxed), 0);
        // ...dropping the fiber that finally owns it does.
        let fiber = Fiber::new(stack, |(), _: &Suspend<(), (), ()>| {}).unwrap();
        drop(fiber);
        assert_eq!(alloc.allocated.load(Ordering::Relaxed), 1);
        assert_eq!(alloc.freed.load(Ordering::Relaxed), 1);
    }

    /// Hands out one fixed, guard-less buffer that is far too small.
    struct Tiny {
        buf: Box<[u128; 8]>,
    }

    // SAFETY: the buffer is owned by the allocator, outlives every stack it
    // hands out (the `Arc` keeps it alive), and the region has no guard.
    unsafe impl StackAllocator for Tiny {
        fn allocate(&self, _size: usize) -> Result<StackRegion, StackError> {
            let base = self.buf.as_ptr().expose_provenance();
            StackRegion::new(base, base, base + core::mem::size_of_val(&*self.buf))
        }

        unsafe fn deallocate(&self, _region: StackRegion) {}
    }

    #[test]
    fn stack_without_room_for_the_first_frame_is_an_error() {
        let alloc: Arc<dyn StackAllocator> = Arc::new(Tiny { buf: Box::new([0; 8]) });
        let stack = FiberStack::with_allocator(alloc, 128).unwrap();
        assert_eq!(stack.region().guard_size(), 0);
        let result = Fiber::new(stack, |(), _: &Suspend<(), (), ()>| {});
        assert!(matches!(result, Err(StackError::TooSmall { requested: 128, .. })), "{result:?}");
    }
}
