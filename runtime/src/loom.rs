//! loom — the atomics, cells, locks and thread parking of the concurrent
//! core: std's (and lock.rs's) in a normal build, loom's under `--cfg loom`,
//! so the model tests check the real code rather than a copy (tokio's
//! practice). Code that a model covers imports them from here; everything
//! else uses std's directly.
//!
//! The models run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-runtime --release --lib loom`;
//! each lives beside the code it checks, in a `loom_tests` module.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
};

/// A cell whose accesses loom checks for races under `--cfg loom` (loom's
/// API: `with_mut` reaches the value through a raw pointer).
#[cfg(loom)]
pub(crate) use loom::cell::UnsafeCell;

/// std's `UnsafeCell` with loom's API, for a normal build.
#[cfg(not(loom))]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(v: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    /// Writes through `*mut T`; the caller's protocol makes it race-free.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// The locks of the code the models block in (channels, an idle M's wake):
/// the runtime's counted locks (lock.rs) in a normal build, loom's under
/// `--cfg loom`, with the same API.
#[cfg(not(loom))]
pub(crate) use crate::lock::{Condvar, Mutex};
#[cfg(loom)]
pub(crate) use model_sync::{Condvar, Mutex};

/// Parking a plain thread (wait/waiter.rs): std's, or loom's under `--cfg loom`.
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, Thread};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, Thread};
}

/// loom's Mutex and Condvar behind lock.rs's API (a guard passed to `wait`
/// by reference).
#[cfg(loom)]
mod model_sync {
    use std::ops::{Deref, DerefMut};

    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// Always `Some` outside `Condvar::wait`.
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().expect("a model thread panicked")))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("guard held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("guard held")
        }
    }

    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, g: &mut MutexGuard<'_, T>) {
            let inner = g.0.take().expect("guard held");
            g.0 = Some(self.0.wait(inner).expect("a model thread panicked"));
        }

        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
    }
}
