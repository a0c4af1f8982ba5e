//! netpoll — the network poller: Go's netpoll.go and netpoll_epoll.go, on
//! the `polling` crate (epoll). I/O that would block parks the goroutine, not
//! its thread; the poller's blocking wait is also where the runtime sleeps
//! until the next timer (time.rs).
//!
//! # Waiting for an fd (Go's netpollblock / netpollready)
//! Sockets are non-blocking (net/). An operation that gets `EAGAIN` calls
//! [`PollDesc::wait`]: under the fd's [`PollDesc`] lock the goroutine is put
//! in the read or write wait list, the fd's interest is armed in epoll in
//! oneshot mode (registered on the first wait, re-armed with `EPOLL_CTL_MOD`
//! on later ones), and the goroutine parks. The caller retries its operation
//! when it wakes: a wake-up means "may be ready", never "is ready".
//!
//! One event disarms the fd (oneshot). Its processing, under the same lock,
//! takes every waiter of the ready direction out of its list and re-arms the
//! fd for the waiters left in the other direction. An event nobody waits for
//! sets a sticky `ready` bit, so a goroutine that gets `EAGAIN` just after
//! retries once instead of parking.
//!
//! # Claim once
//! A wait may end two ways: readiness (the poller) or its deadline (a timer
//! armed by the waiter, time.rs). Both look for the waiter's entry — found by
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
//!    timers if no M is in the poller ([`sysmon_tick`]).
//!
//! Ready goroutines are made runnable in batches through
//! `sched::inject_glist` (Go's injectglist).
//!
//! # No lost wake-up
//! - I/O: a waiter is listed before the interest is armed, both under the
//!   PollDesc lock; an event fetched from epoll is processed under that lock
//!   too. If `armed` says the interest is armed already, either the kernel
//!   still has it armed (a later event will be processed after our insertion
//!   and take us) or an event was fetched and not yet processed (its
//!   processing takes us). Nobody is blocked in the poller? Then `find_runnable`
//!   of the goroutine's own M reaches step 2 after the goroutine parked and
//!   becomes the poller, or another M already is.
//! - Timers: a timer that becomes the earliest stores `NEXT_WHEN` then reads
//!   `POLLER`; the poller claims `POLLER` then reads `NEXT_WHEN` (all SeqCst,
//!   a store-buffering pair). Either the poller sees the new deadline, or the
//!   adder sees the claim and breaks the wait (`netpoll_break`) when it would
//!   sleep past it, or sees no poller and wakes a P (`wake_p`) so that an M
//!   comes to run it (Go's wakeNetPoller).
//! - Runnable goroutines: the poller is not needed for them. Whoever makes a
//!   G runnable while the poller blocks calls `wake_p`, which starts another
//!   M for an idle P (the spinning protocol of sched.rs), as in Go.
//!
//! # Deadlock detection
//! Goroutines waiting on I/O count as one external waker (deadlock.rs) while
//! there are any: added when `NWAITERS` goes 0 -> 1 (under the PollDesc lock,
//! before anything can remove that waiter), done when it goes back to 0,
//! after the goroutines taken out were made runnable. A poller sleeping for
//! nothing (the last timer was cancelled and nobody waits on I/O) is woken so
//! that its M can stop and look.

use std::cell::RefCell;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use polling::{Event, Events, PollMode, Poller};

use crate::debug::throw;
use crate::g::GRef;
use crate::{deadlock, sched, time};

/// sysmon polls if nobody has for this long (Go: 10 ms).
const SYSMON_POLL_NS: u64 = 10_000_000;
/// sysmon wakes a P for timers this late that nobody ran.
const SYSMON_TIMER_SLACK_NS: u64 = 1_000_000;
/// Events fetched by one wait.
const EVENTS_CAP: usize = 256;
/// `POLLER` while an M blocks in the poller with no timeout.
const POLL_FOREVER: u64 = u64::MAX;

/// Read / write interest bits.
const R: u8 = 1;
const W: u8 = 2;

/// The poller, created on first use; None if epoll is unavailable (then
/// goroutines block their thread in poll(2) instead: net/fd.rs).
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
                crate::debug::warn(&format!(
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
    fn bit(self) -> u8 {
        match self {
            Mode::Read => R,
            Mode::Write => W,
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
    /// Added to epoll (the first wait adds, later waits modify).
    registered: bool,
    /// Interest armed in epoll (R|W) and no event fetched since.
    armed: u8,
    /// An event came with nobody waiting in that direction (sticky until a
    /// waiter consumes it).
    ready: u8,
    rwait: Vec<Waiting>,
    wwait: Vec<Waiting>,
    /// Tokens are never reused, even across fds (Go's fdseq).
    next_token: u64,
}

/// One fd's poll state (Go's pollDesc). Allocated once and recycled, never
/// freed: its address is the fd's epoll key.
pub(crate) struct PollDesc {
    st: Mutex<PdState>,
}

impl PdState {
    fn waiters(&mut self, mode: Mode) -> &mut Vec<Waiting> {
        match mode {
            Mode::Read => &mut self.rwait,
            Mode::Write => &mut self.wwait,
        }
    }

    /// Arms the interest of the waiters present (oneshot), unless armed.
    fn arm(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        let want =
            if self.rwait.is_empty() { 0 } else { R } | if self.wwait.is_empty() { 0 } else { W };
        if want & !self.armed == 0 {
            return Ok(());
        }
        let ev = Event::new(key, want & R != 0, want & W != 0);
        if self.registered {
            // SAFETY: `fd` is open: the PollDesc is in use (`fd != -1`) and
            // its owner closes the fd only after `free`, which needs this lock.
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            poller.modify_with_mode(fd, ev, PollMode::Oneshot)?;
        } else {
            // SAFETY: `fd` is open (as above), and `free` deletes it from
            // epoll before its owner closes it.
            unsafe { poller.add_with_mode(self.fd, ev, PollMode::Oneshot)? };
            self.registered = true;
        }
        self.armed = want;
        Ok(())
    }
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
    /// A PollDesc for `fd` (Go's poll_runtime_pollOpen). Nothing is
    /// registered in epoll until a goroutine first waits.
    pub(crate) fn alloc(fd: RawFd) -> &'static PollDesc {
        let pd = PD_FREE.lock().pop().unwrap_or_else(|| {
            Box::leak(Box::new(PollDesc {
                st: Mutex::new(PdState {
                    fd: -1,
                    registered: false,
                    armed: 0,
                    ready: 0,
                    rwait: Vec::new(),
                    wwait: Vec::new(),
                    next_token: 0,
                }),
            }))
        });
        let mut st = pd.st.lock();
        st.fd = fd;
        st.registered = false;
        st.armed = 0;
        st.ready = 0;
        drop(st);
        pd
    }

    /// The fd is about to be closed (Go's poll_runtime_pollClose): removes
    /// it from epoll and recycles this PollDesc. Nobody may wait on it: the
    /// owner is being dropped, so no operation borrows it.
    #[inline(never)]
    pub(crate) fn free(&'static self) {
        let mut st = self.st.lock();
        if !st.rwait.is_empty() || !st.wwait.is_empty() {
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
        st.armed = 0;
        st.ready = 0;
        drop(st);
        PD_FREE.lock().push(self);
    }

    fn key(&'static self) -> usize {
        self as *const PollDesc as usize
    }

    /// Go's netpollblock: parks the calling goroutine `g` until the fd may be
    /// ready for `mode` (an event, possibly spurious) or `deadline` passes;
    /// returns at once if an event came since the last wait. The caller
    /// retries its operation and checks its deadline after this returns.
    /// Errors only if epoll refuses the fd.
    #[inline(never)]
    pub(crate) fn wait(
        &'static self,
        g: GRef,
        mode: Mode,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let poller = poller().ok_or_else(|| io::Error::other("gort: no netpoller"))?;
        let mut st = self.st.lock();
        if st.ready & mode.bit() != 0 {
            st.ready &= !mode.bit();
            return Ok(());
        }
        let token = st.next_token;
        st.next_token += 1;
        st.waiters(mode).push(Waiting { token, g });
        if let Err(e) = st.arm(poller, self.key()) {
            st.waiters(mode).pop();
            return Err(e);
        }
        waiter_added();
        drop(st);
        let timer = deadline.map(|d| time::add_timer(d, move || self.expire(mode, token)));
        // Readied exactly once: by the event or by the timer (header).
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
        let list = st.waiters(mode);
        let Some(i) = list.iter().position(|w| w.token == token) else {
            return; // readiness won
        };
        let w = list.remove(i);
        let emptied = waiters_removed(1);
        drop(st);
        sched::ready(w.g);
        if emptied {
            deadlock::external_done();
        }
    }

    /// Go's netpollready: an event for this fd. Takes the waiters of the
    /// ready directions into `out` (or records the readiness), re-arms for
    /// the others. Returns how many were taken.
    #[inline(never)]
    fn ready(&'static self, poller: &Poller, r: bool, w: bool, out: &mut Vec<GRef>) -> usize {
        let mut st = self.st.lock();
        if st.fd < 0 {
            return 0; // stale event of a closed fd
        }
        // Oneshot: the event disarmed the fd.
        st.armed = 0;
        let mut n = 0;
        for (hit, mode) in [(r, Mode::Read), (w, Mode::Write)] {
            if !hit {
                continue;
            }
            let list = st.waiters(mode);
            if list.is_empty() {
                st.ready |= mode.bit();
            } else {
                n += list.len();
                out.extend(list.drain(..).map(|w| w.g));
            }
        }
        if (!st.rwait.is_empty() || !st.wwait.is_empty()) && st.arm(poller, self.key()).is_err() {
            // Cannot happen while the fd is open; never strand a waiter:
            // they retry and get the error from their own `arm`.
            for mode in [Mode::Read, Mode::Write] {
                let list = st.waiters(mode);
                n += list.len();
                out.extend(list.drain(..).map(|w| w.g));
            }
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
            crate::debug::warn(&format!("runtime: netpoll: {e}"));
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
            n += pd.ready(poller, ev.readable, ev.writable, &mut gs);
        }
        (gs, waiters_removed(n))
    })
}

/// Makes what a poll readied runnable, then retires the external waker if
/// the poll took the last waiter.
fn deliver(gs: Vec<GRef>, emptied: bool) -> bool {
    let any = !gs.is_empty();
    if any {
        crate::trace::netpoll_wake(gs.len());
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
/// the poller, wake a P so that an M runs them (Go's sysmon `startm`).
pub(crate) fn sysmon_tick() {
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
    }
}

/// Goroutines waiting on fds now (stats and tests).
#[allow(dead_code)]
pub(crate) fn waiters() -> usize {
    NWAITERS.load(Ordering::Relaxed)
}
