//! Synchronization for goroutines: Go's `sync` package. Every wait parks the
//! goroutine (its M runs others meanwhile) or, on a plain thread, blocks the
//! thread.
//!
//! - [`WaitGroup`]: wait for a set of goroutines (`add` / `done` / `wait`).
//! - [`Mutex<T>`]: a mutual-exclusion lock around a value.
//! - [`RwLock<T>`]: many readers or one writer; writers are preferred.
//! - [`Semaphore`]: a counting semaphore with FIFO waiters.
//! - [`Once`]: run an initializer once; a panic in it counts as done (Go's).
//! - [`OnceLock<T>`]: a cell written once (std's; Go's `OnceValue`); a
//!   panic in its initializer leaves it empty for the next caller.
//! - [`Cond`]: a condition variable over a [`Mutex`], with Go's
//!   `wait` / `signal` / `broadcast` and no lost wake-ups.
//! - [`ErrGroup<E>`]: golang.org/x/sync/errgroup — goroutines for the parts
//!   of one task, the first error, a context cancelled on it, a limit.
//!
//! ```
//! use std::sync::Arc;
//! use gort::sync::{Mutex, WaitGroup};
//!
//! let counter = Arc::new(Mutex::new(0));
//! let wg = WaitGroup::new();
//! for _ in 0..10 {
//!     wg.add(1);
//!     let (counter, wg) = (counter.clone(), wg.clone());
//!     gort::go!(move || {
//!         *counter.lock() += 1;
//!         wg.done();
//!     });
//! }
//! wg.wait();
//! assert_eq!(*counter.lock(), 10);
//! ```
//!
//! # No poisoning
//! As in Go (and parking_lot), a panic while a guard is held releases the
//! lock as the guard drops during unwinding; the value is not marked
//! poisoned, so `lock()` returns the guard directly, not a `LockResult`.
//!
//! # Guards across waits
//! Unlike std's, these guards may be held across channel operations and
//! other waits: the goroutine may resume on another OS thread, and these
//! locks do not care which thread unlocks them.
//!
//! Waiting uses the sudogs of wait/sudog.rs. Only mutex.rs, rwlock.rs and
//! once_lock.rs contain `unsafe` (the guarded value's `UnsafeCell`, the
//! cell's `MaybeUninit`); everything else here is safe.
//! Functions that hold an internal (parking_lot) lock are `#[inline(never)]`
//! so signal preemption never lands while one is held (see chan/hchan.rs).

#![deny(unsafe_code)]

mod cond;
mod errgroup;
mod mutex;
mod once;
mod once_lock;
mod rwlock;
mod semaphore;
mod waitgroup;

pub use cond::Cond;
pub use errgroup::ErrGroup;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use waitgroup::WaitGroup;
