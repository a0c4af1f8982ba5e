//! waitgroup — [`WaitGroup`], Go's `sync.WaitGroup`: a counter; `wait`
//! parks until it is zero. Go passes a WaitGroup by pointer; here the handle
//! is `Clone` and every clone shares the one counter (cloning does not
//! change it).

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;

use crate::testing::bubble;
use crate::wait::sudog::{park_on, WaitQ, WaitReason};

/// Waits for a collection of goroutines to finish: `add(n)` before starting
/// them, `done()` in each, `wait()` to park until all are done.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
/// use std::sync::Arc;
///
/// let wg = gort::sync::WaitGroup::new();
/// let n = Arc::new(AtomicU32::new(0));
/// for _ in 0..100 {
///     wg.add(1);
///     let (wg, n) = (wg.clone(), n.clone());
///     gort::go!(move || {
///         n.fetch_add(1, SeqCst);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(n.load(SeqCst), 100);
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    inner: Arc<crate::lock::Mutex<WgState>>,
}

#[derive(Default)]
struct WgState {
    count: isize,
    waiters: WaitQ<()>,
    /// The virtual-time bubble (testing/bubble.rs) that every `add` since
    /// the counter left zero came from; 0 if one came from outside every
    /// bubble or they disagree. A wait is durable only inside it (Go 1.25
    /// ties a WaitGroup to a bubble the same way, and forgets it at zero).
    bubble: u64,
}

impl WaitGroup {
    /// A WaitGroup with counter zero.
    ///
    /// ```
    /// gort::sync::WaitGroup::new().wait(); // zero: returns at once
    /// ```
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `delta` (which may be negative) to the counter; at zero, every
    /// waiter is released.
    ///
    /// # Panics
    /// With "sync: negative WaitGroup counter" if the counter goes below
    /// zero, as Go does.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(2);
    /// wg.add(-2);
    /// wg.wait();
    /// ```
    #[inline(never)]
    pub fn add(&self, delta: isize) {
        let here = bubble::current_id();
        let mut st = self.inner.lock();
        if st.count == 0 {
            st.bubble = here;
        } else if st.bubble != here {
            st.bubble = 0;
        }
        st.count += delta;
        if st.count < 0 {
            drop(st);
            panic!("sync: negative WaitGroup counter");
        }
        if st.count > 0 {
            return;
        }
        let ws = st.waiters.claim_all();
        drop(st);
        for w in ws {
            w.wake();
        }
    }

    /// Decrements the counter by one (Go's `Done`).
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// gort::go!(move || w.done());
    /// wg.wait();
    /// ```
    pub fn done(&self) {
        self.add(-1);
    }

    /// Waits (parked) until the counter is zero.
    ///
    /// ```
    /// let wg = gort::sync::WaitGroup::new();
    /// wg.add(1);
    /// let w = wg.clone();
    /// std::thread::spawn(move || w.done());
    /// wg.wait(); // works from a plain thread too
    /// ```
    #[inline(never)]
    pub fn wait(&self) {
        let here = bubble::current_id();
        let st = self.inner.lock();
        if st.count == 0 {
            return;
        }
        let reason = WaitReason::SyncWaitGroupWait.bubbled(bubble::owned_by(st.bubble, here));
        park_on(st, None, false, reason, |s| &mut s.waiters);
    }
}

impl WaitGroup {
    /// The counter now (for Debug).
    #[inline(never)]
    fn count(&self) -> isize {
        self.inner.lock().count
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.count())
            .finish()
    }
}
