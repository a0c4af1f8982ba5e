//! bubble — the runtime side of virtual time (Go's runtime/synctest.go): a
//! set of goroutines with its own clock and its own timers, and the count
//! of its goroutines that are not durably blocked. When that count drops to
//! zero the bubble is idle: the goroutine in `testing::wait` is woken, or
//! else the bubble's driver (`run_virtual`, testing/mod.rs) moves the clock
//! to the earliest timer and runs it.
//!
//! # Membership
//! A goroutine belongs to the bubble of the goroutine that spawned it (or,
//! for a spawn from a timer callback the driver runs, to the driver's
//! bubble: [`current`]), for its whole life. `G::bubble` is set at spawn and
//! never changes. Runtime goroutines that serve the whole process (the
//! signal dispatcher, a child reaper) are spawned outside any bubble.
//!
//! # Durably blocked (Go's `isIdleInSynctest`)
//! A goroutine parked on something only another goroutine of the bubble, or
//! the bubble's clock, can end: a sleep, a Cond wait, `testing::wait`
//! itself, and a wait on a channel, `select!`, join or WaitGroup of its own
//! bubble (`WaitReason::durable`). Things belong to the bubble they were
//! made in: a channel and a context record [`current_id`] when made, a
//! WaitGroup the bubble of its adds, a goroutine is a member; the park site
//! picks the durable "synctest" wait reason only when that is the waiter's
//! bubble ([`is_own`], [`has_member`], `WaitReason::bubbled`). A mutex
//! wait, I/O, a blocking call, a `block_on`, or a wait on something made
//! outside is not durable: something outside may end it, so the bubble is
//! not idle while one lasts.
//!
//! # The count is exact, whatever the park race
//! gort has no unlock callback on park: a waker may `ready` a goroutine
//! that is still switching out (the handshake of g.rs). So the count moves
//! with the handshake itself, both halves under the bubble's lock:
//! - `park_commit`: the M, after the switch, completes the park; if the
//!   park is durable and it completed (no ready came first), the goroutine is
//!   marked blocked and `running` drops;
//! - `ready_claim`: a waker claims the parked goroutine; if it was marked
//!   blocked, `running` rises again.
//!
//! A ready that comes before the park completes finds no mark and changes
//! nothing, and the park then fails and counts nothing: the goroutine never
//! looked blocked, so the clock cannot jump past work that was about to run.
//!
//! # Locks
//! The bubble's lock is a leaf: nothing else is taken under it (a
//! `RuntimeTimer`'s lock may be held around it, when a timer is armed).
//! Timers run on the driver outside it, and whoever is woken when the
//! bubble goes idle is woken after unlocking (a `ready` of a member takes
//! this lock again).

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::chan::{self, Receiver, Sender};
use crate::diag::allgs::GInfo;
use crate::g::{GRef, G};
use crate::lock::Mutex;
use crate::m;
use crate::time::{instant_at, nanos, TimerFn, Timers};

/// A virtual-time bubble. Invariant (under `state`): `running <=
/// members.len()`; `running` counts the members not marked durably blocked
/// (G's `bubble_blocked`), `members` those not yet dead.
pub(crate) struct Bubble {
    /// Unique in the process, never 0: what a channel or a wait group
    /// records of the bubble it belongs to ([`is_own`]).
    id: u64,
    /// The virtual clock, `time::nanotime` units. Written by the driver
    /// under `state` while every member is blocked; Relaxed loads: a member
    /// woken by the timer that moved it was readied through a run queue,
    /// which orders the store before its reads.
    now: AtomicU64,
    state: Mutex<State>,
    /// Tells the driver the bubble may be idle (capacity 1: a token
    /// already waiting says the same).
    idle_tx: Sender<()>,
    /// The bubble has ended ([`drop_timers`](Bubble::drop_timers)): its
    /// clock stopped for good. Relaxed: a hint for timers made in it and
    /// armed later (time/runtime_timer.rs), which then use the real clock.
    ended: AtomicBool,
}

/// Everything under the bubble's lock.
struct State {
    /// Live members by goroutine id, with what diagnostics read about them
    /// (for the deadlock report).
    members: BTreeMap<u64, &'static GInfo>,
    running: usize,
    /// The bubble's timers, on its clock.
    timers: Timers,
    /// A member parked in `testing::wait`, woken (instead of the driver)
    /// when the bubble goes idle.
    waiter: Option<GRef>,
    /// The first member, which `run_virtual` started (its exit stops the
    /// clock); 0 before it.
    main_goid: u64,
    /// The main goroutine has exited: the clock stops.
    main_done: bool,
}

/// Whom the bubble wakes when it goes idle.
enum Wake {
    Waiter(GRef),
    Driver,
}

/// What the driver finds when the bubble is idle.
pub(crate) enum Idle {
    /// Every member has exited.
    Done,
    /// The main goroutine has exited and these members (a description)
    /// are blocked for good.
    MainExitedWithBlocked(String),
    /// These members (a description) are blocked and no timer is pending.
    Deadlock(String),
    /// The clock moved to the earliest timer; these are due.
    Fire(Vec<TimerFn>),
}

thread_local! {
    /// The bubble whose timers this thread is running (set by the driver
    /// around the callbacks, which run on its thread): what they spawn,
    /// arm or read the time of belongs to it.
    static DRIVING: RefCell<Option<Arc<Bubble>>> = const { RefCell::new(None) };
}

/// The last bubble id handed out; also "some bubble was ever made", which
/// keeps [`current_id`] to one load in programs without virtual time.
/// Relaxed: a goroutine of a bubble was spawned (through a run queue)
/// after its bubble took its id, and a driver reads its own store.
static LAST_ID: AtomicU64 = AtomicU64::new(0);

/// The bubble of the running goroutine, or of the timers this thread runs
/// for a driver; None outside every bubble.
pub(crate) fn current() -> Option<Arc<Bubble>> {
    if let Some(g) = m::current_g() {
        if let Some(b) = &g.get().bubble {
            return Some(b.clone());
        }
    }
    // A thread tearing down its thread-locals drives no bubble.
    DRIVING.try_with(|d| d.borrow().clone()).ok().flatten()
}

/// The id of [`current`]'s bubble, 0 outside every bubble: what a channel
/// records when it is made.
pub(crate) fn current_id() -> u64 {
    if LAST_ID.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    current().map_or(0, |b| b.id)
}

/// Every bubble made, for [`live_timers`]; weak, so a bubble still ends
/// with its driver. Dead entries are pruned there and by each new bubble.
static ALL: Mutex<Vec<Weak<Bubble>>> = Mutex::new(Vec::new());

/// Timers armed now in every live bubble (`Stats::timers` and the metrics
/// count them with the process-wide ones).
pub(crate) fn live_timers() -> usize {
    if LAST_ID.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    let live: Vec<Arc<Bubble>> = {
        let mut all = ALL.lock();
        all.retain(|w| w.strong_count() > 0);
        all.iter().filter_map(Weak::upgrade).collect()
    };
    // Summed outside ALL's lock: dropping the last reference to a bubble
    // here runs its drop, which takes no lock of ours but need not be
    // nested under one.
    live.iter().map(|b| b.state.lock().timers.live()).sum()
}

/// The bubble id of a channel that never becomes ready (a Background
/// context's `done`): a wait on it is durable in every bubble, as a wait on
/// Go's nil channel is.
pub(crate) const ANY: u64 = u64::MAX;

/// True if `id` (recorded by [`current_id`] when a channel or a wait group
/// was made) is the running goroutine's bubble, or [`ANY`]:
/// waiting on it is durable, as only the bubble can end the wait (Go ties
/// channels to the bubble that made them for the same reason).
pub(crate) fn is_own(id: u64) -> bool {
    id != 0 && owned_by(id, current_id())
}

/// True if something of bubble `id` counts as bubble `me`'s own (`me` not 0).
pub(crate) fn owned_by(id: u64, me: u64) -> bool {
    me != 0 && (id == me || id == ANY)
}

/// True if goroutine `goid` is alive in the running goroutine's bubble: a
/// join of it is durable there. (A goroutine that just finished counts as
/// outside: its joiner is about to be woken anyway.)
pub(crate) fn has_member(goid: u64) -> bool {
    if LAST_ID.load(Ordering::Relaxed) == 0 {
        return false;
    }
    current().is_some_and(|b| b.state.lock().members.contains_key(&goid))
}

impl Bubble {
    /// A bubble whose clock starts at the real now, and the receiver its
    /// driver waits on.
    pub(crate) fn new() -> (Arc<Bubble>, Receiver<()>) {
        let (idle_tx, idle_rx) = chan::bounded(1);
        let b = Arc::new(Bubble {
            id: LAST_ID.fetch_add(1, Ordering::Relaxed) + 1,
            now: AtomicU64::new(nanos(Instant::now())),
            state: Mutex::new(State {
                members: BTreeMap::new(),
                running: 0,
                timers: Timers::new(),
                waiter: None,
                main_goid: 0,
                main_done: false,
            }),
            idle_tx,
            ended: AtomicBool::new(false),
        });
        let mut all = ALL.lock();
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&b));
        drop(all);
        (b, idle_rx)
    }

    /// True once the bubble has ended (its clock stopped for good).
    pub(crate) fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    /// The virtual now.
    pub(crate) fn now(&self) -> Instant {
        // Relaxed: see the field.
        instant_at(self.now.load(Ordering::Relaxed))
    }

    /// A new member (at spawn, before it can run): it counts as running.
    /// The first is the bubble's main goroutine.
    pub(crate) fn spawned(&self, goid: u64, info: &'static GInfo) {
        let mut st = self.state.lock();
        if st.main_goid == 0 {
            st.main_goid = goid;
        }
        st.members.insert(goid, info);
        st.running += 1;
    }

    /// The M side of `g`'s park handshake (`G::park_commit`) for a member.
    /// True if the G is now parked; a durable park counts it as blocked.
    pub(crate) fn park_commit(&self, g: &G, durable: bool) -> bool {
        let mut st = self.state.lock();
        if !g.park_commit() {
            return false;
        }
        let wake = if durable {
            g.set_bubble_blocked(true);
            st.running -= 1;
            idle_wake(&mut st)
        } else {
            None
        };
        drop(st);
        self.wake(wake);
        true
    }

    /// The waker side (`G::ready_claim`) for a member: a durably blocked G
    /// counts as running again once claimed.
    pub(crate) fn ready_claim(&self, g: &G) -> bool {
        let mut st = self.state.lock();
        let claimed = g.ready_claim();
        if claimed && g.set_bubble_blocked(false) {
            st.running += 1;
        }
        claimed
    }

    /// A member died (after its entry returned).
    pub(crate) fn exited(&self, goid: u64) {
        let mut st = self.state.lock();
        st.members.remove(&goid);
        st.running -= 1;
        if goid == st.main_goid {
            st.main_done = true;
        }
        let wake = idle_wake(&mut st);
        drop(st);
        self.wake(wake);
    }

    /// Registers the running member `g` as the one to wake at the next
    /// idle moment (`testing::wait`); false if another member waits already.
    pub(crate) fn set_waiter(&self, g: GRef) -> bool {
        let mut st = self.state.lock();
        if st.waiter.is_some() {
            return false;
        }
        st.waiter = Some(g);
        true
    }

    /// Arms a timer on the bubble's clock; its slot and generation.
    pub(crate) fn add_timer(&self, when: u64, f: TimerFn) -> (u32, u32) {
        let (slot, gen, _) = self.state.lock().timers.insert(when, f);
        (slot, gen)
    }

    /// Disarms a bubble timer; true if it had not fired.
    pub(crate) fn cancel_timer(&self, slot: u32, gen: u32) -> bool {
        let f = self.state.lock().timers.remove(slot, gen);
        // Outside the lock: the callback's captures may wake others.
        f.is_some()
    }

    /// The driver's step: None while some member runs; otherwise what to do
    /// about the idle bubble. Firing moves the clock (never backwards) to
    /// the earliest timer and takes every timer due then.
    pub(crate) fn idle_step(&self) -> Option<Idle> {
        let mut st = self.state.lock();
        if st.running > 0 {
            return None;
        }
        if st.members.is_empty() {
            return Some(Idle::Done);
        }
        if st.main_done {
            return Some(Idle::MainExitedWithBlocked(describe(&st.members)));
        }
        let next = st.timers.next_live_when();
        if next == u64::MAX {
            return Some(Idle::Deadlock(describe(&st.members)));
        }
        // Relaxed: see the field.
        let now = self.now.load(Ordering::Relaxed).max(next);
        self.now.store(now, Ordering::Relaxed);
        let mut due = Vec::new();
        while let Some(f) = st.timers.pop_due(now) {
            due.push(f);
        }
        Some(Idle::Fire(due))
    }

    /// Drops every timer still armed, when the bubble has ended: its clock
    /// stopped, they can never fire, and their callbacks may hold timer
    /// ids that hold the bubble.
    pub(crate) fn drop_timers(&self) {
        self.ended.store(true, Ordering::Relaxed);
        let timers = std::mem::replace(&mut self.state.lock().timers, Timers::new());
        drop(timers);
    }

    /// Runs timer functions on the driver's thread as this bubble's: what
    /// they spawn joins it, what they arm or read is on its clock.
    pub(crate) fn run_timers(self: &Arc<Self>, due: Vec<TimerFn>) {
        DRIVING.with(|d| *d.borrow_mut() = Some(self.clone()));
        // No preemption while DRIVING is set: a preempted goroutine keeps its
        // thread anyway, but the callbacks are short and runtime code.
        crate::sched::no_preempt(|| {
            for f in due {
                f.run();
            }
        });
        DRIVING.with(|d| *d.borrow_mut() = None);
    }

    /// Wakes whoever `idle_wake` chose (outside the lock).
    fn wake(&self, wake: Option<Wake>) {
        match wake {
            None => {}
            Some(Wake::Waiter(g)) => crate::sched::ready(g),
            Some(Wake::Driver) => {
                let _ = self.idle_tx.try_send(());
            }
        }
    }
}

/// The blocked members, as Go's traceback headers name them: `goroutine 7
/// [chan receive (durable)]`, the first eight by id.
fn describe(members: &BTreeMap<u64, &'static GInfo>) -> String {
    const SHOWN: usize = 8;
    let mut s = format!("{} blocked:", members.len());
    for (goid, info) in members.iter().take(SHOWN) {
        let _ = write!(s, " goroutine {goid} [{}];", info.wait_reason().as_str());
    }
    if members.len() > SHOWN {
        let _ = write!(s, " and {} more", members.len() - SHOWN);
    }
    s.trim_end_matches(';').to_string()
}

/// Whom to wake if the bubble is idle now: the `testing::wait` caller if
/// there is one, else the driver.
fn idle_wake(st: &mut State) -> Option<Wake> {
    if st.running > 0 {
        return None;
    }
    Some(match st.waiter.take() {
        Some(g) => Wake::Waiter(g),
        None => Wake::Driver,
    })
}
