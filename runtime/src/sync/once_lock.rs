//! once_lock — [`OnceLock<T>`], a cell written once: std's `OnceLock` (Go's
//! `sync.OnceValue`) whose waiters park as goroutines.
//!
//! It runs on the state machine of sync/once.rs (`OnceState`) with one
//! difference from [`Once`](super::Once): an initializer that panics leaves
//! the cell empty (the state goes back to `INCOMPLETE`), so a caller that
//! was waiting for it retries with its own initializer, as std's does. The
//! value is written by the one caller holding the `Running` token, before
//! the state becomes `COMPLETE` (Release); readers look at the state first
//! (Acquire), so a reader that sees `COMPLETE` sees the whole value.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::{RefUnwindSafe, UnwindSafe};

use super::once::{OnceState, COMPLETE, INCOMPLETE};

/// A cell that is written at most once, then read by reference from any
/// goroutine: std's `OnceLock`, with waiters that park (a plain thread
/// blocks) while another caller initializes it.
///
/// ```
/// static CONFIG: gort::sync::OnceLock<String> = gort::sync::OnceLock::new();
///
/// let hs: Vec<_> = (0..10)
///     .map(|_| gort::go!(|| CONFIG.get_or_init(|| "loaded".to_string()).len()))
///     .collect();
/// for h in hs {
///     assert_eq!(h.join().unwrap(), 6);
/// }
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceLock<T> {
    /// Invariant: `value` is initialised exactly when the state is
    /// COMPLETE. While RUNNING only the `Running` token's holder touches
    /// `value`; once COMPLETE it is only read through `&self` (written or
    /// taken only through `&mut self`).
    once: OnceState,
    value: UnsafeCell<MaybeUninit<T>>,
    /// Tells the drop checker that dropping a `OnceLock<T>` may drop a `T`.
    _marker: PhantomData<T>,
}

// SAFETY: a shared OnceLock gives out `&T` to many goroutines (`T: Sync`),
// and the value may be written by the caller on one thread and dropped by
// the owner on another (`T: Send`); std's bounds. The state machine makes
// the one write happen-before every read (module header).
unsafe impl<T: Sync + Send> Sync for OnceLock<T> {}

// As std's: a panicking initializer leaves the cell empty and consistent.
impl<T: RefUnwindSafe + UnwindSafe> RefUnwindSafe for OnceLock<T> {}
impl<T: UnwindSafe> UnwindSafe for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// A new, empty cell. Usable in a `static`.
    ///
    /// ```
    /// static CELL: gort::sync::OnceLock<u32> = gort::sync::OnceLock::new();
    /// assert_eq!(CELL.get(), None);
    /// ```
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: OnceState::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            _marker: PhantomData,
        }
    }

    /// The value, if the cell is initialized; never waits (`None` while an
    /// initializer runs).
    ///
    /// ```
    /// let cell = gort::sync::OnceLock::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if !self.once.is_complete() {
            return None;
        }
        // SAFETY: COMPLETE was just seen with Acquire.
        Some(unsafe { self.get_unchecked() })
    }

    /// The value, without looking at the state.
    ///
    /// # Safety
    /// This thread saw the state COMPLETE with an Acquire load (`is_complete`
    /// or `begin`), after which the value is initialised, its write visible,
    /// and not written again while `&self` lives (struct invariant).
    unsafe fn get_unchecked(&self) -> &T {
        // SAFETY: by the contract nobody writes `value` now.
        let slot: &MaybeUninit<T> = unsafe { &*self.value.get() };
        // SAFETY: COMPLETE means initialised (struct invariant).
        unsafe { slot.assume_init_ref() }
    }

    /// The value through a unique borrow, if the cell is initialized.
    ///
    /// ```
    /// let mut cell = gort::sync::OnceLock::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if *self.once.get_mut() != COMPLETE {
            return None;
        }
        // SAFETY: COMPLETE means initialised (struct invariant); `&mut self`
        // excludes every other access.
        Some(unsafe { self.value.get_mut().assume_init_mut() })
    }

    /// Puts `value` in the cell if it is empty; gives it back in `Err` if
    /// the cell already holds one. Waits (parked) if another caller is
    /// initializing the cell meanwhile, then answers as that ended.
    ///
    /// ```
    /// let cell = gort::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// assert_eq!(cell.get(), Some(&1));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("initializer runs once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, initializing the cell with `f` first if it is empty. One
    /// caller runs its `f`; callers that arrive meanwhile park until it is
    /// done and then get its value.
    ///
    /// If `f` panics, the panic propagates to this caller and the cell stays
    /// empty; a caller that was waiting then runs its own `f` (std's
    /// behaviour; there is no poisoning). Calling `get_or_init` on the same
    /// cell from inside `f` waits for itself for ever.
    ///
    /// ```
    /// use std::panic::catch_unwind;
    ///
    /// let cell = gort::sync::OnceLock::new();
    /// assert!(catch_unwind(|| cell.get_or_init(|| -> u32 { panic!("no") })).is_err());
    /// assert_eq!(cell.get(), None); // still empty: the next caller retries
    /// assert_eq!(*cell.get_or_init(|| 7), 7);
    /// assert_eq!(*cell.get_or_init(|| 8), 7);
    /// ```
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.initialize(f);
        // SAFETY: `initialize` returns only once the state is COMPLETE, seen
        // with Acquire by `begin` (or set by this thread).
        unsafe { self.get_unchecked() }
    }

    /// The slow path of `get_or_init`: runs `f` holding the token, or waits
    /// for the holder; loops until the cell is full.
    #[cold]
    fn initialize<F: FnOnce() -> T>(&self, f: F) {
        // A token that is dropped without a value (f panicked) settles back
        // to INCOMPLETE and wakes the waiters, who retry.
        let Some(mut running) = self.once.begin(INCOMPLETE) else {
            return;
        };
        let v = f();
        // SAFETY: we hold the Running token, so nobody else reads or writes
        // `value` (struct invariant) until the token settles the state.
        unsafe { (*self.value.get()).write(v) };
        running.on_drop = COMPLETE;
    }

    /// Empties the cell, returning its value (the cell may be filled again).
    ///
    /// ```
    /// let mut cell = gort::sync::OnceLock::from("a");
    /// assert_eq!(cell.take(), Some("a"));
    /// assert_eq!(cell.get(), None);
    /// assert_eq!(cell.set("b"), Ok(()));
    /// ```
    pub fn take(&mut self) -> Option<T> {
        let state = self.once.get_mut();
        if *state != COMPLETE {
            return None;
        }
        *state = INCOMPLETE;
        // SAFETY: it was COMPLETE, so the value is initialised; the state now
        // says INCOMPLETE, so nothing will read or drop it again.
        Some(unsafe { self.value.get_mut().assume_init_read() })
    }

    /// Consumes the cell, returning its value if it had one.
    ///
    /// ```
    /// let cell = gort::sync::OnceLock::new();
    /// cell.set(vec![1, 2]).unwrap();
    /// assert_eq!(cell.into_inner(), Some(vec![1, 2]));
    /// assert_eq!(gort::sync::OnceLock::<u8>::new().into_inner(), None);
    /// ```
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        if *self.once.get_mut() == COMPLETE {
            // SAFETY: COMPLETE means initialised; `&mut self` is the last
            // access, and the value is dropped once.
            unsafe { self.value.get_mut().assume_init_drop() };
        }
    }
}

impl<T> Default for OnceLock<T> {
    /// An empty cell (as [`OnceLock::new`]).
    ///
    /// ```
    /// let cell: gort::sync::OnceLock<u8> = Default::default();
    /// assert_eq!(cell.get(), None);
    /// ```
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T> From<T> for OnceLock<T> {
    /// A cell that already holds `value`.
    ///
    /// ```
    /// let cell = gort::sync::OnceLock::from(5);
    /// assert_eq!(cell.get(), Some(&5));
    /// ```
    fn from(value: T) -> OnceLock<T> {
        OnceLock {
            once: OnceState::new_complete(),
            value: UnsafeCell::new(MaybeUninit::new(value)),
            _marker: PhantomData,
        }
    }
}

impl<T: Clone> Clone for OnceLock<T> {
    /// A new cell holding a clone of the value, if there is one now.
    ///
    /// ```
    /// let a = gort::sync::OnceLock::from(String::from("x"));
    /// assert_eq!(a.clone().get().map(String::as_str), Some("x"));
    /// ```
    fn clone(&self) -> OnceLock<T> {
        match self.get() {
            Some(v) => OnceLock::from(v.clone()),
            None => OnceLock::new(),
        }
    }
}

impl<T: PartialEq> PartialEq for OnceLock<T> {
    /// Equal when both are empty, or both hold equal values.
    ///
    /// ```
    /// use gort::sync::OnceLock;
    /// assert_eq!(OnceLock::from(1), OnceLock::from(1));
    /// assert_ne!(OnceLock::from(1), OnceLock::new());
    /// ```
    fn eq(&self, other: &OnceLock<T>) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq> Eq for OnceLock<T> {}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("OnceLock");
        match self.get() {
            Some(v) => d.field(v),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
