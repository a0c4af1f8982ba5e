//! time — timers, and the `gort::time` functions built on them: [`sleep`],
//! [`after`], [`tick`].
//!
//! # Timers (internal)
//! One OS thread, `gort-timer`, owns a binary min-heap of deadlines and sleeps
//! on a condvar until the earliest one (or until a new earlier timer arrives).
//! At a deadline it runs the timer's callback on its own thread, outside the
//! heap lock; callbacks are short and never block (they ready a goroutine or
//! `try_send` on a channel). The internal API is two calls, so a later issue
//! can replace this with Go's per-P heaps checked by the scheduler and the
//! netpoller without touching the users:
//! - [`add_timer`]`(deadline, callback) -> TimerId`
//! - [`cancel_timer`]`(id) -> bool` (true: the callback will not run)
//!
//! A cancelled timer's heap entry stays until it reaches the top (or until
//! stale entries outnumber live ones, when the heap is rebuilt), as Go's
//! deleted timers do. Every live timer counts as an external waker for
//! deadlock detection (deadlock.rs), from `add_timer` until its callback has
//! returned or it was cancelled.
//!
//! # Rejected for now
//! Readying goroutines from the timer thread sends them through the global
//! run queue and `wake_p`; Go checks timers in `findRunnable` instead, which
//! keeps a sleeper on its P. That integration belongs with the netpoller.

#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::chan::{self, Receiver, Sender, TrySendError};
use crate::deadlock;
use crate::m;
use crate::sudog::WaitCtx;

/// Identifies an armed timer, for [`cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TimerId(u64);

/// What a timer runs at its deadline.
type Callback = Box<dyn FnOnce() + Send + 'static>;

/// Below this many heap entries, stale ones are never compacted away.
const COMPACT_MIN: usize = 1024;

/// The heap and the callbacks of live timers, under `Timers::lock`.
struct Heap {
    /// (deadline, id), earliest first. May hold cancelled ids.
    heap: BinaryHeap<Reverse<(Instant, TimerId)>>,
    /// Live timers only.
    live: HashMap<TimerId, Callback>,
}

/// The timer thread's state.
struct Timers {
    lock: Mutex<Heap>,
    /// Signalled when a timer earlier than the current earliest is added.
    cv: Condvar,
}

/// Relaxed: ids only need to be unique.
static NEXT_TIMER_ID: AtomicU64 = AtomicU64::new(1);
static TIMERS: OnceLock<&'static Timers> = OnceLock::new();

/// The timer thread, started on first use.
fn timers() -> &'static Timers {
    TIMERS.get_or_init(|| {
        // Leaked: the timer thread lives as long as the process.
        let t: &'static Timers = Box::leak(Box::new(Timers {
            lock: Mutex::new(Heap {
                heap: BinaryHeap::new(),
                live: HashMap::new(),
            }),
            cv: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("gort-timer".into())
            .spawn(move || timer_loop(t))
            .unwrap_or_else(|e| {
                crate::debug::warn(&format!("runtime: cannot start the timer thread: {e}"));
                crate::debug::throw("runtime: cannot start the timer thread")
            });
        t
    })
}

/// Arms a timer: `callback` runs on the timer thread at `deadline` (at once
/// if it has passed). The callback must not block or panic.
#[inline(never)]
pub(crate) fn add_timer(deadline: Instant, callback: impl FnOnce() + Send + 'static) -> TimerId {
    let t = timers();
    let id = TimerId(NEXT_TIMER_ID.fetch_add(1, Ordering::Relaxed));
    // Counted before it can fire, so the count never dips below zero.
    deadlock::external_add();
    let mut h = t.lock.lock();
    h.live.insert(id, Box::new(callback));
    h.heap.push(Reverse((deadline, id)));
    let earliest = h.heap.peek().is_some_and(|Reverse((_, top))| *top == id);
    drop(h);
    if earliest {
        t.cv.notify_one();
    }
    id
}

/// Disarms a timer. True if it had not fired: its callback will never run.
/// False if it already ran, is running now, or was cancelled before.
#[inline(never)]
pub(crate) fn cancel_timer(id: TimerId) -> bool {
    let t = timers();
    let mut h = t.lock.lock();
    let cancelled = h.live.remove(&id).is_some();
    if cancelled && h.heap.len() >= COMPACT_MIN && h.heap.len() > 2 * h.live.len() {
        let Heap { heap, live } = &mut *h;
        heap.retain(|Reverse((_, id))| live.contains_key(id));
    }
    drop(h);
    if cancelled {
        deadlock::external_done();
    }
    cancelled
}

/// The timer thread: run due callbacks, sleep until the next deadline.
fn timer_loop(t: &'static Timers) -> ! {
    let mut h = t.lock.lock();
    loop {
        let Some(&Reverse((when, id))) = h.heap.peek() else {
            t.cv.wait(&mut h);
            continue;
        };
        if !h.live.contains_key(&id) {
            h.heap.pop();
            continue;
        }
        if when > Instant::now() {
            // Spurious or early wake-ups just loop.
            t.cv.wait_until(&mut h, when);
            continue;
        }
        h.heap.pop();
        let f = h.live.remove(&id).expect("live timer has a callback");
        drop(h);
        f();
        // After the callback: whatever it readied is already runnable.
        deadlock::external_done();
        h = t.lock.lock();
    }
}

/// The deadline `d` from now; far in the future if that overflows.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// Pauses the calling goroutine for at least `d` (Go's `time.Sleep`). The
/// goroutine parks and its M runs others; on a plain thread this is
/// `std::thread::sleep`. A zero duration returns at once.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t = Instant::now();
/// gort::go!(|| gort::time::sleep(Duration::from_millis(5))).join().unwrap();
/// assert!(t.elapsed() >= Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) {
    if d.is_zero() {
        return;
    }
    if m::current_g().is_none() {
        std::thread::sleep(d);
        return;
    }
    let ctx = Arc::new(WaitCtx::new());
    let timer_ctx = ctx.clone();
    add_timer(deadline_after(d), move || timer_ctx.fire_timeout());
    ctx.wait(crate::sudog::WaitReason::Sleep);
}

/// A channel that receives the current `Instant` once, after `d` (Go's
/// `time.After`). Use it in `select!` for a timeout.
///
/// ```
/// use std::time::Duration;
/// let (_tx, rx) = gort::chan::bounded::<u32>(0);
/// let timed_out = gort::select! {
///     recv(rx) -> _ => false,
///     recv(gort::time::after(Duration::from_millis(10))) -> _ => true,
/// };
/// assert!(timed_out);
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = chan::bounded(1);
    add_timer(deadline_after(d), move || {
        // The buffer has room for this one value; a dropped receiver is fine.
        let _ = tx.try_send(Instant::now());
    });
    rx
}

/// A channel that receives the current `Instant` every `d` (Go's
/// `time.Tick`). Ticks are dropped for a slow receiver, as in Go; the ticker
/// stops once the receiver is dropped.
///
/// # Panics
/// If `d` is zero (Go: "non-positive interval for NewTicker").
///
/// ```
/// use std::time::Duration;
/// let ticks = gort::time::tick(Duration::from_millis(2));
/// for _ in 0..3 {
///     ticks.recv().unwrap();
/// }
/// ```
pub fn tick(d: Duration) -> Receiver<Instant> {
    assert!(!d.is_zero(), "non-positive interval for tick");
    let (tx, rx) = chan::bounded(1);
    arm_tick(tx, deadline_after(d), d);
    rx
}

/// Arms the next tick of a ticker.
fn arm_tick(tx: Sender<Instant>, when: Instant, period: Duration) {
    add_timer(when, move || {
        let now = Instant::now();
        if let Err(TrySendError::Disconnected(_)) = tx.try_send(now) {
            return;
        }
        // Skip the ticks a late wake-up missed, keeping the phase (Go's
        // ticker does the same).
        let mut next = when + period;
        if next <= now {
            let behind = (now - when).as_nanos() / period.as_nanos().max(1);
            next = when + period * u32::try_from(behind + 1).unwrap_or(u32::MAX);
        }
        arm_tick(tx, next, period);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn timers_fire_in_deadline_order_and_cancel_works() {
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        for (i, ms) in [30u64, 10, 20].into_iter().enumerate() {
            let tx = tx.clone();
            add_timer(now + Duration::from_millis(ms), move || {
                let _ = tx.send(i);
            });
        }
        let tx2 = tx.clone();
        let id = add_timer(now + Duration::from_millis(15), move || {
            let _ = tx2.send(99);
        });
        assert!(cancel_timer(id));
        assert!(!cancel_timer(id));
        let got: Vec<usize> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(got, vec![1, 2, 0]);
        assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
    }
}
