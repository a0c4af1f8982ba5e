//! netpoll — the network poller: Go's netpoll.go and netpoll_epoll.go, on
//! the `polling` crate (epoll). I/O that would block parks the goroutine, not
//! its thread; the poller's blocking wait is also where the runtime sleeps
//! until the next timer (time/timers.rs).
//!
//! # Waiting for an fd (Go's netpollblock / netpollready)
//! Sockets are non-blocking (net/). The first time a goroutine must wait
//! for an fd, the fd is registered in epoll once, edge-triggered, for both
//! directions, as Go does; it stays registered until it is closed. Each
//! [`PollDesc`] counts the events seen per direction (its `tick`).
//!
//! An operation (io/fd.rs) snapshots the tick, tries the system call, and
//! on `EAGAIN` calls [`PollDesc::wait`] with the snapshot: under the
//! PollDesc lock, if the tick moved (an event came since the snapshot) it
//! returns at once and the operation is retried; otherwise the goroutine is
//! put in the read or write wait list and parks. Processing an event, under
//! the same lock, bumps the tick and takes every waiter of that direction
//! out of its list. The caller retries its operation when it wakes: a
//! wake-up means "may be ready", never "is ready".
//!
//! # Claim once
//! A wait may end two ways: readiness (the poller) or its deadline (a timer
//! armed by the waiter, time/timers.rs). Both look for the waiter's entry — found by
//! a token unique to the wait — in the list, under the PollDesc lock; the one
//! that removes it is the only one that readies the goroutine. The other
//! finds nothing and does nothing. So a goroutine parks once and is readied
//! once (the park handshake of g.rs covers a wake-up that comes before the
//! park has completed). A timer firing after the wait ended finds no token;
//! the waiter cancels it anyway.
//!
//! # Who polls (Go's findRunnable and sysmon)
//! 1. `find_runnable`, once the local and global run queues are empty and
//!    before stealing, polls without blocking ([`poll_ready`]) when
//!    goroutines wait and no M is blocked in the poller.
//! 2. An M about to stop (its P is already idle) blocks in the poller
//!    ([`poll_blocking`]) if goroutines wait on I/O or timers are pending and
//!    no other M polls. It claims that role with the `POLLER` word, which
//!    holds the time it will sleep until. It holds no P while it blocks; when
//!    it wakes it takes an idle P if there is one and makes the readied
//!    goroutines runnable there, else puts them on the global queue (with an
//!    M started for each idle P) and stops.
//! 3. sysmon polls if nobody has for 10 ms, and wakes a P for overdue
//!    timers if no M is in the poller, or, with every P busy, asks the
//!    longest-running slice to end so its P runs them ([`sysmon_tick`]).
//!
//! Ready goroutines are made runnable in batches through
//! `sched::inject_glist` (Go's injectglist).
//!
//! # No lost wake-up
//! - I/O: edge-triggered epoll queues an event for every change after the
//!   registration (and at the registration, for a ready fd). A waiter's tick
//!   snapshot was taken before its failed operation, so whatever arrived
//!   after that operation looked has an event that is either processed
//!   already (the tick moved: the waiter sees it under the lock and retries)
//!   or processed later (under the lock, after the waiter is listed: it
//!   takes the waiter). Who processes it: an M blocked in the poller; or,
//!   if none is, every M polls before it gives its P up (step 1) and the
//!   last one to go idle becomes the poller (step 2) — the goroutine's own
//!   M goes through both after the goroutine parked; while every P stays
//!   busy, sysmon's poll within 10 ms (step 3).
//! - Timers: a timer that becomes the earliest stores `NEXT_WHEN` then reads
//!   `POLLER`; the poller claims `POLLER` then reads `NEXT_WHEN` (all SeqCst,
//!   a store-buffering pair). Either the poller sees the new deadline, or the
//!   adder sees the claim and breaks the wait (`netpoll_break`) when it would
//!   sleep past it, or sees no poller and wakes a P (`wake_p`) so that an M
//!   comes to run it (Go's wakeNetPoller).
//! - Runnable goroutines: the poller is not needed for them. Whoever makes a
//!   G runnable while the poller blocks calls `wake_p`, which starts another
//!   M for an idle P (the spinning protocol of sched/mod.rs), as in Go.
//!
//! # Deadlock detection
//! Goroutines waiting on I/O count as one external waker (sched/deadlock.rs) while
//! there are any: added when `NWAITERS` goes 0 -> 1 (under the PollDesc lock,
//! before anything can remove that waiter), done when it goes back to 0,
//! after the goroutines taken out were made runnable. A poller sleeping for
//! nothing (the last timer was cancelled and nobody waits on I/O) is woken so
//! that its M can stop and look.
//!
//! # Rejected
//! - Oneshot interest re-armed at each wait (`EPOLL_CTL_MOD`): one more
//!   system call per wait, and it contends with the poller for the epoll
//!   instance's mutex (seen in W9 profiles: `mutex_spin_on_owner` under
//!   `epoll_ctl`). Edge-triggered registration once per fd is Go's choice.
//! - tokio's "a short read drained the socket, so wait before the next
//!   read" (saves the `EAGAIN` read): unsound without `EPOLLRDHUP`, which
//!   `polling` neither registers nor reports. Data and the peer's FIN can be
//!   one coalesced edge; the short read takes the data, the end of file is
//!   still there, and no new edge would ever come.

use std::cell::RefCell;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::lock::Mutex;
use polling::{Event, Events, PollMode, Poller};

use crate::g::GRef;
use crate::sched::{self, deadlock};
use crate::throw::throw;
use crate::time;

/// sysmon polls if nobody has for this long (Go: 10 ms).
const SYSMON_POLL_NS: u64 = 10_000_000;
/// sysmon wakes a P for timers this late that nobody ran.
const SYSMON_TIMER_SLACK_NS: u64 = 1_000_000;
/// Events fetched by one wait.
const EVENTS_CAP: usize = 256;
/// `POLLER` while an M blocks in the poller with no timeout.
const POLL_FOREVER: u64 = u64::MAX;

/// The poller, created on first use; None if epoll is unavailable (then
/// goroutines block their thread in poll(2) instead: io/fd.rs).
static NETPOLL: OnceLock<Option<Poller>> = OnceLock::new();
/// Goroutines listed in some PollDesc. Changed under that PollDesc's lock.
/// SeqCst: read by the blocking step together with the timer heap.
static NWAITERS: AtomicUsize = AtomicUsize::new(0);
/// 0 while no M blocks in the poller; otherwise the time (time::nanotime)
/// until which it sleeps, `POLL_FOREVER` if no timer bounds it (Go's
/// sched.lastpoll == 0 and sched.pollUntil together). SeqCst: the Dekker
/// pair with `time::NEXT_WHEN` (header).
static POLLER: AtomicU64 = AtomicU64::new(0);
/// When the poller was last polled (time::nanotime). Relaxed: sysmon's hint.
static LAST_POLL: AtomicU64 = AtomicU64::new(0);
/// Recycled PollDescs (Go's pollcache): PollDescs are never freed, so an
/// epoll key (a PollDesc's address) always points at a live one.
static PD_FREE: Mutex<Vec<&'static PollDesc>> = Mutex::new(Vec::new());

thread_local! {
    /// The event buffer of this thread's polls. Only schedulers (an M's own
    /// stack) and sysmon poll, never a goroutine, so it never migrates.
    static EVENTS: RefCell<Option<Events>> = const { RefCell::new(None) };
}

/// The poller, created on first use.
fn poller() -> Option<&'static Poller> {
    NETPOLL
        .get_or_init(|| match Poller::new() {
            Ok(p) => Some(p),
            Err(e) => {
                crate::throw::warn(&format!(
                    "gort: no netpoller ({e}): network waits block their thread"
                ));
                None
            }
        })
        .as_ref()
}

/// The poller if it exists already.
fn poller_if_inited() -> Option<&'static Poller> {
    NETPOLL.get().and_then(Option::as_ref)
}

/// True if goroutines can park on fds (else they block their thread).
pub(crate) fn available() -> bool {
    poller().is_some()
}

/// Which half of an fd a goroutine waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Read,
    Write,
}

impl Mode {
    fn index(self) -> usize {
        match self {
            Mode::Read => 0,
            Mode::Write => 1,
        }
    }
}

/// A goroutine waiting in a PollDesc, and the token of its wait.
struct Waiting {
    token: u64,
    g: GRef,
}

/// Everything under a PollDesc's lock.
struct PdState {
    /// The fd, or -1 while the PollDesc is free.
    fd: RawFd,
    /// Added to epoll (by the first wait; removed by `free`).
    registered: bool,
    /// Waiters per direction (`Mode::index`).
    waiting: [Vec<Waiting>; 2],
    /// Tokens are never reused, even across fds (Go's fdseq).
    next_token: u64,
}

/// One fd's poll state (Go's pollDesc). Allocated once and recycled, never
/// freed: its address is the fd's epoll key.
pub(crate) struct PollDesc {
    st: Mutex<PdState>,
    /// Events processed per direction. Bumped under `st` (Release); read
    /// without it by operations (Acquire) for their snapshot, and under it
    /// by `wait`. Never reset, so a snapshot never matches by accident.
    tick: [AtomicU64; 2],
}

/// Goroutines parked on I/O now (a snapshot, for `gort::metrics`).
pub(crate) fn waiters() -> usize {
    NWAITERS.load(Ordering::Relaxed)
}

/// One more goroutine waits on I/O. Under the PollDesc lock.
fn waiter_added() {
    if NWAITERS.fetch_add(1, Ordering::SeqCst) == 0 {
        deadlock::external_add();
    }
}

/// `n` waiters were taken out (under their PollDesc locks). True if that
/// left none: the caller calls `external_done` once it has readied them.
fn waiters_removed(n: usize) -> bool {
    n != 0 && NWAITERS.fetch_sub(n, Ordering::SeqCst) == n
}

impl PollDesc {
    /// A PollDesc for `fd` (Go's poll_runtime_pollOpen). The fd is
    /// registered in epoll by the first wait.
    pub(crate) fn alloc(fd: RawFd) -> &'static PollDesc {
        let pd = PD_FREE.lock().pop().unwrap_or_else(|| {
            Box::leak(Box::new(PollDesc {
                st: Mutex::new(PdState {
                    fd: -1,
                    registered: false,
                    waiting: [Vec::new(), Vec::new()],
                    next_token: 0,
                }),
                tick: [AtomicU64::new(0), AtomicU64::new(0)],
            }))
        });
        let mut st = pd.st.lock();
        st.fd = fd;
        st.registered = false;
        drop(st);
        pd
    }

    /// The fd is about to be closed (Go's poll_runtime_pollClose): removes
    /// it from epoll and recycles this PollDesc. Nobody may wait on it: the
    /// owner is being dropped, so no operation borrows it.
    #[inline(never)]
    pub(crate) fn free(&'static self) {
        let mut st = self.st.lock();
        if st.waiting.iter().any(|w| !w.is_empty()) {
            throw("runtime: closing an fd a goroutine waits on");
        }
        if st.registered {
            if let Some(p) = poller_if_inited() {
                // SAFETY: the owner closes the fd only after this returns.
                let fd = unsafe { BorrowedFd::borrow_raw(st.fd) };
                // An error leaves a registration that dies with the file;
                // its stale events only cause spurious retries.
                let _ = p.delete(fd);
            }
        }
        st.fd = -1;
        st.registered = false;
        drop(st);
        PD_FREE.lock().push(self);
    }

    fn key(&'static self) -> usize {
        self as *const PollDesc as usize
    }

    /// The event count of `mode`: an operation's snapshot, taken before it
    /// tries the system call.
    pub(crate) fn tick(&self, mode: Mode) -> u64 {
        // Acquire: pairs with the Release bump in `ready`.
        self.tick[mode.index()].load(Ordering::Acquire)
    }

    /// Go's netpollblock: parks the calling goroutine `g` until an event for
    /// `mode` (possibly spurious) or `deadline`; returns at once if the tick
    /// moved since `seen`, the caller's snapshot (None: the fd was not
    /// registered when the caller looked, so park unless registering finds
    /// it ready). The caller retries its operation and checks its deadline
    /// after this returns. Errors only if epoll refuses the fd.
    #[inline(never)]
    pub(crate) fn wait(
        &'static self,
        g: GRef,
        mode: Mode,
        deadline: Option<Instant>,
        seen: Option<u64>,
    ) -> io::Result<()> {
        let poller = poller().ok_or_else(|| io::Error::other("gort: no netpoller"))?;
        let mut st = self.st.lock();
        if !st.registered {
            // SAFETY: `fd` is open: its owner closes it only after `free`,
            // which removes it from epoll first (and needs this lock).
            unsafe { poller.add_with_mode(st.fd, Event::all(self.key()), PollMode::Edge)? };
            st.registered = true;
        }
        if seen.is_some_and(|t| t != self.tick(mode)) {
            return Ok(());
        }
        let token = st.next_token;
        st.next_token += 1;
        st.waiting[mode.index()].push(Waiting { token, g });
        waiter_added();
        drop(st);
        let timer = deadline.map(|d| time::add_real_timer(d, move || self.expire(mode, token)));
        // Readied exactly once: by an event or by the timer (header).
        sched::park(sched::WaitReason::IoWait);
        if let Some(t) = timer {
            time::cancel_timer(t);
        }
        Ok(())
    }

    /// The deadline of wait `token` passed: wake its goroutine if it still
    /// waits (a timer callback).
    #[inline(never)]
    fn expire(&self, mode: Mode, token: u64) {
        let mut st = self.st.lock();
        let list = &mut st.waiting[mode.index()];
        let Some(i) = list.iter().position(|w| w.token == token) else {
            return; // an event won
        };
        let w = list.remove(i);
        let emptied = waiters_removed(1);
        drop(st);
        sched::ready(w.g);
        if emptied {
            deadlock::external_done();
        }
    }

    /// Go's netpollready: an event for this fd. Bumps the ticks of the ready
    /// directions and takes their waiters into `out`. Returns how many.
    #[inline(never)]
    fn ready(&self, r: bool, w: bool, out: &mut Vec<GRef>) -> usize {
        let mut st = self.st.lock();
        let mut n = 0;
        for (hit, mode) in [(r, Mode::Read), (w, Mode::Write)] {
            if !hit {
                continue;
            }
            let i = mode.index();
            // Release: see `tick`. Under the lock, so a plain add will do.
            let t = self.tick[i].load(Ordering::Relaxed);
            self.tick[i].store(t.wrapping_add(1), Ordering::Release);
            let list = &mut st.waiting[i];
            n += list.len();
            out.extend(list.drain(..).map(|w| w.g));
        }
        n
    }
}

/// Go's netpoll(delay): one wait on the poller, at most `timeout` (None:
/// until an event or `netpoll_break`). Returns the goroutines taken out of
/// their wait lists, and whether that left no waiter (the caller calls
/// `external_done` after making them runnable).
fn netpoll(poller: &Poller, timeout: Option<Duration>) -> (Vec<GRef>, bool) {
    EVENTS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let events = slot.get_or_insert_with(|| {
            Events::with_capacity(NonZeroUsize::new(EVENTS_CAP).expect("EVENTS_CAP is not 0"))
        });
        events.clear();
        // `polling` retries EINTR; it returns no events at once while
        // another thread is inside a wait (its own lock).
        if let Err(e) = poller.wait(events, timeout) {
            crate::throw::warn(&format!("runtime: netpoll: {e}"));
            throw("runtime: netpoll failed");
        }
        LAST_POLL.store(time::nanotime(), Ordering::Relaxed);
        let mut gs = Vec::new();
        let mut n = 0;
        for ev in events.iter() {
            // SAFETY: every key we register is the address of a PollDesc,
            // and PollDescs are never freed (module header); the notify
            // event is filtered out by `polling`.
            let pd: &'static PollDesc = unsafe { &*(ev.key as *const PollDesc) };
            n += pd.ready(ev.readable, ev.writable, &mut gs);
        }
        (gs, waiters_removed(n))
    })
}

/// Makes what a poll readied runnable, then retires the external waker if
/// the poll took the last waiter.
fn deliver(gs: Vec<GRef>, emptied: bool) -> bool {
    let any = !gs.is_empty();
    if any {
        crate::diag::trace::netpoll_wake(gs.len());
        sched::inject_glist(gs);
    }
    if emptied {
        deadlock::external_done();
    }
    any
}

/// find_runnable's non-blocking poll (Go's netpoll(0) before stealing):
/// true if it made goroutines runnable (on this P, and the global queue for
/// idle Ps).
pub(crate) fn poll_ready() -> bool {
    // Relaxed hints: a stale zero defers the poll to the blocking step or
    // the next round; a stale non-zero costs one empty poll.
    if NWAITERS.load(Ordering::Relaxed) == 0 || POLLER.load(Ordering::Relaxed) != 0 {
        return false;
    }
    let Some(poller) = poller_if_inited() else {
        return false;
    };
    let (gs, emptied) = netpoll(poller, Some(Duration::ZERO));
    deliver(gs, emptied)
}

/// find_runnable's last step before it stops the M, whose P is already idle
/// (Go's "netpoll blocking" in findRunnable): if goroutines wait on I/O or
/// timers are pending and no other M is in the poller, block in it until an
/// event, the next timer, or `netpoll_break`; then `acquire_p` (take an idle
/// P). Returns true if this M holds a P again (the caller looks for work from
/// the top: the readied goroutines, due timers); false if the M should stop
/// (it did not poll, or no P was idle: what it readied went to the global
/// queue, each idle P with an M started for it).
pub(crate) fn poll_blocking(acquire_p: impl FnOnce() -> bool) -> bool {
    let poller = loop {
        if NWAITERS.load(Ordering::SeqCst) == 0 && !time::pending() {
            return false;
        }
        let Some(poller) = poller() else {
            return false;
        };
        if POLLER
            .compare_exchange(0, POLL_FOREVER, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false; // another M polls
        }
        // Claimed: a timer armed from now on sees the claim (header).
        if NWAITERS.load(Ordering::SeqCst) != 0 || time::pending() {
            break poller;
        }
        // Nothing to wait for after all. Release, then look once more: a
        // timer armed while we held the claim did not wake a P for itself.
        POLLER.store(0, Ordering::SeqCst);
        if !time::pending() {
            return false;
        }
    };
    let until = time::next_when();
    let timeout = (until != POLL_FOREVER)
        .then(|| Duration::from_nanos(until.saturating_sub(time::nanotime())));
    POLLER.store(until.max(1), Ordering::SeqCst);
    let (gs, emptied) = netpoll(poller, timeout);
    POLLER.store(0, Ordering::SeqCst);
    let got_p = acquire_p();
    deliver(gs, emptied);
    got_p
}

/// Go's netpollBreak: wakes the M blocked in the poller (or makes the next
/// wait return at once).
pub(crate) fn netpoll_break() {
    if let Some(p) = poller_if_inited() {
        // Only fails if the eventfd write fails: then there is nothing to do.
        let _ = p.notify();
    }
}

/// Go's wakeNetPoller: a timer at `when` became the earliest. Break the
/// poller's wait if it would sleep past `when`; if no M polls, wake a P so
/// that an M comes to run it (header, "No lost wake-up").
pub(crate) fn wake_net_poller(when: Instant) {
    let until = POLLER.load(Ordering::SeqCst);
    if until == 0 {
        sched::wake_p();
    } else if time::nanos(when) < until {
        netpoll_break();
    }
}

/// The last timer was cancelled: a poller sleeping only for it should look
/// again (so its M can stop and the deadlock check can run).
pub(crate) fn timers_emptied() {
    if NWAITERS.load(Ordering::SeqCst) == 0 && POLLER.load(Ordering::SeqCst) != 0 {
        netpoll_break();
    }
}

/// sysmon's share: poll if goroutines wait on I/O and nobody has polled for
/// 10 ms (what it readies goes to the global queue, with an M started for
/// each idle P); if timers are overdue by more than 1 ms while no M is in
/// the poller, wake a P so that an M runs them (Go's sysmon `startm`), or,
/// if every P is busy, end the longest slice of at least a tenth of the time
/// slice (sched/kick.rs `kick_slice_for_timers`; Go waits for the slice to end):
/// a sleeper beside CPU-bound goroutines wakes within about a millisecond.
/// True if it asked an M to stop.
pub(crate) fn sysmon_tick() -> bool {
    let now = time::nanotime();
    // Relaxed/SeqCst reads are hints here: a miss is retried next tick.
    if NWAITERS.load(Ordering::Relaxed) != 0
        && POLLER.load(Ordering::SeqCst) == 0
        && now.saturating_sub(LAST_POLL.load(Ordering::Relaxed)) >= SYSMON_POLL_NS
    {
        if let Some(poller) = poller_if_inited() {
            let (gs, emptied) = netpoll(poller, Some(Duration::ZERO));
            deliver(gs, emptied);
        }
    }
    let next = time::next_when();
    if next != u64::MAX
        && POLLER.load(Ordering::SeqCst) == 0
        && now >= next.saturating_add(SYSMON_TIMER_SLACK_NS)
    {
        // Go's sysmon: start an M for an idle P to run them. Running them
        // here would queue their goroutines globally, behind everything.
        sched::wake_p();
        return crate::sched::kick::kick_slice_for_timers();
    }
    false
}
