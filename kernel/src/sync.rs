//! A spin lock that keeps interrupts off while held, so an interrupt
//! handler on the same hart can never spin on a lock its hart holds.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Mutual exclusion by spinning, with interrupts disabled on the holding hart.
#[derive(Debug)]
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, so sharing
// the lock between harts is sound whenever T may move between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

/// Proof of holding a [`SpinLock`]; unlocks and restores interrupts on drop.
#[derive(Debug)]
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    interrupts_were_enabled: bool,
}

impl<T> SpinLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> Self {
        Self { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Disables interrupts and spins until the lock is ours.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let interrupts_were_enabled = crate::arch::csr::disable_interrupts();
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        SpinLockGuard { lock: self, interrupts_were_enabled }
    }

    /// Takes the lock only if it is free right now.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let interrupts_were_enabled = crate::arch::csr::disable_interrupts();
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            Some(SpinLockGuard { lock: self, interrupts_were_enabled })
        } else {
            if interrupts_were_enabled {
                crate::arch::csr::enable_interrupts();
            }
            None
        }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: holding the guard means holding the lock: no other
        // reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only one.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        if self.interrupts_were_enabled {
            crate::arch::csr::enable_interrupts();
        }
    }
}

/// A value set once, then read by anyone (a minimal `OnceLock`).
#[derive(Debug)]
pub struct Once<T> {
    state: core::sync::atomic::AtomicU8,
    value: UnsafeCell<core::mem::MaybeUninit<T>>,
}

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

// SAFETY: the value is written once, by the caller that won the EMPTY ->
// WRITING transition, and only read after READY is published with
// Release/Acquire; T must be shareable (Sync) and sendable to the reader.
unsafe impl<T: Send + Sync> Sync for Once<T> {}

impl<T> Once<T> {
    /// An empty cell.
    pub const fn new() -> Self {
        Self { state: core::sync::atomic::AtomicU8::new(EMPTY), value: UnsafeCell::new(core::mem::MaybeUninit::uninit()) }
    }

    /// Stores `value` if the cell is empty; returns whether it did.
    pub fn set(&self, value: T) -> bool {
        if self.state.compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        // SAFETY: winning EMPTY -> WRITING makes us the only writer, and no
        // reader looks at the value before READY.
        unsafe { (*self.value.get()).write(value) };
        self.state.store(READY, Ordering::Release);
        true
    }

    /// The value, once set.
    pub fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: READY was published after the value was written, and it
        // is never written again, so a shared reference to it is sound.
        let value = unsafe { &*self.value.get() };
        // SAFETY: READY means the value was initialised.
        Some(unsafe { value.assume_init_ref() })
    }
}
