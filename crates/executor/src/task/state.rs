//! The task state word and its transitions.
//!
//! Every transition is one compare-and-swap loop over the whole word
//! ([`State::transition`]): read, compute the next word and a decision from
//! the current one, CAS, retry on conflict. The closure never spins or
//! waits, so every interleaving is a finite sequence of CAS attempts that
//! loom can enumerate. Each transition returns a decision enum named after
//! it; the caller acts on the decision (enqueue, wake the joiner, free).

use crate::loom::atomic::{self, AtomicUsize, Ordering};
use core::fmt;

mycelium_bitfield::bitfield! {
    /// One snapshot of a task's state word.
    #[derive(PartialEq, Eq)]
    pub(crate) struct Snapshot<usize> {
        /// A worker is inside this task's `poll` (or is dropping its future
        /// after cancellation) right now. Does not imply the task was woken.
        pub(crate) const POLLING: bool;
        /// The future returned `Ready`, panicked, or was dropped because of
        /// cancellation. Sticky. Does not imply the output is still stored.
        pub(crate) const COMPLETE: bool;
        /// A wake arrived that no poll has consumed yet. While the task is
        /// not POLLING, WOKEN means "sits on exactly one run queue".
        pub(crate) const WOKEN: bool;
        /// Cancellation was requested before the task completed. Does not
        /// imply the future has been dropped yet (COMPLETE says that).
        pub(crate) const CANCELLED: bool;
        /// A `JoinHandle` for this task exists. Does not imply a join
        /// waker is registered.
        pub(crate) const HAS_JOIN_HANDLE: bool;
        /// State of the join-waker slot.
        pub(crate) const JOIN_WAKER: JoinWakerState;
        /// The output is stored in the task and has not been taken yet.
        pub(crate) const HAS_OUTPUT: bool;
        /// Number of live references: run-queue entries, wakers, the join
        /// handle and the worker currently polling.
        pub(crate) const REFS = ..;
    }
}

mycelium_bitfield::enum_from_bits! {
    /// The join-waker slot: who may touch it right now.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) enum JoinWakerState<u8> {
        /// No waker stored; only the join handle may start registering.
        Empty = 0b00,
        /// The join handle owns the slot and is writing a waker into it;
        /// the completer must not touch it.
        Registering = 0b01,
        /// A waker is stored; the completer may take it (moving to `Woken`)
        /// and the join handle may reclaim it (moving to `Registering`).
        Registered = 0b10,
        /// The completer took the waker and woke it.
        Woken = 0b11,
    }
}

/// One reference in the REFS field.
const REF_ONE: usize = Snapshot::REFS.first_bit();

/// The state word of one task.
pub(crate) struct State(AtomicUsize);

/// What `start_poll` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum StartPollAction {
    /// POLLING is set and WOKEN consumed: poll the future.
    Poll,
    /// Cancellation was requested: POLLING is set, drop the future (do not
    /// poll it) and then call [`State::complete`].
    Cancel,
    /// The task is being polled elsewhere or has completed: do nothing but
    /// drop the caller's reference.
    Refuse,
}

/// What `end_poll_pending` decided. The poller's reference is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum EndPollAction {
    /// Not woken during the poll; the poller's reference was dropped.
    Idle,
    /// A wake arrived during the poll: put the task back on a run queue,
    /// handing the queue the poller's reference.
    Reschedule,
    /// The poller's reference was the last one: free the task.
    Dealloc,
}

/// What `complete` decided. The poller's reference is *not* consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) struct CompleteAction {
    /// A registered join waker was claimed: take it from the slot and wake it.
    pub(crate) wake_joiner: bool,
    /// A join handle exists, so the output stays stored (HAS_OUTPUT set);
    /// otherwise the completer drops it right away.
    pub(crate) keep_output: bool,
}

/// What a wake decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum WakeAction {
    /// Nothing to do (complete, already woken, or being polled).
    None,
    /// Put the task on a run queue; the queue owns a fresh reference. (For
    /// wake-by-value the waker's own reference must be dropped afterwards.)
    Enqueue,
    /// Wake by value dropped the last reference: free the task.
    Dealloc,
}

/// What `cancel` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum CancelAction {
    /// The task completed before the request; nothing changes.
    AlreadyComplete,
    /// CANCELLED is set (now or earlier) and the task is already queued or
    /// being polled, so a worker will see it.
    Requested,
    /// CANCELLED and WOKEN set: enqueue the task with a fresh reference.
    Enqueue,
}

/// What a join poll decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum JoinAction {
    /// HAS_OUTPUT was cleared by this call: the caller owns the output.
    TakeOutput,
    /// The task was cancelled before it completed.
    Cancelled,
    /// The output was already taken (join polled after it returned ready).
    AlreadyTaken,
    /// The slot is now `Registering`, owned by the caller: write the waker,
    /// then call [`State::finish_join_registration`].
    Register,
}

/// What `finish_join_registration` decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum RegisterAction {
    /// The waker is published; the completer will wake it.
    Registered,
    /// The task completed while we were registering (the completer saw
    /// `Registering` and left the slot alone). The slot is `Empty` again and
    /// still owned by the caller: take the waker back and join again.
    Completed,
}

/// Whether dropping a reference freed the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum DropRefAction {
    /// Other references remain.
    Keep,
    /// That was the last reference: free the task.
    Dealloc,
}

// === impl Snapshot ===

impl Snapshot {
    /// Number of live references.
    #[inline]
    pub(crate) fn ref_count(self) -> usize {
        self.get(Self::REFS)
    }

    /// Adds one reference, aborting on overflow.
    #[inline]
    fn add_ref(&mut self) {
        let refs = self.ref_count();
        if refs == Self::REFS.max_value() {
            refcount_overflow();
        }
        self.set(Self::REFS, refs + 1);
    }

    /// Drops one reference; returns whether it was the last.
    #[inline]
    fn drop_ref(&mut self) -> DropRefAction {
        let refs = self.ref_count();
        debug_assert!(refs > 0, "task reference count underflow: {self:?}");
        self.set(Self::REFS, refs - 1);
        if refs == 1 { DropRefAction::Dealloc } else { DropRefAction::Keep }
    }
}

/// Reference counts overflowing means wakers are being leaked in a loop; this
/// is a bug, not a recoverable error.
#[cold]
#[inline(never)]
fn refcount_overflow() -> ! {
    #[cfg(feature = "std")]
    {
        std::process::abort()
    }
    #[cfg(not(feature = "std"))]
    {
        panic!("task reference count overflow (leaked wakers?)")
    }
}

// === impl State ===

impl State {
    /// State of a freshly spawned task: WOKEN (it is about to be queued),
    /// one reference for the run queue plus one for the join handle.
    pub(crate) fn new_spawned(with_join_handle: bool) -> Self {
        let refs = if with_join_handle { 2 } else { 1 };
        let snapshot = Snapshot::new()
            .with(Snapshot::WOKEN, true)
            .with(Snapshot::HAS_JOIN_HANDLE, with_join_handle)
            .with(Snapshot::JOIN_WAKER, JoinWakerState::Empty)
            .with(Snapshot::REFS, refs);
        Self(AtomicUsize::new(snapshot.bits()))
    }

    /// Current snapshot (Acquire).
    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot::from_bits(self.0.load(Ordering::Acquire))
    }

    /// Runs one transition: `f` computes the next snapshot (by mutating its
    /// argument) and a decision from the current one; the result is CASed in,
    /// retrying with the fresh value on conflict. No CAS when nothing changes.
    #[inline]
    fn transition<T>(&self, mut f: impl FnMut(&mut Snapshot) -> T) -> T {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let mut next = Snapshot::from_bits(current);
            let decision = f(&mut next);
            if next.bits() == current {
                return decision;
            }
            match self.0.compare_exchange_weak(
                current,
                next.bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return decision,
                Err(actual) => current = actual,
            }
        }
    }

    /// Adds a reference (Relaxed: the caller already holds one).
    #[inline]
    pub(crate) fn clone_ref(&self) {
        let previous = Snapshot::from_bits(self.0.fetch_add(REF_ONE, Ordering::Relaxed));
        if previous.ref_count() == Snapshot::REFS.max_value() {
            refcount_overflow();
        }
    }

    /// Drops a reference (Release); the thread dropping the last one fences
    /// Acquire before reporting [`DropRefAction::Dealloc`].
    #[inline]
    pub(crate) fn drop_ref(&self) -> DropRefAction {
        let previous = Snapshot::from_bits(self.0.fetch_sub(REF_ONE, Ordering::Release));
        debug_assert!(previous.ref_count() > 0, "task reference count underflow");
        if previous.ref_count() == 1 {
            atomic::fence(Ordering::Acquire);
            DropRefAction::Dealloc
        } else {
            DropRefAction::Keep
        }
    }

    /// A worker wants to poll the task (holding the queue's reference).
    pub(crate) fn start_poll(&self) -> StartPollAction {
        self.transition(|s| {
            if s.get(Snapshot::POLLING) || s.get(Snapshot::COMPLETE) {
                return StartPollAction::Refuse;
            }
            s.set(Snapshot::POLLING, true).set(Snapshot::WOKEN, false);
            if s.get(Snapshot::CANCELLED) { StartPollAction::Cancel } else { StartPollAction::Poll }
        })
    }

    /// The poll returned `Pending`. Consumes the poller's reference unless
    /// the task must be rescheduled (then the queue gets it).
    pub(crate) fn end_poll_pending(&self) -> EndPollAction {
        let action = self.transition(|s| {
            debug_assert!(s.get(Snapshot::POLLING), "end_poll without start_poll: {s:?}");
            s.set(Snapshot::POLLING, false);
            if s.get(Snapshot::WOKEN) {
                return EndPollAction::Reschedule;
            }
            match s.drop_ref() {
                DropRefAction::Keep => EndPollAction::Idle,
                DropRefAction::Dealloc => EndPollAction::Dealloc,
            }
        });
        if action == EndPollAction::Dealloc {
            atomic::fence(Ordering::Acquire);
        }
        action
    }

    /// The future finished: it returned `Ready` (`has_output`), panicked
    /// (`has_output`: the stored result is the panic error) or was dropped
    /// after cancellation (`!has_output`). Clears POLLING and WOKEN, sets
    /// COMPLETE, and claims a registered join waker.
    pub(crate) fn complete(&self, has_output: bool) -> CompleteAction {
        self.transition(|s| {
            debug_assert!(s.get(Snapshot::POLLING), "complete without start_poll: {s:?}");
            let keep_output = has_output && s.get(Snapshot::HAS_JOIN_HANDLE);
            s.set(Snapshot::POLLING, false)
                .set(Snapshot::WOKEN, false)
                .set(Snapshot::COMPLETE, true)
                .set(Snapshot::HAS_OUTPUT, keep_output);
            let wake_joiner = s.get(Snapshot::JOIN_WAKER) == JoinWakerState::Registered;
            if wake_joiner {
                s.set(Snapshot::JOIN_WAKER, JoinWakerState::Woken);
            }
            CompleteAction { wake_joiner, keep_output }
        })
    }

    /// Wake without consuming a reference.
    pub(crate) fn wake_by_ref(&self) -> WakeAction {
        self.transition(|s| {
            if s.get(Snapshot::COMPLETE) || s.get(Snapshot::WOKEN) {
                return WakeAction::None;
            }
            s.set(Snapshot::WOKEN, true);
            if s.get(Snapshot::POLLING) {
                return WakeAction::None;
            }
            s.add_ref();
            WakeAction::Enqueue
        })
    }

    /// Wake consuming the waker's reference.
    pub(crate) fn wake_by_val(&self) -> WakeAction {
        let action = self.transition(|s| {
            if s.get(Snapshot::COMPLETE) || s.get(Snapshot::WOKEN) {
                return match s.drop_ref() {
                    DropRefAction::Keep => WakeAction::None,
                    DropRefAction::Dealloc => WakeAction::Dealloc,
                };
            }
            s.set(Snapshot::WOKEN, true);
            if s.get(Snapshot::POLLING) {
                // The poller holds a reference, so this is never the last.
                let _keep = s.drop_ref();
                return WakeAction::None;
            }
            // A fresh reference for the queue: the waker keeps its own until
            // `schedule` has returned, so the task (and the scheduler stored
            // in it) outlives that call even if a worker runs and completes
            // the task meanwhile.
            s.add_ref();
            WakeAction::Enqueue
        });
        if action == WakeAction::Dealloc {
            atomic::fence(Ordering::Acquire);
        }
        action
    }

    /// Requests cancellation. Idempotent; a no-op once complete.
    pub(crate) fn cancel(&self) -> CancelAction {
        self.transition(|s| {
            if s.get(Snapshot::COMPLETE) && !s.get(Snapshot::CANCELLED) {
                return CancelAction::AlreadyComplete;
            }
            if s.get(Snapshot::CANCELLED) {
                return CancelAction::Requested;
            }
            s.set(Snapshot::CANCELLED, true);
            let queued_or_polling = s.get(Snapshot::WOKEN) || s.get(Snapshot::POLLING);
            s.set(Snapshot::WOKEN, true);
            if queued_or_polling {
                return CancelAction::Requested;
            }
            s.add_ref();
            CancelAction::Enqueue
        })
    }

    /// The join handle is polled.
    pub(crate) fn join(&self) -> JoinAction {
        self.transition(|s| {
            if s.get(Snapshot::COMPLETE) {
                if s.get(Snapshot::CANCELLED) {
                    return JoinAction::Cancelled;
                }
                if s.get(Snapshot::HAS_OUTPUT) {
                    s.set(Snapshot::HAS_OUTPUT, false);
                    return JoinAction::TakeOutput;
                }
                return JoinAction::AlreadyTaken;
            }
            // Not complete: the slot is Empty or Registered (Registering is
            // only ever held by the join handle inside one poll, Woken only
            // after COMPLETE).
            debug_assert!(
                matches!(
                    s.get(Snapshot::JOIN_WAKER),
                    JoinWakerState::Empty | JoinWakerState::Registered
                ),
                "join-waker slot in unexpected state: {s:?}"
            );
            s.set(Snapshot::JOIN_WAKER, JoinWakerState::Registering);
            JoinAction::Register
        })
    }

    /// The join handle wrote its waker; publish it unless the task completed
    /// meanwhile.
    pub(crate) fn finish_join_registration(&self) -> RegisterAction {
        self.transition(|s| {
            debug_assert_eq!(s.get(Snapshot::JOIN_WAKER), JoinWakerState::Registering);
            if s.get(Snapshot::COMPLETE) {
                s.set(Snapshot::JOIN_WAKER, JoinWakerState::Empty);
                RegisterAction::Completed
            } else {
                s.set(Snapshot::JOIN_WAKER, JoinWakerState::Registered);
                RegisterAction::Registered
            }
        })
    }

    /// The join handle is dropped: clear HAS_JOIN_HANDLE and drop its
    /// reference in one step.
    pub(crate) fn drop_join_handle(&self) -> DropRefAction {
        let action = self.transition(|s| {
            s.set(Snapshot::HAS_JOIN_HANDLE, false);
            s.drop_ref()
        });
        if action == DropRefAction::Dealloc {
            atomic::fence(Ordering::Acquire);
        }
        action
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}
