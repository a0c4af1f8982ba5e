//! local — goroutine-local storage: [`local!`](crate::local!) declares a
//! [`LocalKey`], and `KEY.with(|v| ..)` reaches the calling goroutine's own
//! value, made by the key's initializer on first use and dropped when the
//! goroutine exits. It is `thread_local!` with the goroutine in the place of
//! the thread: the answer to "what follows a goroutine across a yield"
//! (docs/CAVEATS.md). Go has no such thing on purpose (it passes a
//! `context.Context`); Rust code that already leans on `thread_local!` needs
//! a drop-in whose value does not stay behind when the goroutine moves to
//! another M.
//!
//! # Where the values live
//! Each G owns a small table ([`LocalMap`], one word in the G while unused):
//! the key's address -> an `Rc` of the value. Only the running G touches its
//! own table (g.rs "owner-only"), so it needs no lock; it travels with the G
//! from M to M through the run queues that order every hand-over, which is
//! why values must be `Send`. A few keys per goroutine is the expected use, so
//! the table is a vector searched linearly.
//!
//! On a thread that is not running a goroutine (a plain `std::thread`, or
//! `main` without `#[gort::main]`) the same table lives in a `thread_local!`,
//! so a key works everywhere: per thread there, per goroutine here.
//!
//! # Borrows and re-entry
//! The table is never borrowed while user code runs: `with` takes the table
//! out of its cell, clones the value's `Rc`, puts the table back, and only
//! then calls the initializer or the closure. So a closure may use other keys,
//! an initializer may use other keys, and a closure may yield, park or be
//! preempted (the clone keeps the value alive; nobody else can reach it).
//!
//! # Destruction
//! The goroutine's entry (goroutine/join.rs) calls [`drop_all`] after the body returned
//! or panicked and before the result is published, so `join` returning means
//! the values are gone (as with `std::thread` and its thread-locals). The
//! values are dropped on the goroutine's own stack, newest first. While that
//! runs the table is *dying*: a key that is not initialized any more (or was
//! never) cannot be made again, so `with` panics and `try_with` returns
//! [`AccessError`], as std's keys do during thread exit. A destructor that
//! panics turns the goroutine's result into that panic (join returns `Err`).
//!
//! # Rejected
//! - One `thread_local!` per key swapped in and out at every switch: costs
//!   every switch of every goroutine, for the few that use a key.
//! - A `HashMap`: a few keys per goroutine, and the empty table must be free.

#![forbid(unsafe_code)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// Declares goroutine-local statics, like `thread_local!`: each goroutine
/// sees its own value, made by the initializer at its first use there and
/// dropped when the goroutine exits. On a plain thread the value is per
/// thread. Values must be `Send` (a goroutine moves between threads). See
/// [`LocalKey`].
///
/// ```
/// use std::cell::RefCell;
///
/// gort::local! {
///     static TRAIL: RefCell<Vec<u32>> = RefCell::new(Vec::new());
/// }
///
/// let hs: Vec<_> = (0..4u32)
///     .map(|i| {
///         gort::go!(move || {
///             TRAIL.with(|t| t.borrow_mut().push(i));
///             gort::yield_now(); // may resume on another thread: the value follows
///             TRAIL.with(|t| t.borrow_mut().push(i * 10));
///             TRAIL.with(|t| t.borrow().clone())
///         })
///     })
///     .collect();
/// for (i, h) in hs.into_iter().enumerate() {
///     let i = i as u32;
///     assert_eq!(h.join().unwrap(), vec![i, i * 10]);
/// }
/// ```
#[macro_export]
macro_rules! local {
    () => {};
    // `= const { .. }`, accepted for `thread_local!` compatibility: the value
    // is made on first use all the same.
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = const $init:block; $($rest:tt)*) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = const $init:block) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident : $t:ty = $init:expr) => {
        $(#[$attr])*
        $vis static $name: $crate::LocalKey<$t> = {
            fn __gort_local_init() -> $t {
                $init
            }
            $crate::LocalKey::new(__gort_local_init)
        };
    };
}

/// A goroutine-local key, declared with [`local!`](crate::local!). The
/// key's address identifies it, so it must be a `static`.
///
/// ```
/// use std::cell::Cell;
/// gort::local! { static ID: Cell<u32> = Cell::new(0); }
///
/// ID.set(1); // this thread's value
/// let theirs = gort::go!(|| ID.get()).join().unwrap();
/// assert_eq!((ID.get(), theirs), (1, 0)); // the goroutine had its own
/// ```
pub struct LocalKey<T: Send + 'static> {
    init: fn() -> T,
}

/// The error of [`LocalKey::try_with`]: the value was already dropped (the
/// goroutine or thread is exiting and its values are being destroyed).
///
/// ```
/// use std::cell::Cell;
/// gort::local! { static LATE: Cell<u8> = Cell::new(0); }
///
/// struct Probe;
/// impl Drop for Probe {
///     fn drop(&mut self) {
///         // The goroutine is exiting: LATE cannot be made any more.
///         let err: gort::AccessError = LATE.try_with(|_| ()).unwrap_err();
///         assert!(err.to_string().contains("destruction"));
///     }
/// }
/// gort::local! { static PROBE: Probe = Probe; }
///
/// gort::go!(|| PROBE.with(|_| ())).join().unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessError;

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("goroutine-local value accessed during or after its destruction")
    }
}

impl std::error::Error for AccessError {}

impl<T: Send + 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> LocalKey<T> {
        LocalKey { init }
    }

    /// Runs `f` with a reference to the calling goroutine's value (or the
    /// calling thread's, on a plain thread), making it first if needed.
    ///
    /// # Panics
    /// If the value was already destroyed: called from a destructor of
    /// another goroutine-local while the goroutine exits.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static HITS: Cell<u32> = Cell::new(0); }
    ///
    /// let n = gort::go!(|| {
    ///     for _ in 0..3 {
    ///         HITS.with(|h| h.set(h.get() + 1));
    ///     }
    ///     HITS.with(Cell::get)
    /// });
    /// assert_eq!(n.join().unwrap(), 3);
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("gort::local!: {e}"),
        }
    }

    /// Like [`with`](Self::with), but returns [`AccessError`] instead of
    /// panicking when the value was already destroyed.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static COUNT: Cell<u32> = Cell::new(5); }
    ///
    /// let got = gort::go!(|| COUNT.try_with(|c| c.get() + 1)).join().unwrap();
    /// assert_eq!(got, Ok(6));
    /// ```
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        let v = self.get_or_init()?;
        let v = v
            .downcast_ref::<T>()
            .expect("a key's address identifies its value's type");
        Ok(f(v))
    }

    /// The value's `Rc`, made on first use. The table is borrowed only
    /// around the look-ups, never while the initializer runs (header).
    fn get_or_init(&'static self) -> Result<Rc<dyn Any>, AccessError> {
        let key = self as *const LocalKey<T> as usize;
        if let Some(v) = with_table(|t| t.get(key))? {
            return Ok(v);
        }
        if with_table(|t| t.dying)? {
            return Err(AccessError);
        }
        let v: Rc<dyn Any> = Rc::new((self.init)());
        // The initializer may have used this very key (re-entry): the first
        // value stored wins and ours is dropped, like a lost race.
        with_table(|t| match t.get(key) {
            Some(first) => first,
            None => {
                t.entries.push((key, v.clone()));
                v
            }
        })
    }
}

impl<T: Send + 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

impl<T: Send + Copy + 'static> LocalKey<Cell<T>> {
    /// The value in this goroutine's cell (std's `LocalKey::<Cell<T>>::get`).
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static DEPTH: Cell<u32> = Cell::new(7); }
    /// assert_eq!(gort::go!(|| DEPTH.get()).join().unwrap(), 7);
    /// ```
    pub fn get(&'static self) -> T {
        self.with(Cell::get)
    }

    /// Stores `v` in this goroutine's cell.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::local! { static LEVEL: Cell<u8> = Cell::new(0); }
    ///
    /// let h = gort::go!(|| {
    ///     LEVEL.set(3);
    ///     LEVEL.get()
    /// });
    /// assert_eq!(h.join().unwrap(), 3);
    /// assert_eq!(LEVEL.get(), 0); // this thread's value is untouched
    /// ```
    pub fn set(&'static self, v: T) {
        self.with(|c| c.set(v));
    }
}

impl<T: Send + 'static> LocalKey<RefCell<T>> {
    /// Runs `f` with a shared borrow of this goroutine's value.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static NAMES: RefCell<Vec<&'static str>> = RefCell::new(vec!["main"]); }
    ///
    /// let n = gort::go!(|| NAMES.with_borrow(|v| v.len())).join().unwrap();
    /// assert_eq!(n, 1);
    /// ```
    pub fn with_borrow<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        self.with(|c| f(&c.borrow()))
    }

    /// Runs `f` with a mutable borrow of this goroutine's value.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// gort::local! { static LOG: RefCell<String> = RefCell::new(String::new()); }
    /// let s = gort::go!(|| {
    ///     LOG.with_borrow_mut(|s| s.push_str("a"));
    ///     LOG.with_borrow_mut(|s| s.push_str("b"));
    ///     LOG.with_borrow(|s| s.clone())
    /// });
    /// assert_eq!(s.join().unwrap(), "ab");
    /// ```
    pub fn with_borrow_mut<R>(&'static self, f: impl FnOnce(&mut T) -> R) -> R {
        self.with(|c| f(&mut c.borrow_mut()))
    }
}

/// One goroutine's (or plain thread's) values.
#[derive(Default)]
struct Table {
    /// (key address, value), oldest first.
    entries: Vec<(usize, Rc<dyn Any>)>,
    /// Set by `drop_all`: no value can be made any more.
    dying: bool,
}

impl Table {
    fn get(&self, key: usize) -> Option<Rc<dyn Any>> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }
}

/// The slot for a goroutine's values inside its G (g.rs): empty (one null
/// word) until the goroutine first uses a key. Owner-only: only the running
/// G reaches its own slot (module header), which is what makes the
/// non-`Send` `Rc`s inside sound to move with the G.
#[derive(Default)]
pub(crate) struct LocalMap(Cell<Option<Box<Table>>>);

impl LocalMap {
    pub(crate) fn new() -> LocalMap {
        LocalMap(Cell::new(None))
    }

    /// Runs `f` on the table (made empty if absent) with no other access
    /// possible: `f` is runtime code that calls no user code.
    fn with<R>(&self, f: impl FnOnce(&mut Table) -> R) -> R {
        let mut t = self.0.take().unwrap_or_default();
        let r = f(&mut t);
        self.0.set(Some(t));
        r
    }
}

/// Drops the table's values on thread exit (plain threads).
struct ThreadTable(LocalMap);

impl Drop for ThreadTable {
    fn drop(&mut self) {
        // Newest first, like a goroutine's; a destructor that reaches for
        // another key finds this thread-local destroyed (AccessError).
        if let Some(mut t) = self.0 .0.take() {
            while let Some(e) = t.entries.pop() {
                drop(e);
            }
        }
    }
}

thread_local! {
    /// The values of the code running on this thread outside any goroutine.
    static THREAD: ThreadTable = ThreadTable(LocalMap::new());
}

/// Runs `f` on the calling goroutine's table, or on this thread's when no
/// goroutine runs here.
fn with_table<R>(f: impl FnOnce(&mut Table) -> R) -> Result<R, AccessError> {
    match crate::m::current_g() {
        Some(g) => Ok(g.get().locals.with(f)),
        None => THREAD.try_with(|t| t.0.with(f)).map_err(|_| AccessError),
    }
}

/// Drops the calling goroutine's values (newest first), on its own stack.
/// Called by the goroutine's entry (goroutine/join.rs) after its body; a no-op for a
/// goroutine that never used a key. A panicking destructor unwinds out of
/// here after the remaining values are dropped.
pub(crate) fn drop_all() {
    let Some(g) = crate::m::current_g() else {
        return;
    };
    let map = &g.get().locals;
    let Some(mut t) = map.0.take() else {
        return; // never used a key: the common case, one load
    };
    t.dying = true;
    map.0.set(Some(t));
    /// Drops the rest even if one destructor panics.
    struct Rest<'a>(&'a LocalMap);
    impl Drop for Rest<'_> {
        fn drop(&mut self) {
            while let Some(e) = self.0.with(|t| t.entries.pop()) {
                drop(e);
            }
        }
    }
    let rest = Rest(map);
    while let Some(e) = map.with(|t| t.entries.pop()) {
        drop(e); // user code: may use keys still in the table
    }
    drop(rest);
}
