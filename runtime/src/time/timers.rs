//! timers — the runtime's timers: one heap of deadlines that the scheduler
//! runs (no timer thread), with `add_timer` / `add_timer_ready` /
//! `cancel_timer` for channels, select, sockets and the `gort::time` types.
//! Go's time.go (timers) and the timer half of findRunnable.
//!
//! # Timers (internal), and who runs them
//! One process-wide 4-ary min-heap of deadlines (`Heap4`), under one lock. There is no
//! timer thread: the scheduler runs due timers, as Go does since 1.14.
//! 1. `find_runnable` (sched/schedule.rs) calls `check_timers` at the top of every
//!    round (Go's checkTimers): one atomic load when no timer is pending, a
//!    clock read otherwise, the heap lock only when the earliest is due. It
//!    runs one due timer per round and a sleeper goes to the P's `runnext`
//!    (Go's goready), so sleepers run in deadline order, ahead of the queues
//!    (which, in a spawn storm, hold thousands of goroutines not started).
//! 2. An M about to stop while every P is idle blocks in the netpoller with
//!    the earliest deadline as its timeout (io/netpoll.rs `poll_blocking`): the
//!    poller's wait is the timer sleep, and nothing else sleeps on timers.
//! 3. A timer that becomes the earliest wakes that poller (`netpoll_break`)
//!    if it would sleep past it, or, when nobody polls, wakes a P so an M
//!    comes to look (`wake_p`): Go's wakeNetPoller. See io/netpoll.rs for the
//!    argument that this loses no wake-up.
//! 4. sysmon wakes a P for timers overdue while no M polls (a safety net).
//!
//! The internal API is the one channels, select and sockets already use:
//! - `add_timer(deadline, callback) -> TimerId`; the callback runs on
//!   the M that runs the timer (on its scheduler stack),
//!   outside the heap lock, and must not block or panic;
//! - `add_timer_ready(deadline, g)`: readies a parked goroutine (sleep),
//!   with no allocation;
//! - `cancel_timer(id) -> bool` (true: the callback will not run).
//!
//! # Cost (100,000 pending timers must be cheap)
//! A timer is a 16-byte heap entry plus a slot in a slab (`TimerId` = slot and
//! generation): add and fire are O(log n), cancel is O(1) — the entry stays in
//! the heap, stale, until it reaches the top or stale entries outnumber live
//! ones (then the heap is rebuilt), as Go's deleted timers do.
//!
//! # Deadlock detection
//! The heap counts as one external waker (sched/deadlock.rs) while it holds a live
//! timer: `external_add` when the live count goes 0 -> 1 (under the lock, so
//! before anything can fire), `external_done` when it goes back to 0, after
//! the callbacks that emptied it have run (whatever they readied is runnable
//! by then).
//!
//! # Rejected
//! - Per-P heaps (Go 1.14+): they need timer stealing from idle Ps and a
//!   home for timers armed by plain threads; one heap measured cheap enough
//!   for W10 (docs/PERFORMANCE.md), with its lock held for O(log n) steps.
//! - A timing wheel: O(1) add, but lateness up to one tick; sleeps here are
//!   exact to the clock.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::lock::Mutex;
use crate::testing::bubble::{self, Bubble};

use crate::g::GRef;
use crate::io::netpoll;
use crate::sched::{self, deadlock};

/// Identifies an armed timer, for [`cancel_timer`]: its slab slot and the
/// slot's generation when armed (a reused slot has a newer one), in the
/// process-wide heap or, for a timer armed inside `run_virtual`, in its
/// bubble's.
#[derive(Clone)]
pub(crate) struct TimerId {
    slot: u32,
    gen: u32,
    bubble: Option<Arc<Bubble>>,
}

/// What a timer does at its deadline.
pub(crate) enum TimerFn {
    /// Ready a goroutine parked in `sleep` (into runnext: `sched::ready`).
    Ready(GRef),
    /// Run a callback.
    Call(Box<dyn FnOnce() + Send + 'static>),
}

impl TimerFn {
    /// Does what the timer is for (outside every timer lock).
    pub(crate) fn run(self) {
        match self {
            TimerFn::Ready(g) => sched::ready(g),
            TimerFn::Call(c) => c(),
        }
    }
}

/// A heap entry: earliest `when` ([`nanotime`] units) first; `(slot, gen)`
/// finds the timer. 16 bytes, so a 100,000-timer heap is 1.6 MB.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    when: u64,
    slot: u32,
    gen: u32,
}

/// A slab slot: `f` is Some while its timer is armed.
struct Slot {
    gen: u32,
    f: Option<TimerFn>,
}

/// A set of armed timers: the process-wide one under `TIMERS`, and one per
/// virtual-time bubble (testing/bubble.rs) under the bubble's lock.
/// Invariant: `live` counts the slots whose `f` is Some, and each has one
/// heap entry with its generation.
pub(crate) struct Timers {
    /// Earliest first. May hold stale entries (cancelled or fired timers
    /// whose slot generation has moved on).
    heap: Heap4,
    slots: Vec<Slot>,
    /// Free slot indices.
    free: Vec<u32>,
    /// Armed timers.
    live: usize,
}

impl Timers {
    pub(crate) const fn new() -> Timers {
        Timers {
            heap: Heap4::new(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
        }
    }

    /// Armed timers.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The `when` of the top entry (stale or not), `NONE` if empty: never
    /// later than the earliest live deadline.
    fn top_when(&self) -> u64 {
        self.heap.peek().map_or(NONE, |e| e.when)
    }

    /// The earliest live deadline, `u64::MAX` if none: stale entries on top
    /// are dropped first.
    pub(crate) fn next_live_when(&mut self) -> u64 {
        while let Some(&e) = self.heap.peek() {
            let s = &self.slots[e.slot as usize];
            if s.gen == e.gen && s.f.is_some() {
                return e.when;
            }
            self.heap.pop();
        }
        NONE
    }

    /// Arms `f` for `when`; returns its slot and generation, and whether it
    /// is now the earliest entry.
    pub(crate) fn insert(&mut self, when: u64, f: TimerFn) -> (u32, u32, bool) {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let n = u32::try_from(self.slots.len())
                    .unwrap_or_else(|_| crate::throw::throw("runtime: too many timers"));
                self.slots.push(Slot { gen: 0, f: None });
                n
            }
        };
        let s = &mut self.slots[slot as usize];
        s.f = Some(f);
        let gen = s.gen;
        self.heap.push(Entry { when, slot, gen });
        self.live += 1;
        let earliest = self
            .heap
            .peek()
            .is_some_and(|e| e.slot == slot && e.gen == gen);
        (slot, gen, earliest)
    }

    /// Disarms the timer `(slot, gen)`; its function if it was armed. Drops
    /// the stale entries once they outnumber the live ones.
    pub(crate) fn remove(&mut self, slot: u32, gen: u32) -> Option<TimerFn> {
        let s = self.slots.get_mut(slot as usize)?;
        if s.gen != gen || s.f.is_none() {
            return None;
        }
        let f = s.f.take();
        s.gen = s.gen.wrapping_add(1);
        self.free.push(slot);
        self.live -= 1;
        if self.live == 0 {
            self.heap.clear();
        } else if self.heap.len() >= COMPACT_MIN && self.heap.len() > 2 * self.live {
            let Timers { heap, slots, .. } = self;
            heap.retain(|e| {
                let s = &slots[e.slot as usize];
                s.gen == e.gen && s.f.is_some()
            });
        }
        f
    }

    /// Takes the earliest timer due by `now` off the heap (dropping stale
    /// entries on the way).
    pub(crate) fn pop_due(&mut self, now: u64) -> Option<TimerFn> {
        while let Some(&e) = self.heap.peek() {
            if e.when > now {
                return None;
            }
            self.heap.pop();
            let s = &mut self.slots[e.slot as usize];
            if s.gen != e.gen {
                continue; // stale: cancelled (the slot may be in use again)
            }
            let Some(f) = s.f.take() else { continue };
            s.gen = s.gen.wrapping_add(1);
            self.free.push(e.slot);
            self.live -= 1;
            return Some(f);
        }
        None
    }
}

/// A 4-ary min-heap of entries (Go's timer heap is 4-ary too): half the
/// depth of a binary heap, and a node's four children are 64 contiguous
/// bytes, one cache line, so a pop from 100,000 timers touches about 9
/// lines instead of 17.
struct Heap4 {
    v: Vec<Entry>,
}

impl Heap4 {
    const fn new() -> Heap4 {
        Heap4 { v: Vec::new() }
    }

    fn len(&self) -> usize {
        self.v.len()
    }

    fn peek(&self) -> Option<&Entry> {
        self.v.first()
    }

    fn push(&mut self, e: Entry) {
        self.v.push(e);
        self.sift_up(self.v.len() - 1);
    }

    fn pop(&mut self) -> Option<Entry> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        self.sift_down(0);
        Some(top)
    }

    fn clear(&mut self) {
        self.v.clear();
    }

    /// Keeps the entries `keep` accepts, and restores the heap order.
    fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.v.retain(keep);
        for i in (0..self.v.len() / 4 + 1).rev() {
            self.sift_down(i);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        let e = self.v[i];
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.v[parent] <= e {
                break;
            }
            self.v[i] = self.v[parent];
            i = parent;
        }
        self.v[i] = e;
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.v.len();
        if i >= n {
            return;
        }
        let e = self.v[i];
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            let mut min = first;
            for c in first + 1..(first + 4).min(n) {
                if self.v[c] < self.v[min] {
                    min = c;
                }
            }
            if e <= self.v[min] {
                break;
            }
            self.v[i] = self.v[min];
            i = min;
        }
        self.v[i] = e;
    }
}

/// Below this many heap entries, stale ones are never compacted away.
const COMPACT_MIN: usize = 1024;
/// `NEXT_WHEN` when the heap is empty.
const NONE: u64 = u64::MAX;

static TIMERS: Mutex<Timers> = Mutex::new(Timers::new());

/// The `when` of the heap's top entry (stale or not) in [`nanotime`] units,
/// or `NONE`. Written under the lock. So it is never later than the earliest
/// live deadline, and whoever sleeps until it never misses a timer. SeqCst:
/// one side of the Dekker pair with the netpoller's claim (io/netpoll.rs).
static NEXT_WHEN: AtomicU64 = AtomicU64::new(NONE);

/// The origin of [`nanotime`].
static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds from the runtime's time base to `t` (0 if earlier).
pub(crate) fn nanos(t: Instant) -> u64 {
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(t.saturating_duration_since(base).as_nanos()).unwrap_or(NONE - 1)
}

/// The monotonic clock in nanoseconds since the runtime's time base (Go's
/// nanotime).
pub(crate) fn nanotime() -> u64 {
    nanos(Instant::now())
}

/// The earliest pending deadline in [`nanotime`] units, `u64::MAX` if none.
/// May be earlier than every live timer (a cancelled one still on top).
pub(crate) fn next_when() -> u64 {
    NEXT_WHEN.load(Ordering::SeqCst)
}

/// Armed timers now (cancelled and fired ones are not counted): the
/// process-wide heap's and every virtual-time bubble's.
pub(crate) fn live_timers() -> usize {
    let process = TIMERS.lock().live;
    process + bubble::live_timers()
}

/// The instant `n` [`nanotime`] units after the time base (`nanos`'s
/// inverse).
pub(crate) fn instant_at(n: u64) -> Instant {
    *BASE.get_or_init(Instant::now) + std::time::Duration::from_nanos(n)
}

/// True if some timer may be pending.
pub(crate) fn pending() -> bool {
    next_when() != NONE
}

/// Updates `NEXT_WHEN` from the heap top (caller holds the lock).
fn publish_next(t: &Timers) {
    NEXT_WHEN.store(t.top_when(), Ordering::SeqCst);
}

/// Arms a timer: `callback` runs at `deadline` (soon after, if it has
/// passed) on whichever thread runs timers. It must not block or panic.
/// Inside a virtual-time bubble the deadline is on the bubble's clock
/// (testing/bubble.rs).
#[inline(never)]
pub(crate) fn add_timer(deadline: Instant, callback: impl FnOnce() + Send + 'static) -> TimerId {
    add(deadline, TimerFn::Call(Box::new(callback)))
}

/// Arms a timer on the real clock even inside a bubble: I/O deadlines,
/// which the kernel's time governs.
#[inline(never)]
pub(crate) fn add_real_timer(
    deadline: Instant,
    callback: impl FnOnce() + Send + 'static,
) -> TimerId {
    add_global(deadline, TimerFn::Call(Box::new(callback)))
}

/// Arms a timer that readies the parked goroutine `g` at `deadline`. The
/// caller parks right after (`sched::park`); the handshake of g.rs covers a
/// timer that fires before the park completes.
#[inline(never)]
pub(crate) fn add_timer_ready(deadline: Instant, g: GRef) -> TimerId {
    add(deadline, TimerFn::Ready(g))
}

/// [`add_timer`] on `bubble`'s heap and clock (None: the real ones),
/// whoever calls: a `Timer` stays on the clock it was made on.
#[inline(never)]
pub(crate) fn add_timer_in(
    bubble: Option<Arc<Bubble>>,
    deadline: Instant,
    callback: impl FnOnce() + Send + 'static,
) -> TimerId {
    add_in(bubble, deadline, TimerFn::Call(Box::new(callback)))
}

fn add(deadline: Instant, f: TimerFn) -> TimerId {
    add_in(bubble::current(), deadline, f)
}

#[inline(never)]
fn add_in(bubble: Option<Arc<Bubble>>, deadline: Instant, f: TimerFn) -> TimerId {
    match bubble {
        Some(b) => {
            let (slot, gen) = b.add_timer(nanos(deadline), f);
            TimerId {
                slot,
                gen,
                bubble: Some(b),
            }
        }
        None => add_global(deadline, f),
    }
}

#[inline(never)]
fn add_global(deadline: Instant, f: TimerFn) -> TimerId {
    let mut t = TIMERS.lock();
    let (slot, gen, earliest) = t.insert(nanos(deadline), f);
    if t.live == 1 {
        // Under the lock: counted before anything can fire it.
        deadlock::external_add();
    }
    if earliest {
        publish_next(&t);
    }
    drop(t);
    if earliest {
        netpoll::wake_net_poller(deadline);
    }
    TimerId {
        slot,
        gen,
        bubble: None,
    }
}

/// Disarms a timer. True if it had not fired: its callback will never run.
/// False if it already ran, is running now, or was cancelled before.
#[inline(never)]
pub(crate) fn cancel_timer(id: TimerId) -> bool {
    if let Some(b) = &id.bubble {
        return b.cancel_timer(id.slot, id.gen);
    }
    let mut t = TIMERS.lock();
    let Some(f) = t.remove(id.slot, id.gen) else {
        return false;
    };
    let emptied = t.live == 0;
    publish_next(&t);
    drop(t);
    // Outside the lock: the callback's captures (a channel end) may wake
    // others when dropped.
    drop(f);
    if emptied {
        deadlock::external_done();
        // A poller sleeping until this timer's deadline has nothing left to
        // wait for; let it look again (and let the deadlock check run).
        netpoll::timers_emptied();
    }
    true
}

/// Go's checkTimers: runs the earliest timer if it is due. Called by
/// `find_runnable` at the top of each round (and by `execute` before a
/// preempted G keeps its P), on an M holding a P. A sleeper goes to the P's
/// `runnext` (`sched::ready`, as Go's goready), so it runs next, ahead of
/// whatever waits in the queues: in a spawn storm those hold thousands of
/// goroutines that have not started, and a sleeper queued behind them wakes
/// hundreds of milliseconds late. One timer per round keeps deadline order:
/// the next one due is taken at the next round, by this P or another
/// (`ready` wakes an idle P). True if a timer ran.
pub(crate) fn check_timers() -> bool {
    let next = NEXT_WHEN.load(Ordering::SeqCst);
    if next == NONE {
        return false;
    }
    let now = nanotime();
    if next > now {
        return false;
    }
    run_timer(now)
}

/// Takes the earliest timer due by `now` (nanotime) off the heap under the
/// lock (dropping stale entries on the way) and runs it outside the lock.
/// True if one ran.
#[inline(never)]
fn run_timer(now: u64) -> bool {
    let mut t = TIMERS.lock();
    let due = t.pop_due(now);
    let emptied = due.is_some() && t.live == 0;
    publish_next(&t);
    drop(t);
    let Some(f) = due else { return false };
    f.run();
    if emptied {
        // After the timer ran: whatever it readied is runnable.
        deadlock::external_done();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

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
        assert!(cancel_timer(id.clone()));
        assert!(!cancel_timer(id));
        let got: Vec<usize> = (0..3).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(got, vec![1, 2, 0]);
        assert!(rx.recv_timeout(Duration::from_millis(30)).is_err());
    }

    #[test]
    fn a_reused_slot_does_not_cancel_its_new_timer() {
        let (tx, rx) = mpsc::channel();
        let far = Instant::now() + Duration::from_secs(3600);
        let a = add_timer(far, || {});
        assert!(cancel_timer(a.clone()));
        // Likely the same slot, with a newer generation.
        let tx1 = tx.clone();
        let b = add_timer(Instant::now() + Duration::from_millis(5), move || {
            let _ = tx1.send(1);
        });
        assert!(!cancel_timer(a), "a stale id cancelled a live timer");
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));
        assert!(!cancel_timer(b));
    }

    #[test]
    fn the_four_ary_heap_pops_in_order() {
        let mut h = Heap4::new();
        let mut x: u64 = 7;
        let mut all = Vec::new();
        for i in 0..2000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let e = Entry {
                when: x % 500,
                slot: i,
                gen: 0,
            };
            all.push(e);
            h.push(e);
        }
        h.retain(|e| e.slot % 3 != 0);
        all.retain(|e| e.slot % 3 != 0);
        all.sort();
        let mut got = Vec::new();
        while let Some(e) = h.pop() {
            got.push(e);
        }
        assert_eq!(got, all);
    }

    #[test]
    fn many_cancelled_timers_are_compacted() {
        let far = Instant::now() + Duration::from_secs(3600);
        let ids: Vec<TimerId> = (0..5000).map(|_| add_timer(far, || {})).collect();
        let keep = add_timer(far, || {});
        for id in ids {
            assert!(cancel_timer(id));
        }
        let len = TIMERS.lock().heap.len();
        assert!(len < 5000, "heap not compacted: {len}");
        assert!(cancel_timer(keep));
    }
}
