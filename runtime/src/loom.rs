//! loom — the atomics of the lock-free core: std's in a normal build,
//! loom's under `--cfg loom`, so the model tests check the real code rather
//! than a copy (tokio's practice). Code that a model covers imports its
//! atomics from here; everything else uses std's directly.
//!
//! The models run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-runtime --release --lib loom`;
//! each lives beside the code it checks, in a `loom_tests` module.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize};

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
