//! semaphore — [`Semaphore`], a counting semaphore (Go's buffered-channel
//! idiom `sem := make(chan struct{}, n)`, or `x/sync/semaphore` with weight
//! 1). Waiters are served in FIFO order: a released permit goes straight to
//! the first waiter, so newcomers cannot overtake it.

#![forbid(unsafe_code)]

use std::fmt;

use crate::wait::sudog::{park_on, WaitQ, WaitReason};

/// A counting semaphore; `acquire` parks while no permit is free.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
///
/// let sem = Arc::new(gort::sync::Semaphore::new(2));
/// let inside = Arc::new(AtomicUsize::new(0));
/// let hs: Vec<_> = (0..8)
///     .map(|_| {
///         let (sem, inside) = (sem.clone(), inside.clone());
///         gort::go!(move || {
///             let _permit = sem.acquire();
///             assert!(inside.fetch_add(1, SeqCst) < 2); // at most 2 at once
///             gort::yield_now();
///             inside.fetch_sub(1, SeqCst);
///         })
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// ```
pub struct Semaphore {
    state: crate::lock::Mutex<SemState>,
}

struct SemState {
    /// Free permits. Non-zero only while nobody waits.
    permits: usize,
    waiters: WaitQ<()>,
}

/// A permit held from a [`Semaphore`]; returned on drop.
///
/// ```
/// let sem = gort::sync::Semaphore::new(1);
/// let p = sem.acquire();
/// assert_eq!(sem.available_permits(), 0);
/// drop(p);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permit is returned as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// ```
    /// assert_eq!(gort::sync::Semaphore::new(3).available_permits(), 3);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: crate::lock::Mutex::new(SemState {
                permits,
                waiters: WaitQ::new(),
            }),
        }
    }

    /// Takes a permit, waiting (parked, FIFO) until one is free.
    ///
    /// ```
    /// let sem = gort::sync::Semaphore::new(1);
    /// let _p = sem.acquire();
    /// ```
    #[inline(never)]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        let mut st = self.state.lock();
        if st.permits > 0 {
            st.permits -= 1;
        } else {
            // Woken = granted: the releaser passed its permit to us.
            park_on(st, None, false, WaitReason::Semacquire, |s| &mut s.waiters);
        }
        SemaphorePermit { sem: self }
    }

    /// Takes a permit if one is free now.
    ///
    /// ```
    /// let sem = gort::sync::Semaphore::new(1);
    /// let p = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(p);
    /// ```
    #[inline(never)]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut st = self.state.lock();
        if st.permits == 0 {
            return None;
        }
        st.permits -= 1;
        Some(SemaphorePermit { sem: self })
    }

    /// Free permits now.
    ///
    /// ```
    /// assert_eq!(gort::sync::Semaphore::new(0).available_permits(), 0);
    /// ```
    #[inline(never)]
    pub fn available_permits(&self) -> usize {
        self.state.lock().permits
    }

    /// Adds `n` permits (waking up to `n` waiters).
    ///
    /// ```
    /// let sem = gort::sync::Semaphore::new(0);
    /// sem.add_permits(2);
    /// assert_eq!(sem.available_permits(), 2);
    /// ```
    #[inline(never)]
    pub fn add_permits(&self, n: usize) {
        let mut st = self.state.lock();
        let mut ws = Vec::new();
        for _ in 0..n {
            match st.waiters.dequeue() {
                Some(c) => ws.push(c.finish()),
                None => st.permits += 1,
            }
        }
        drop(st);
        for w in ws {
            w.wake();
        }
    }
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good (it is not returned on drop).
    ///
    /// ```
    /// let sem = gort::sync::Semaphore::new(1);
    /// sem.acquire().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.sem.add_permits(1);
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("permits", &self.available_permits())
            .finish()
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit { .. }")
    }
}
