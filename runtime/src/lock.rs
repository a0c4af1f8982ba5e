//! lock — the runtime's own locks, counted per thread (Go's `m.locks`).
//!
//! Every lock the runtime takes is a [`Mutex`] from here: parking_lot's,
//! plus a count of the locks this thread holds. The SIGURG handler
//! (sched/preempt.rs) never switches a goroutine out while the count is non-zero.
//! Runtime functions are not user code (sched/symtab.rs), so a preemption cannot
//! land in them as compiled; but with inlining across crates (LTO, or a
//! generic runtime function instantiated in the user's crate) runtime code,
//! lock and all, can end up inside a user function's symbol. Suspended there,
//! the goroutine would keep the lock while its M, back in the scheduler,
//! takes the same lock: a deadlock on one thread. The count makes that
//! impossible whatever the inliner did.
//!
//! The count is a const-initialised thread-local without a destructor, so
//! the signal handler may read it (one load); only its own thread writes it,
//! and compiler fences order those writes against the handler.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{compiler_fence, Ordering};
use std::time::Duration;

thread_local! {
    /// Runtime locks held by this thread.
    static LOCKS: Cell<u32> = const { Cell::new(0) };
}

/// Runtime locks held by this thread (the signal handler's check).
pub(crate) fn held() -> u32 {
    LOCKS.with(Cell::get)
}

#[inline(always)]
fn acquired() {
    LOCKS.with(|c| c.set(c.get() + 1));
    compiler_fence(Ordering::SeqCst);
}

#[inline(always)]
fn released() {
    compiler_fence(Ordering::SeqCst);
    LOCKS.with(|c| c.set(c.get() - 1));
}

/// A runtime lock: parking_lot's mutex, counted while held.
#[derive(Default)]
pub(crate) struct Mutex<T: ?Sized>(parking_lot::Mutex<T>);

/// Holds a [`Mutex`]; the thread's lock count includes it until dropped.
pub(crate) struct MutexGuard<'a, T: ?Sized>(parking_lot::MutexGuard<'a, T>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Mutex<T> {
        Mutex(parking_lot::const_mutex(value))
    }
}

impl<T: ?Sized> Mutex<T> {
    #[inline]
    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        // Counted before the attempt: a preemption while we wait for it
        // would suspend a goroutine about to hold it.
        acquired();
        MutexGuard(self.0.lock())
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // The parking_lot guard (a field) unlocks right after this body;
        // counting it released a few instructions early is harmless: the
        // thread is inside runtime code anyway.
        released();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// parking_lot's condition variable for a [`Mutex`]. A waiter keeps the
/// lock counted while it sleeps: it is runtime code, not a safe point.
#[derive(Default)]
pub(crate) struct Condvar(parking_lot::Condvar);

impl Condvar {
    pub(crate) const fn new() -> Condvar {
        Condvar(parking_lot::Condvar::new())
    }

    pub(crate) fn wait<T: ?Sized>(&self, g: &mut MutexGuard<'_, T>) {
        self.0.wait(&mut g.0);
    }

    /// Waits at most `d`; true if it timed out.
    pub(crate) fn wait_for<T: ?Sized>(&self, g: &mut MutexGuard<'_, T>, d: Duration) -> bool {
        self.0.wait_for(&mut g.0, d).timed_out()
    }

    pub(crate) fn notify_one(&self) -> bool {
        self.0.notify_one()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_counts_this_threads_locks() {
        let (a, b) = (Mutex::new(1), Mutex::new(2));
        assert_eq!(held(), 0);
        let ga = a.lock();
        assert_eq!(held(), 1);
        {
            let gb = b.lock();
            assert_eq!(held(), 2);
            assert_eq!(*ga + *gb, 3);
        }
        assert_eq!(held(), 1);
        // Another thread's locks are its own.
        std::thread::spawn(|| assert_eq!(held(), 0)).join().unwrap();
        drop(ga);
        assert_eq!(held(), 0);
    }

    #[test]
    fn a_condvar_wait_keeps_the_lock_counted() {
        let m = Mutex::new(false);
        let cv = Condvar::new();
        let mut g = m.lock();
        let _ = cv.wait_for(&mut g, Duration::from_millis(1));
        assert_eq!(held(), 1);
        drop(g);
        assert_eq!(held(), 0);
    }
}
