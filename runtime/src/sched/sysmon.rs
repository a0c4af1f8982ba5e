//! sysmon — the system monitor: a thread with no P that watches the Ps and
//! the Ms. Go's sysmon and retake:
//! - a G that has run a whole time slice is asked to stop (sched/preempt.rs);
//! - a P left in a blocking call (sched/syscall.rs) for more than one sysmon tick
//!   is taken and handed to another M when there is work for it;
//! - an M stuck in a call nobody announced (its G has not moved for 2 ms and
//!   the thread sleeps in the kernel: std::thread::sleep, a std Mutex, a
//!   blocking read) is asked to give its P up, and the P is handed off;
//! - an M that runs a G without a P (after such a release) for a whole slice
//!   is asked to stop it, so GOMAXPROCS stays the number of goroutines running user
//!   code in steady state;
//! - the network is polled if goroutines wait on I/O and nobody has polled
//!   for 10 ms, and an M is started for timers overdue while no M is in
//!   the poller (io/netpoll.rs `sysmon_tick`).
//!
//! # Rhythm
//! Sleeps 20 µs, doubling each round up to half a time slice (between 100 µs
//! and 10 ms; 5 ms by default) while any P runs, so a slice overrun is seen
//! within 1.5 slices; after asking an M for something it looks again within
//! 1 ms. When every P is idle it sleeps until `wake` (a P starts running,
//! `acquire_p`) or 100 ms pass, and starts again from 20 µs.
//!
//! The time slice is identified by the P's schedtick (and a blocking call by
//! its syscalltick), so a late request never hits a later slice.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::lock::{Condvar, Mutex};

use crate::m::M;
use crate::p::{PStatus, P};
use crate::sched::{self, sched};
use crate::sched::{kick, preempt};

/// sysmon's shortest sleep (Go: 20 µs).
const MIN_DELAY: Duration = Duration::from_micros(20);
/// sysmon's longest sleep while Ps run (Go: 10 ms).
const MAX_DELAY: Duration = Duration::from_millis(10);
/// How soon to look again after asking an M for something.
const RECHECK: Duration = Duration::from_millis(1);
/// How long to sleep when every P is idle, if nothing wakes sysmon first.
const IDLE_SLEEP: Duration = Duration::from_millis(100);
/// Go's retake: a P in a blocking call with nothing queued keeps it this long
/// while other Ps are idle or spinning.
const SYSCALL_GRACE: Duration = Duration::from_millis(10);
/// A P whose G has not moved for this long is checked for a blocked thread.
const STUCK_CHECK: Duration = Duration::from_millis(2);
/// How often that check is repeated while the G stays in the same slice.
const STUCK_RECHECK: Duration = Duration::from_millis(5);

static START: Once = Once::new();
/// True while sysmon sleeps because every P is idle. SeqCst: `wake`'s check
/// must not be reordered before the caller's publication of new work.
static IDLE: AtomicBool = AtomicBool::new(false);
static IDLE_LOCK: Mutex<()> = Mutex::new(());
static IDLE_CV: Condvar = Condvar::new();

/// Starts sysmon (once). Called when the first M is made.
pub(crate) fn start() {
    START.call_once(|| {
        let r = std::thread::Builder::new()
            .name("gort-sysmon".into())
            .spawn(sysmon);
        if let Err(e) = r {
            crate::throw::warn(&format!("gort: cannot start sysmon ({e}): no preemption"));
        }
    });
}

/// Wakes sysmon from its all-idle sleep (called when a P starts running).
/// The caller has just made a P Running: the fence orders that store before
/// the load of IDLE, and `idle_sleep` stores IDLE before re-checking the Ps
/// (Dekker), so either we see IDLE or sysmon sees the running P.
pub(crate) fn wake() {
    std::sync::atomic::fence(Ordering::SeqCst);
    if IDLE.load(Ordering::SeqCst) {
        let _l = IDLE_LOCK.lock();
        IDLE_CV.notify_one();
    }
}

/// Per-P memory of the last look (Go's sysmontick): the time slice
/// (schedtick) and since when, the blocking call (syscalltick) and since when.
/// The slice clock keeps running across blocking calls, as in Go, so a G that
/// makes back-to-back short calls still gets its slice ended and its P taken.
#[derive(Clone, Copy)]
struct PWatch {
    tick: u32,
    since: Instant,
    /// When sysmon last read the holder's thread state in this slice.
    checked: Option<Instant>,
    /// That read found the thread blocked: one more such read (a short
    /// page-fault or lock wait is not a stuck call) and its P is released.
    blocked_once: bool,
    sys_tick: u32,
    sys_since: Instant,
}

/// What one round did.
#[derive(Default)]
struct Round {
    /// Ps running or in a blocking call.
    busy: usize,
    /// An M was asked for something (preempt or release).
    asked: bool,
    /// A P entered a new blocking call, or one was handed off: look again
    /// soon (Go resets sysmon's delay after a retake).
    soon: bool,
}

/// Go's sysmon loop.
fn sysmon() {
    let s = sched();
    preempt::enable(&s.cfg);
    let slice = s.cfg.timeslice;
    let cap = (slice / 2).clamp(MIN_DELAY * 5, MAX_DELAY);
    let mut watch: Vec<Option<PWatch>> = Vec::new();
    let mut pless = HashMap::new();
    let mut pass = 0u64;
    let mut delay = MIN_DELAY;
    let mut procs_checked = Instant::now();
    loop {
        let now = Instant::now();
        super::maxprocs::sysmon_update(&s.cfg, &mut procs_checked, now);
        crate::diag::allgs::tick_coarse_clock();
        crate::diag::sigquit::poll();
        let mut round = retake(&mut watch, now, slice);
        pass += 1;
        watch_ms(&mut pless, pass, now, slice, &mut round);
        round.asked |= crate::io::netpoll::sysmon_tick();
        round.asked |= kick_for_returned_call();
        if round.busy == 0 {
            idle_sleep();
            delay = MIN_DELAY;
            continue;
        }
        if round.asked {
            delay = delay.min(RECHECK);
        }
        if round.soon {
            delay = MIN_DELAY;
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(cap);
    }
}

/// Sleeps until a P runs again (`wake`) or IDLE_SLEEP passes.
fn idle_sleep() {
    let mut l = IDLE_LOCK.lock();
    IDLE.store(true, Ordering::SeqCst);
    std::sync::atomic::fence(Ordering::SeqCst);
    let any_busy = sched()
        .all_ps()
        .any(|p| matches!(p.status(), PStatus::Running | PStatus::Syscall));
    if !any_busy {
        let _ = IDLE_CV.wait_for(&mut l, IDLE_SLEEP);
    }
    IDLE.store(false, Ordering::SeqCst);
}

/// Go's retake, over the Ps.
fn retake(watch: &mut Vec<Option<PWatch>>, now: Instant, slice: Duration) -> Round {
    let s = sched();
    let mut round = Round::default();
    for p in s.all_ps() {
        if watch.len() <= p.id {
            watch.resize(p.id + 1, None);
        }
        let status = p.status();
        if !matches!(status, PStatus::Running | PStatus::Syscall) {
            watch[p.id] = None;
            continue;
        }
        round.busy += 1;
        // Relaxed: see P::schedtick / P::syscalltick (compared only).
        let tick = p.schedtick.load(Ordering::Relaxed);
        let sys_tick = p.syscalltick.load(Ordering::Relaxed);
        let fresh = watch[p.id].is_none();
        let w = watch[p.id].get_or_insert(PWatch {
            tick,
            since: now,
            checked: None,
            blocked_once: false,
            sys_tick,
            sys_since: now,
        });
        if w.tick != tick {
            (w.tick, w.since, w.checked, w.blocked_once) = (tick, now, None, false);
        }
        if fresh || w.since == now {
            let us = (crate::time::nanos(now) / 1000) as u32;
            // Relaxed: a hint (P::seen).
            p.seen
                .store(u64::from(tick) << 32 | u64::from(us), Ordering::Relaxed);
        }
        let overrun = now.duration_since(w.since) >= slice;
        match status {
            PStatus::Syscall => {
                // A new call since the last look: wait one more tick, unless
                // the G's slice is over (Go's sysretake).
                if w.sys_tick != sys_tick {
                    (w.sys_tick, w.sys_since) = (sys_tick, now);
                    round.soon = true;
                    if !overrun {
                        continue;
                    }
                }
                let in_call = now.duration_since(w.sys_since);
                if retake_syscall(p, in_call, overrun) {
                    watch[p.id] = None;
                    round.soon = true;
                }
            }
            _ => {
                let Some(m) = p.holder() else { continue };
                if m.cur_g.load(Ordering::Relaxed).is_null() {
                    continue; // the M is scheduling, not running a G
                }
                watch_running(p, m, w, now, slice, &mut round);
            }
        }
    }
    round
}

/// retake for a P whose M runs a G in slice `w.tick`: is its thread stuck in
/// a call nobody announced (then ask it to release the P), else has the
/// slice run out (then ask it to stop)?
///
/// The thread's state is read before any signal of this round, and not while
/// one of ours is still in flight (`signal_pending`): a signal wakes the
/// thread out of its blocking call, and while it waits for a CPU to handle
/// it the thread reads as running. On a loaded machine every read would then
/// say "running" and the P would never be released. A thread found blocked
/// gets no preemption signal either: it is in the kernel, at no safe point.
fn watch_running(p: &P, m: &M, w: &mut PWatch, now: Instant, slice: Duration, round: &mut Round) {
    let tick = w.tick;
    // Reading /proc costs tens of µs: at most once per STUCK_RECHECK per
    // slice.
    let long = now.duration_since(w.since);
    let again = if w.blocked_once {
        STUCK_CHECK / 2
    } else {
        STUCK_RECHECK
    };
    let due = w.checked.is_none_or(|c| now.duration_since(c) >= again);
    // Acquire: pairs with the handler's Release store (sched/preempt.rs).
    let in_flight = m.signal_pending.load(Ordering::Acquire);
    if long >= STUCK_CHECK.min(slice) && due && !in_flight {
        w.checked = Some(now);
        let blocked = thread_blocked(m);
        if blocked && w.blocked_once {
            preempt::release_m(m, tick);
            round.asked = true;
        }
        w.blocked_once = blocked;
        round.asked |= blocked;
    }
    // A slice `kick_longest_slice` asked to end counts as over (only while
    // it runs: a blocking call in it keeps its grace). Relaxed: a hint
    // (P::kick_tick).
    let kicked = p.kick_tick.load(Ordering::Relaxed) == u64::from(tick) + 1;
    if (now.duration_since(w.since) >= slice || kicked) && !w.blocked_once {
        preempt::preempt_m(m, tick);
        round.asked = true;
    }
}

/// A G back from a blocking call still waits: the kick its return sent may
/// have found no slice old enough (one that had just begun, or one sysmon
/// had not seen yet), and with a long `GORT_TIMESLICE` it would wait for
/// that slice to end. Ask again each round until a P takes it.
fn kick_for_returned_call() -> bool {
    sched().has_urgent_work() && kick::kick_longest_slice()
}

/// A P in a blocking call for at least one sysmon tick: take it if there is
/// work for it, or nobody else looks for work, or the call is long, or the
/// G's slice is over (Go's retake conditions). True if taken.
fn retake_syscall(p: &'static P, in_call: Duration, overrun: bool) -> bool {
    let s = sched();
    if !overrun
        && p.runq_empty()
        && s.has_idle_or_spinning()
        && in_call < SYSCALL_GRACE
        && !s.has_global_work()
    {
        return false;
    }
    if !p.cas_status(PStatus::Syscall, PStatus::Idle) {
        return false; // its M came back first
    }
    // Relaxed: statistics only.
    s.handoffs.fetch_add(1, Ordering::Relaxed);
    sched::handoff_p(p);
    true
}

/// sysmon's memory of an M that runs a G without a P.
struct PlessWatch {
    /// When it was first seen so.
    since: Instant,
    /// When to read its thread state next.
    next_check: Instant,
    /// The wait before the check after next: doubles while the thread stays
    /// blocked (from one slice up to [`PLESS_CHECK_MAX`]).
    backoff: Duration,
    /// sysmon's round that last saw it (entries not seen are dropped).
    seen: u64,
}

/// The longest wait between two looks at a P-less M's thread: thousands of
/// Ms blocked in calls nobody announced must not cost sysmon a /proc read
/// each per round.
const PLESS_CHECK_MAX: Duration = Duration::from_secs(1);

/// The Ms' side: hand off Ps released by stuck Ms; preempt Ms that run a G
/// without a P for a whole slice. One pass over the Ms; a P-less M whose
/// thread is still blocked in its call is looked at again after a wait that
/// doubles each time.
fn watch_ms(
    pless: &mut HashMap<u64, PlessWatch>,
    pass: u64,
    now: Instant,
    slice: Duration,
    round: &mut Round,
) {
    let s = sched();
    for m in &sched::all_ms() {
        if let Some(p) = m.released_p_take() {
            // Relaxed: statistics only.
            s.handoffs.fetch_add(1, Ordering::Relaxed);
            sched::handoff_p(p);
        }
        if !runs_pless(m) {
            continue;
        }
        round.busy += 1;
        let w = pless.entry(m.id).or_insert(PlessWatch {
            since: now,
            next_check: now + slice,
            backoff: slice,
            seen: pass,
        });
        w.seen = pass;
        // Not while our last signal is in flight: see `watch_running`.
        if now < w.next_check || m.signal_pending.load(Ordering::Acquire) {
            continue;
        }
        if thread_blocked(m) {
            // Still in its call: nothing to preempt yet.
            w.backoff = (w.backoff * 2).min(PLESS_CHECK_MAX);
            w.next_check = now + w.backoff;
        } else if now.duration_since(w.since) >= slice {
            preempt::preempt_pless_m(m);
            round.asked = true;
        }
    }
    pless.retain(|_, w| w.seen == pass);
}

/// True if `m` runs a G while holding no P.
fn runs_pless(m: &M) -> bool {
    // Relaxed: hints, re-read every round.
    m.pless.load(Ordering::Relaxed) && !m.cur_g.load(Ordering::Relaxed).is_null()
}

/// True if `m`'s thread sleeps in the kernel (state S or D in
/// /proc/self/task/<tid>/stat), i.e. it is blocked, not computing.
fn thread_blocked(m: &M) -> bool {
    // Relaxed: see M::tid.
    let tid = m.tid.load(Ordering::Relaxed);
    if tid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state is the first field after the command name, which is in
    // parentheses and may itself contain spaces or parentheses.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next());
    matches!(state, Some('S' | 'D'))
}
