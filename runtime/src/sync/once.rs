//! once — [`Once`], Go's `sync.Once`: run an initializer exactly once, however
//! many goroutines ask at the same time; the others park until it is done.
//!
//! # State word
//! `INCOMPLETE -> RUNNING -> COMPLETE`, with `RUNNING -> INCOMPLETE` when an
//! initializer that may be retried panics (sync/once_lock.rs). The first
//! caller moves `INCOMPLETE -> RUNNING` with one CAS and runs the
//! initializer outside every lock; callers that find `RUNNING` take the
//! queue lock, re-check that the state is still `RUNNING` and park. The
//! runner settles the state under the queue lock and wakes every waiter, so
//! the re-check cannot miss the end of the run. After completion the fast
//! path is one Acquire load (Go's `done` flag).
//!
//! # Panics
//! Go's rule: if the initializer panics, `Do` considers it to have returned,
//! so later calls return without calling it. [`Once`] does the same: the
//! state goes to `COMPLETE` while the panic unwinds and the waiters are woken
//! (this crate has no poisoning: sync/mod.rs). [`OnceLock`](super::OnceLock)
//! instead goes back to `INCOMPLETE`, as std's does, and a waiter retries.
//!
//! [`OnceState`] is the machine both use; this file also holds [`Once`].

#![forbid(unsafe_code)]

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::wait::sudog::{park_on, WaitQ, WaitReason};

/// Nobody has run (or finished) the initializer.
pub(super) const INCOMPLETE: u8 = 0;
/// An initializer is running; callers park.
const RUNNING: u8 = 1;
/// Done: the fast path returns at once.
pub(super) const COMPLETE: u8 = 2;

/// What a goroutine dump shows for a parked caller: Go's `Once.Do` waits on
/// the Once's mutex, so Go's dump says "sync.Mutex.Lock" too.
const REASON: WaitReason = WaitReason::SyncMutexLock;

/// The once-only state machine of [`Once`] and `OnceLock` (module header).
///
/// Invariants: `state` leaves `RUNNING` only under the `waiters` lock, and
/// only by the one [`Running`] token's owner; every sudog in `waiters` was
/// queued while the state was `RUNNING` and is claimed when it leaves it.
pub(super) struct OnceState {
    /// INCOMPLETE, RUNNING or COMPLETE (header).
    state: AtomicU8,
    /// Callers parked while the initializer runs.
    waiters: crate::lock::Mutex<WaitQ<()>>,
}

/// The right (and duty) to run the initializer: returned by
/// [`OnceState::begin`] to one caller. Dropping it settles the state to
/// `on_drop` and wakes every waiter, so a panic that unwinds through the
/// initializer still releases them.
pub(super) struct Running<'a> {
    once: &'a OnceState,
    /// The state to settle to when dropped: COMPLETE (Go's Once: a panic
    /// counts as done) or INCOMPLETE (OnceLock: retry), set to COMPLETE by
    /// OnceLock once its value is written.
    pub(super) on_drop: u8,
}

impl OnceState {
    /// Not run yet.
    pub(super) const fn new() -> OnceState {
        OnceState {
            state: AtomicU8::new(INCOMPLETE),
            waiters: crate::lock::Mutex::new(WaitQ::new()),
        }
    }

    /// An already completed state (a `OnceLock` made from a value).
    pub(super) const fn new_complete() -> OnceState {
        OnceState {
            state: AtomicU8::new(COMPLETE),
            waiters: crate::lock::Mutex::new(WaitQ::new()),
        }
    }

    /// True once complete. Acquire: pairs with `settle`'s Release, so the
    /// initializer's writes are visible to a caller that sees COMPLETE.
    #[inline]
    pub(super) fn is_complete(&self) -> bool {
        self.state.load(Ordering::Acquire) == COMPLETE
    }

    /// The state through a unique borrow (no other caller can exist).
    pub(super) fn get_mut(&mut self) -> &mut u8 {
        self.state.get_mut()
    }

    /// Returns the token to run the initializer, or None once complete;
    /// parks while another caller runs it. `on_drop`: see [`Running`].
    pub(super) fn begin(&self, on_drop: u8) -> Option<Running<'_>> {
        loop {
            // Acquire (both ways): a failure that reads COMPLETE must see
            // the initializer's writes (pairs with `settle`'s Release); a
            // success after a panicked run is ordered after that run.
            match self.state.compare_exchange(
                INCOMPLETE,
                RUNNING,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(Running {
                        once: self,
                        on_drop,
                    })
                }
                Err(COMPLETE) => return None,
                Err(_) => self.wait(),
            }
        }
    }

    /// Parks until the state leaves RUNNING (returns at once if it has).
    #[inline(never)]
    fn wait(&self) {
        let q = self.waiters.lock();
        // Relaxed: the state leaves RUNNING only under this lock, so the
        // value read here is current; the caller's next CAS is the Acquire.
        if self.state.load(Ordering::Relaxed) != RUNNING {
            return;
        }
        park_on(q, None, false, REASON, |q| q);
    }

    /// Sets the state to `to` (leaving RUNNING) and wakes every waiter.
    #[inline(never)]
    fn settle(&self, to: u8) {
        let mut q = self.waiters.lock();
        // Release: publishes the initializer's writes to `is_complete` and
        // to `begin`'s failed CAS.
        self.state.store(to, Ordering::Release);
        let ws = q.claim_all();
        drop(q);
        for w in ws {
            w.wake();
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.once.settle(self.on_drop);
    }
}

/// Runs a one-time initialization: Go's `sync.Once`, with std's method
/// names. Callers that arrive while the initializer runs park (a plain
/// thread blocks) until it is done; afterwards `call_once` is one load.
///
/// Like Go's (and unlike std's), a panicking initializer counts as done:
/// the panic goes to its caller, the waiters are released, and later calls
/// return at once without running anything (see [`Once::call_once`]).
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
///
/// static INIT: gort::sync::Once = gort::sync::Once::new();
/// static RUNS: AtomicU32 = AtomicU32::new(0);
///
/// let hs: Vec<_> = (0..100)
///     .map(|_| {
///         gort::go!(|| INIT.call_once(|| {
///             RUNS.fetch_add(1, SeqCst);
///         }))
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(RUNS.load(SeqCst), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    st: OnceState,
}

// A shared Once stays consistent through a panic in the initializer (the
// state settles to COMPLETE while it unwinds), as std's does.
impl UnwindSafe for Once {}
impl RefUnwindSafe for Once {}

impl Once {
    /// A new `Once`, not run yet. Usable in a `static`.
    ///
    /// ```
    /// static START: gort::sync::Once = gort::sync::Once::new();
    /// assert!(!START.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once {
            st: OnceState::new(),
        }
    }

    /// Runs `f` if no call has run it yet; otherwise waits (parked) until the
    /// call that runs it has finished, then returns without calling `f`.
    /// Everything `f` did is visible to every caller after `call_once`
    /// returns.
    ///
    /// If `f` panics, the panic propagates to this caller, and — as Go's
    /// `Once.Do`, whose doc says "if f panics, Do considers it to have
    /// returned; future calls of Do return without calling f" — the `Once`
    /// is complete: waiters are released and later calls do nothing. There
    /// is no poisoning.
    ///
    /// Calling `call_once` on the same `Once` from inside `f` waits for
    /// itself for ever (Go's `Do` deadlocks the same way).
    ///
    /// ```
    /// use std::panic::catch_unwind;
    ///
    /// let once = gort::sync::Once::new();
    /// let first = catch_unwind(|| once.call_once(|| panic!("init failed")));
    /// assert!(first.is_err());
    /// assert!(once.is_completed()); // Go's rule: it counts as done
    /// once.call_once(|| unreachable!()); // returns without calling f
    /// ```
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.st.is_complete() {
            return;
        }
        self.call_once_slow(f);
    }

    /// The slow path: run `f` (holding the token, dropped on unwind too) or
    /// wait for the caller who does.
    #[cold]
    fn call_once_slow<F: FnOnce()>(&self, f: F) {
        if let Some(_running) = self.st.begin(COMPLETE) {
            f();
        }
    }

    /// True once an initializer has finished — returned or panicked (Go's
    /// rule, see [`Once::call_once`]); std's says false after a panic.
    ///
    /// ```
    /// let once = gort::sync::Once::new();
    /// assert!(!once.is_completed());
    /// once.call_once(|| {});
    /// assert!(once.is_completed());
    /// ```
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.st.is_complete()
    }
}

impl Default for Once {
    /// Same as [`Once::new`].
    ///
    /// ```
    /// let once = gort::sync::Once::default();
    /// assert!(!once.is_completed());
    /// ```
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}
