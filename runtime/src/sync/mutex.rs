//! mutex — [`Mutex<T>`], Go's `sync.Mutex` around a value.
//!
//! # State word (Go's `mutexLocked` / `mutexWaiterShift`, simplified)
//! `LOCKED` (someone holds it) and `PARKED` (the wait queue may be non-empty,
//! so `unlock` must look at it). The fast paths are one CAS each: lock
//! `0 -> LOCKED`, unlock `LOCKED -> 0`.
//!
//! # Slow paths
//! A locker that finds the mutex held sets `PARKED`, takes the queue lock,
//! re-checks that the state is still `LOCKED | PARKED` (an unlock that ran in
//! between would have cleared `PARKED`; then it retries) and parks. Unlock
//! with `PARKED` set takes the queue lock, pops the first waiter and either
//! - releases the lock and wakes the waiter, which competes again with new
//!   lockers (Go's normal mode: fast, newcomers may barge in); a waiter that
//!   loses goes back to the *front* of the queue; or
//! - if that waiter has waited longer than [`STARVATION`], hands the lock over
//!   directly: the state stays `LOCKED` and the waiter returns owning it
//!   (Go's starvation mode, per hand-off), so no waiter starves. An unlocker
//!   on a goroutine then yields (Go's `semrelease(handoff=true)` +
//!   `goyield`): the waiter sits in this P's `runnext`, so it runs now
//!   instead of after the unlocker's slice. At GOMAXPROCS=1 that is the
//!   difference between one slice of waiting (about 10 ms) and several.
//!
//! The queue lock serialises every state change made by a slow path, so the
//! re-check cannot miss an unlock.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::wait::sudog::{park_on, WaitQ, WaitReason};

/// Someone holds the mutex.
const LOCKED: u8 = 1;
/// The wait queue may hold goroutines: unlock must take the slow path.
const PARKED: u8 = 2;
/// A waiter older than this is handed the lock directly (Go's
/// starvationThresholdNs).
const STARVATION: Duration = Duration::from_millis(1);
/// Busy-wait rounds before parking (a holder often unlocks within them).
const SPIN_ROUNDS: u32 = 16;

/// A mutual-exclusion lock protecting a `T`; waiters park as goroutines.
/// Go's `sync.Mutex`, shaped like `std::sync::Mutex` minus poisoning (see
/// the `sync` module docs).
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(gort::sync::Mutex::new(Vec::new()));
/// let hs: Vec<_> = (0..4)
///     .map(|i| {
///         let m = m.clone();
///         gort::go!(move || m.lock().push(i))
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(m.lock().len(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    /// LOCKED | PARKED bits (header).
    state: AtomicU8,
    /// Waiters; each sudog's slot holds when it first waited. A waker sets
    /// the slot to None to say "you own the lock now" (hand-off).
    waiters: crate::lock::Mutex<WaitQ<Instant>>,
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands out `&mut T` to one holder at a time, possibly on
// different threads, so `T: Send` suffices for both (as std's Mutex).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`] locked; unlocks on drop. Derefs to the value.
///
/// ```
/// let m = gort::sync::Mutex::new(1);
/// {
///     let mut g = m.lock();
///     *g += 1;
/// } // unlocked here
/// assert_eq!(*m.lock(), 2);
/// ```
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    lock: &'a Mutex<T>,
    /// Sync only if `T: Sync` (the guard gives out `&T`).
    _marker: PhantomData<&'a mut T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(5);
    /// assert_eq!(*m.lock(), 5);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU8::new(0),
            waiters: crate::lock::Mutex::new(WaitQ::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex, returning the value.
    ///
    /// ```
    /// assert_eq!(gort::sync::Mutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting (parked) while another holds it.
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(0);
    /// *m.lock() += 1;
    /// assert_eq!(*m.lock(), 1);
    /// ```
    pub fn lock(&self) -> MutexGuard<'_, T> {
        // Acquire: pairs with the Release of the previous unlock.
        if self
            .state
            .compare_exchange_weak(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        MutexGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks the mutex if it is free now.
    ///
    /// ```
    /// let m = gort::sync::Mutex::new(0);
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert!(m.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        // Relaxed load: the CAS below decides, with Acquire.
        let mut s = self.state.load(Ordering::Relaxed);
        loop {
            if s & LOCKED != 0 {
                return None;
            }
            match self.state.compare_exchange_weak(
                s,
                s | LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    return Some(MutexGuard {
                        lock: self,
                        _marker: PhantomData,
                    })
                }
                Err(now) => s = now,
            }
        }
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut m = gort::sync::Mutex::new(1);
    /// *m.get_mut() = 2;
    /// assert_eq!(*m.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The slow path of `lock` (module header).
    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        let mut since: Option<Instant> = None;
        let mut spins = 0;
        loop {
            // Relaxed: the CAS that takes the lock has Acquire; the others
            // only steer this loop.
            let s = self.state.load(Ordering::Relaxed);
            if s & LOCKED == 0 {
                if self
                    .state
                    .compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            if s & PARKED == 0 {
                if spins < SPIN_ROUNDS {
                    spins += 1;
                    std::hint::spin_loop();
                    continue;
                }
                if self
                    .state
                    .compare_exchange_weak(s, s | PARKED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
            }
            let q = self.waiters.lock();
            // Relaxed: every slow-path store happens under this queue lock.
            if self.state.load(Ordering::Relaxed) != LOCKED | PARKED {
                continue;
            }
            // A waiter that was woken and lost the race goes to the front.
            let front = since.is_some();
            let first = *since.get_or_insert_with(Instant::now);
            if park_on(q, Some(first), front, WaitReason::SyncMutexLock, |q| q).is_none() {
                // Handed off: we own the lock; the waker's Release on the
                // wait's `done` (Acquired in `wait`) orders its critical
                // section before ours.
                return;
            }
            spins = 0;
        }
    }

    /// Unlocks; called by the guard.
    fn unlock(&self) {
        // Release: publishes the critical section to the next locker.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_slow();
        }
    }

    /// The slow path of `unlock` (module header).
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self) {
        let mut q = self.waiters.lock();
        let Some(c) = q.dequeue() else {
            // PARKED was set by a locker that has not queued yet; clearing
            // it makes that locker's re-check fail and retry.
            // Release: publishes the critical section.
            self.state.store(0, Ordering::Release);
            return;
        };
        let handoff = c.peek(|since| {
            let starving = since.is_some_and(|t| t.elapsed() >= STARVATION);
            if starving {
                *since = None;
            }
            starving
        });
        let w = c.finish();
        let parked = if q.is_empty() { 0 } else { PARKED };
        // Release: publishes the critical section to a barging locker (in
        // the hand-off case the lock stays held and the waiter is ordered
        // after us by the wait's `done`).
        let next = if handoff { LOCKED | parked } else { parked };
        self.state.store(next, Ordering::Release);
        drop(q);
        w.wake();
        // Not while unwinding: a guard dropped by a panic only releases.
        if handoff && crate::m::current_g().is_some() && !std::thread::panicking() {
            crate::sched::gosched();
        }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread (goroutine) holds
        // the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock exclusively; `&mut self` makes
        // this the only reference derived from it.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(v: T) -> Self {
        Mutex::new(v)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_lock() {
            Some(g) => f.debug_struct("Mutex").field("data", &&*g).finish(),
            None => f.write_str("Mutex { <locked> }"),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds (sync/cond.rs re-locks it after a wait).
    /// An associated function, like std's guard helpers, so it cannot
    /// shadow a method of `T`.
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}
