//! cond — [`Cond`], Go's `sync.Cond`: goroutines wait, holding a gort
//! [`Mutex`](super::Mutex), for a condition another goroutine announces with `signal` or
//! `broadcast`.
//!
//! # Tickets (Go's notifyList, runtime/sema.go)
//! A waiter takes a ticket (`wait` += 1, Go's notifyListAdd) *while it still
//! holds the mutex*, then unlocks and parks with that ticket
//! (notifyListWait). A signal moves `notify` past the oldest ticket not yet
//! notified and wakes the waiter holding it (notifyListNotifyOne); a
//! broadcast moves `notify` up to `wait` and wakes every parked waiter
//! (notifyListNotifyAll). A waiter checks, under the list lock, whether its
//! ticket is below `notify` before parking: a signal that came between its
//! unlock and its park was counted on its ticket, so it returns at once
//! instead of sleeping. No wake-up is lost, and none is made up: a waiter
//! returns only once its ticket was notified (Go's contract allows
//! spurious wake-ups; this implementation has none).
//!
//! `notify` changes only under the list lock; `wait` changes without it.
//! When they are equal every ticket handed out has been notified, so
//! `signal` and `broadcast` return without the lock (Go's fast path). A
//! waiter whose ticket is taken later is not owed this notification: it
//! took its ticket under the mutex, so it saw the condition as it was after
//! the notifier's change (if the notifier changed it under the mutex, as
//! the contract asks).
//!
//! Tickets are `u64`, so unlike Go's `uint32` they never wrap.

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use super::mutex::MutexGuard;
use crate::wait::sudog::{park_on, Claimed, WaitQ, WaitReason};

/// A condition variable: a rendezvous for goroutines waiting for, or
/// announcing, a change to state guarded by a gort [`Mutex`](super::Mutex). Go's
/// `sync.Cond`; waiting parks the goroutine (a plain thread blocks).
///
/// Unlike Go's, a `Cond` is not tied to one mutex: [`Cond::wait`] takes the
/// guard and gives it back, as `std::sync::Condvar` does. Use one mutex per
/// `Cond`.
///
/// ```
/// use std::sync::Arc;
/// use gort::sync::{Cond, Mutex};
///
/// let state = Arc::new((Mutex::new(false), Cond::new()));
/// let s = state.clone();
/// let waiter = gort::go!(move || {
///     let (ready, cond) = &*s;
///     let mut g = ready.lock();
///     while !*g {
///         g = cond.wait(g);
///     }
/// });
/// let (ready, cond) = &*state;
/// *ready.lock() = true;
/// cond.signal();
/// waiter.join().unwrap();
/// ```
pub struct Cond {
    /// The next ticket to hand out (Go's `notifyList.wait`). Only grows.
    wait: AtomicU64,
    /// The next ticket to notify (Go's `notify`): every ticket below it
    /// has been notified. Only grows, never past `wait`; written only under
    /// `list`'s lock.
    notify: AtomicU64,
    /// Parked waiters, each sudog's slot holding its ticket. Invariant: a
    /// queued ticket is at least `notify` (a notification past it claims
    /// it under the same lock).
    list: crate::lock::Mutex<WaitQ<u64>>,
}

impl Cond {
    /// A new condition variable with no waiters. Usable in a `static`.
    ///
    /// ```
    /// let cond = gort::sync::Cond::new();
    /// cond.signal(); // nobody waits: nothing happens
    /// ```
    pub const fn new() -> Cond {
        Cond {
            wait: AtomicU64::new(0),
            notify: AtomicU64::new(0),
            list: crate::lock::Mutex::new(WaitQ::new()),
        }
    }

    /// Unlocks the guard's mutex, waits (parked) until a [`signal`] or
    /// [`broadcast`] that comes after this call wakes it, then locks the
    /// mutex again and returns the new guard (Go's `c.Wait()`). A
    /// notification made between the unlock and the park is not lost.
    ///
    /// The condition may have changed again by the time the mutex is
    /// re-locked, so wait in a loop that checks it, as in Go:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gort::sync::{Cond, Mutex};
    ///
    /// let q = Arc::new((Mutex::new(Vec::new()), Cond::new()));
    /// let q2 = q.clone();
    /// let consumer = gort::go!(move || {
    ///     let (items, cond) = &*q2;
    ///     let mut g = items.lock();
    ///     while g.is_empty() {
    ///         g = cond.wait(g);
    ///     }
    ///     g.pop().unwrap()
    /// });
    /// q.0.lock().push(7);
    /// q.1.signal();
    /// assert_eq!(consumer.join().unwrap(), 7);
    /// ```
    ///
    /// [`signal`]: Cond::signal
    /// [`broadcast`]: Cond::broadcast
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = MutexGuard::mutex(&guard);
        // notifyListAdd, still holding the mutex (module header).
        let ticket = self.wait.fetch_add(1, SeqCst);
        drop(guard);
        self.wait_ticket(ticket);
        mutex.lock()
    }

    /// Go's notifyListWait: returns at once if `ticket` was notified
    /// already, else parks until a notification claims it.
    #[inline(never)]
    fn wait_ticket(&self, ticket: u64) {
        let q = self.list.lock();
        if ticket < self.notify.load(SeqCst) {
            return;
        }
        park_on(q, Some(ticket), false, WaitReason::SyncCondWait, |q| q);
    }

    /// Wakes one waiting goroutine, if any: the one that has waited longest
    /// (Go's `c.Signal()`). Holding the mutex is allowed, not required.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gort::sync::{Cond, Mutex};
    ///
    /// let s = Arc::new((Mutex::new(0), Cond::new()));
    /// let s2 = s.clone();
    /// let h = gort::go!(move || {
    ///     let mut g = s2.0.lock();
    ///     while *g == 0 {
    ///         g = s2.1.wait(g);
    ///     }
    ///     *g
    /// });
    /// *s.0.lock() = 5;
    /// s.1.signal();
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    pub fn signal(&self) {
        if self.wait.load(SeqCst) == self.notify.load(SeqCst) {
            return; // every ticket is notified already (module header)
        }
        self.signal_slow();
    }

    /// Go's notifyListNotifyOne past the fast path.
    #[inline(never)]
    fn signal_slow(&self) {
        let mut q = self.list.lock();
        let t = self.notify.load(SeqCst);
        if t == self.wait.load(SeqCst) {
            return;
        }
        self.notify.store(t + 1, SeqCst);
        // The holder of ticket `t` may not have parked yet: it then sees
        // `t < notify` under this lock and returns without parking.
        let w = q.dequeue_where(|s| s == Some(&t)).map(Claimed::finish);
        drop(q);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// Wakes every waiting goroutine (Go's `c.Broadcast()`). Holding the
    /// mutex is allowed, not required.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gort::sync::{Cond, Mutex};
    ///
    /// let s = Arc::new((Mutex::new(false), Cond::new()));
    /// let hs: Vec<_> = (0..4)
    ///     .map(|_| {
    ///         let s = s.clone();
    ///         gort::go!(move || {
    ///             let mut open = s.0.lock();
    ///             while !*open {
    ///                 open = s.1.wait(open);
    ///             }
    ///         })
    ///     })
    ///     .collect();
    /// *s.0.lock() = true;
    /// s.1.broadcast();
    /// for h in hs {
    ///     h.join().unwrap();
    /// }
    /// ```
    pub fn broadcast(&self) {
        if self.wait.load(SeqCst) == self.notify.load(SeqCst) {
            return; // every ticket is notified already (module header)
        }
        self.broadcast_slow();
    }

    /// Go's notifyListNotifyAll past the fast path.
    #[inline(never)]
    fn broadcast_slow(&self) {
        let mut q = self.list.lock();
        self.notify.store(self.wait.load(SeqCst), SeqCst);
        let ws = q.claim_all();
        drop(q);
        for w in ws {
            w.wake();
        }
    }
}

impl Default for Cond {
    /// Same as [`Cond::new`].
    ///
    /// ```
    /// let cond = gort::sync::Cond::default();
    /// cond.broadcast();
    /// ```
    fn default() -> Cond {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cond { .. }")
    }
}
