//! rwlock — [`RwLock<T>`], Go's `sync.RWMutex` around a value.
//!
//! All state lives under one short internal lock: the reader count, the
//! writer flag, the number of waiting writers and two wait queues. Waiters
//! are granted the lock by whoever releases it (the waker updates the counts
//! on the waiter's behalf before waking it), so a woken goroutine never has
//! to compete again.
//!
//! Writer preference, as in Go: once a writer waits, new readers queue behind
//! it, so a stream of readers cannot starve writers. When a writer unlocks,
//! every queued reader is admitted before the next writer (those readers
//! arrived while the writer held the lock), so writers cannot starve readers
//! either.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use crate::wait::sudog::{park_on, WaitQ, WaitReason};
use crate::wait::waiter::Waiter;

/// A reader-writer lock protecting a `T`; waiters park as goroutines.
///
/// ```
/// let l = gort::sync::RwLock::new(5);
/// {
///     let (a, b) = (l.read(), l.read()); // many readers at once
///     assert_eq!(*a + *b, 10);
/// }
/// *l.write() += 1;
/// assert_eq!(*l.read(), 6);
/// ```
pub struct RwLock<T: ?Sized> {
    state: crate::lock::Mutex<RwState>,
    data: UnsafeCell<T>,
}

/// Everything under the internal lock.
struct RwState {
    /// Readers holding the lock.
    readers: usize,
    /// A writer holds the lock.
    writer: bool,
    /// Writers queued in `wq` (new readers wait while this is non-zero).
    writers_waiting: usize,
    rq: WaitQ<()>,
    wq: WaitQ<()>,
}

// SAFETY: as std's RwLock: the value moves between threads with its owner
// (`T: Send`) and readers share `&T` across threads (`T: Sync`).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

/// Shared access to an [`RwLock`]'s value; releases on drop.
///
/// ```
/// let l = gort::sync::RwLock::new(String::from("hi"));
/// let g = l.read();
/// assert_eq!(g.len(), 2);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a T>,
}

/// Exclusive access to an [`RwLock`]'s value; releases on drop.
///
/// ```
/// let l = gort::sync::RwLock::new(vec![1]);
/// l.write().push(2);
/// assert_eq!(*l.read(), [1, 2]);
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    lock: &'a RwLock<T>,
    _marker: PhantomData<&'a mut T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(0u8);
    /// assert_eq!(*l.read(), 0);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: crate::lock::Mutex::new(RwState {
                readers: 0,
                writer: false,
                writers_waiting: 0,
                rq: WaitQ::new(),
                wq: WaitQ::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    ///
    /// ```
    /// assert_eq!(gort::sync::RwLock::new(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting while a writer holds or waits for it.
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(1);
    /// assert_eq!(*l.read(), 1);
    /// ```
    #[inline(never)]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        let mut st = self.state.lock();
        if !st.writer && st.writers_waiting == 0 {
            st.readers += 1;
        } else {
            // Woken = admitted: the waker counted us in `readers`.
            park_on(st, None, false, WaitReason::SyncRWMutexRLock, |s| &mut s.rq);
        }
        RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for writing, waiting while anyone else holds it.
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(1);
    /// *l.write() = 2;
    /// assert_eq!(*l.read(), 2);
    /// ```
    #[inline(never)]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        let mut st = self.state.lock();
        if !st.writer && st.readers == 0 {
            st.writer = true;
        } else {
            st.writers_waiting += 1;
            // Woken = admitted: the waker set `writer` for us.
            park_on(st, None, false, WaitReason::SyncRWMutexLock, |s| &mut s.wq);
        }
        RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        }
    }

    /// Locks for reading if that is possible now.
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(1);
    /// let w = l.write();
    /// assert!(l.try_read().is_none());
    /// drop(w);
    /// assert!(l.try_read().is_some());
    /// ```
    #[inline(never)]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let mut st = self.state.lock();
        if st.writer || st.writers_waiting != 0 {
            return None;
        }
        st.readers += 1;
        Some(RwLockReadGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// Locks for writing if that is possible now.
    ///
    /// ```
    /// let l = gort::sync::RwLock::new(1);
    /// let r = l.read();
    /// assert!(l.try_write().is_none());
    /// drop(r);
    /// assert!(l.try_write().is_some());
    /// ```
    #[inline(never)]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let mut st = self.state.lock();
        if st.writer || st.readers != 0 {
            return None;
        }
        st.writer = true;
        Some(RwLockWriteGuard {
            lock: self,
            _marker: PhantomData,
        })
    }

    /// The value, through a unique borrow (no locking needed).
    ///
    /// ```
    /// let mut l = gort::sync::RwLock::new(1);
    /// *l.get_mut() += 1;
    /// assert_eq!(*l.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// A reader leaves; the last one admits a waiting writer.
    #[inline(never)]
    fn read_unlock(&self) {
        let mut st = self.state.lock();
        st.readers -= 1;
        let mut w = None;
        if st.readers == 0 && !st.writer {
            if let Some(c) = st.wq.dequeue() {
                w = Some(c.finish());
                st.writer = true;
                st.writers_waiting -= 1;
            }
        }
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }

    /// The writer leaves; admit every queued reader, else the next writer.
    #[inline(never)]
    fn write_unlock(&self) {
        let mut st = self.state.lock();
        st.writer = false;
        let mut ws: Vec<Waiter> = Vec::new();
        while let Some(c) = st.rq.dequeue() {
            ws.push(c.finish());
        }
        st.readers += ws.len();
        if ws.is_empty() {
            if let Some(c) = st.wq.dequeue() {
                ws.push(c.finish());
                st.writer = true;
                st.writers_waiting -= 1;
            }
        }
        drop(st);
        ws.into_iter().for_each(Waiter::wake);
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read guard exists only while the lock is held for
        // reading, so no writer (and no `&mut T`) exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a write guard exists only while the lock is held
        // exclusively by its owner.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: exclusive, as in `deref`; `&mut self` makes this the
        // only reference derived from the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.try_read() {
            Some(g) => f.debug_struct("RwLock").field("data", &&*g).finish(),
            None => f.write_str("RwLock { <locked> }"),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
