//! handoff — Ms and Ps changing hands: Go's startm, newm, stopm, handoffp,
//! acquirep/releasep, and the locked-M pair stoplockedm/startlockedm. A child
//! of sched/mod.rs (it uses the scheduler's lock and counters directly).
//!
//! # Who holds a P
//! An M holds at most one P. It gets one from `start_m` (an idle P, handed
//! through the M's wake-up slot, m.rs), from `handoff_p` (a P another M gave
//! up), or from `start_locked_m` (with the G locked to it). It gives one up to
//! the idle list (`pidle_put`), to another M (`handoff_p`), when a blocking
//! call outlasts sysmon's patience (sched/syscall.rs), or when sysmon asks its
//! signal handler to release it because it is stuck in a call nobody announced
//! (sched/preempt.rs); it then runs on without a P until its G next enters the
//! scheduler, which queues the G and parks the M (`execute`).
//!
//! # Idle Ms
//! Ms are made on demand and parked on the idle list when they find no work,
//! to be reused. The idle list is bounded: an M that would park while
//! `max_idle_ms()` Ms are already idle (GOMAXPROCS + 4) ends its thread
//! instead, so a burst of blocking calls leaves a handful of threads, not one
//! per call. (Go never ends Ms; Rust programs care more about thread counts.)
//!
//! # Locked Ms (Go's lockedm)
//! A G locked to an M (`lock_os_thread`, or an asynchronous preemption until
//! its next cooperative switch) runs only there, and that M runs nothing else.
//! When the G switches out, its M gives its P away and waits
//! (`stop_locked_m`); whichever M later picks the G from a queue hands it and
//! its own P to the locked M and parks itself (`start_locked_m`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::schedule::schedule;
use super::{sched, stop_spinning, Locked, Sched};
use crate::g::GRef;
use crate::m::{self, MLocal, M};
use crate::p::{PStatus, P};
use crate::throw::throw;

/// Idle Ms kept beyond GOMAXPROCS before an M ends its thread instead.
const IDLE_M_SLACK: usize = 4;

/// An M's own stack (Go's g0): the scheduler, timers and the netpoller run
/// there, never goroutines, which have their own. Far below std's 2 MiB
/// default; virtual memory, committed as touched.
const M_STACK_SIZE: usize = 256 * 1024;

/// Go's debug.SetMaxThreads default.
const DEFAULT_MAX_THREADS: usize = 10_000;

/// The most Ms that may exist at once (`gort::debug::set_max_threads`).
/// Relaxed: a limit checked when an M is made.
static MAX_THREADS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_THREADS);

/// Go's debug.SetMaxThreads: sets the most OS threads the runtime may
/// create for goroutines and returns the previous limit. Past it the
/// program stops with Go's fatal error (thread exhaustion) rather than let
/// the system fail later; a value of 0 is taken as 1.
///
/// ```
/// let old = gort::debug::set_max_threads(5_000);
/// assert_eq!(gort::go!(|| 7).join().unwrap(), 7); // well within the limit
/// assert_eq!(gort::debug::set_max_threads(old), 5_000); // restores it
/// ```
pub fn set_max_threads(n: usize) -> usize {
    MAX_THREADS.swap(n.max(1), Ordering::Relaxed)
}

/// Go's checkmcount: one more M must stay within the limit.
fn check_mcount(s: &Sched) {
    let max = MAX_THREADS.load(Ordering::Relaxed);
    // Relaxed: see Sched::mcount; Ms are made one at a time per caller.
    if s.mcount.load(Ordering::Relaxed) >= max {
        crate::throw::warn(&format!("runtime: program exceeds {max}-thread limit"));
        throw("thread exhaustion");
    }
}

/// Go's startm: takes an idle P and runs it on an idle M or a new one. With
/// `spinning`, the caller has already counted the new M in nmspinning.
#[doc(alias = "startm")]
pub(super) fn start_m(spinning: bool) {
    let s = sched();
    let mut l = s.lock.lock();
    let Some(p) = pidle_get(s, &mut l) else {
        drop(l);
        if spinning {
            // No P after all: undo the count (Go's startm does the same).
            s.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        return;
    };
    drop(l);
    start_m_with(p, spinning, None);
}

/// Runs `p` (already taken off the idle list, or handed off) on an idle M or
/// a new one; `g`, if given, is the first G it runs.
pub(super) fn start_m_with(p: &'static P, spinning: bool, g: Option<GRef>) {
    let s = sched();
    let mut l = s.lock.lock();
    let m = l.midle.pop();
    if m.is_some() {
        s.nmidle.fetch_sub(1, Ordering::Relaxed);
    }
    drop(l);
    match m {
        Some(m) => give_p(&m, p, spinning, g),
        None => new_m(p, spinning, g),
    }
}

/// Go's newm: a new OS thread that starts with `p`.
fn new_m(p: &'static P, spinning: bool, g: Option<GRef>) {
    let s = sched();
    check_mcount(s);
    crate::sched::sysmon::start();
    let m = M::new();
    give_p(&m, p, spinning, g);
    s.allm.lock().push(m.clone());
    // Relaxed: statistics only.
    s.mcount.fetch_add(1, Ordering::Relaxed);
    s.mtotal.fetch_add(1, Ordering::Relaxed);
    let name = format!("gort-m{}", m.id);
    let r = std::thread::Builder::new()
        .name(name)
        .stack_size(M_STACK_SIZE)
        .spawn(move || mstart(m));
    if let Err(e) = r {
        // Go's newosproc failure, with the count it prints.
        let have = s.mcount.load(Ordering::Relaxed) - 1;
        crate::throw::warn(&format!(
            "runtime: failed to create new OS thread (have {have} already; {e})"
        ));
        throw("newosproc");
    }
}

/// The body of every M's thread. Returns (ending the thread) when the M
/// retires from the idle list.
fn mstart(m: Arc<M>) {
    crate::stack::overflow::minit();
    let ml = m::bind(m);
    wait_for_p(ml, false);
    schedule(ml);
}

/// Go's handoffp: an M gives `p` up (it blocks, waits for its locked G, or
/// was stuck). Start an M for it if there is work or nobody else looks for
/// work; otherwise put it on the idle list.
#[doc(alias = "handoffp")]
pub(crate) fn handoff_p(p: &'static P) {
    let s = sched();
    crate::diag::trace::handoff(p);
    p.set_holder(None);
    if !p.runq_empty() || s.glob_len.load(Ordering::SeqCst) != 0 {
        start_m_with(p, false, None);
        return;
    }
    if s.nmspinning.load(Ordering::SeqCst) + s.npidle.load(Ordering::SeqCst) == 0
        && s.nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    {
        start_m_with(p, true, None);
        return;
    }
    let mut l = s.lock.lock();
    if !l.glob.is_empty() {
        drop(l);
        start_m_with(p, false, None);
        return;
    }
    pidle_push(s, &mut l, p);
}

/// Go's stoplockedm: the G locked to this M switched out; give the P away
/// (if this M still has one) and sleep until `start_locked_m` hands the G
/// back with a P.
#[doc(alias = "stoplockedm")]
pub(super) fn stop_locked_m(ml: &MLocal) {
    stop_spinning(ml);
    if let Some(p) = ml.p.take() {
        handoff_p(p);
    }
    wait_for_p(ml, false);
}

/// Sleeps until this M is handed a P (m.rs `M::wake`), then holds it, with
/// the spinning state and the G to run first it was handed. `spin`: spin a
/// little first (an idle M; a locked M waits a slice at best).
fn wait_for_p(ml: &MLocal, spin: bool) {
    let (p, spinning, g) = ml.m.wait_for_p(spin);
    acquire_p(ml, p);
    ml.spinning.set(spinning);
    ml.locked_next.set(g);
}

/// Hands `p` to `m` and wakes it: it runs `g` first, if given. The one way
/// a P reaches a sleeping or new M.
fn give_p(m: &M, p: &'static P, spinning: bool, g: Option<GRef>) {
    p.set_holder(Some(m));
    m.wake(p, spinning, g);
}

/// `stop_locked_m` after a preemption, when the scheduler has already chosen
/// `next` (owned by the caller) for this M's P: the P and `next` go straight
/// to `next`'s own M if it is locked to one (a suspended G: Go's
/// startlockedm), else to an idle or new M, with no spinning M in between
/// (each would be one more thread, parked after one hand-off). Then this M
/// sleeps until its own G is handed back.
pub(super) fn hand_off_next(ml: &MLocal, next: GRef) {
    stop_spinning(ml);
    let p = ml.p.take().expect("hand_off_next with a P");
    match next.get().locked_m() {
        Some(lm) => give_p(lm, p, false, Some(next)),
        None => start_m_with(p, false, Some(next)),
    }
    wait_for_p(ml, false);
}

/// Go's startlockedm: `g` is locked to another M; hand it our P and the G,
/// and park this M. False if this M retired instead of getting a new P.
#[doc(alias = "startlockedm")]
pub(super) fn start_locked_m(ml: &MLocal, g: GRef, lm: &'static M) -> bool {
    let p = ml.p.take().expect("start_locked_m with a P");
    give_p(lm, p, false, Some(g));
    stop_m(ml)
}

/// Go's acquirep: this M now holds `p`.
pub(super) fn acquire_p(ml: &MLocal, p: &'static P) {
    p.set_status(PStatus::Running);
    p.set_holder(Some(&ml.m));
    ml.p.set(Some(p));
    // A P runs again: sysmon must watch it (one load when it is awake).
    crate::sched::sysmon::wake();
}

/// Go's pidleget (caller holds the lock).
pub(super) fn pidle_get(s: &Sched, l: &mut Locked) -> Option<&'static P> {
    let p = l.pidle.pop()?;
    s.npidle.store(l.pidle.len(), Ordering::SeqCst);
    Some(p)
}

/// Go's releasep + pidleput (caller holds the lock).
pub(super) fn pidle_put(s: &Sched, l: &mut Locked, ml: &MLocal) {
    let p = ml.p.take().expect("release_p without a P");
    p.set_holder(None);
    pidle_push(s, l, p);
}

/// Puts `p` (held by nobody) on the idle list. SeqCst store of `npidle`:
/// the idle side of the spinning protocol (sched/mod.rs header).
fn pidle_push(s: &Sched, l: &mut Locked, p: &'static P) {
    p.set_status(PStatus::Idle);
    l.pidle.push(p);
    s.npidle.store(l.pidle.len(), Ordering::SeqCst);
}

/// How many idle Ms may wait on the idle list.
fn max_idle_ms(s: &Sched) -> usize {
    s.gomaxprocs() + IDLE_M_SLACK
}

/// Go's stopm: parks this M (it holds no P) until `start_m` hands it one.
/// Returns false if the M should end instead (the idle list is full): the
/// caller unwinds to `mstart`, which returns.
#[doc(alias = "stopm")]
pub(super) fn stop_m(ml: &MLocal) -> bool {
    let s = sched();
    let mut l = s.lock.lock();
    if l.midle.len() >= max_idle_ms(s) {
        // Retire: unlisted everywhere, so nobody will hand this M work.
        s.allm.lock().retain(|m| !Arc::ptr_eq(m, &ml.m));
        // Relaxed: statistics only.
        s.mcount.fetch_sub(1, Ordering::Relaxed);
        drop(l);
        // This M may have been the last busy one: look, as an idling M does.
        crate::sched::deadlock::check_dead();
        return false;
    }
    l.midle.push(ml.m.clone());
    s.nmidle.fetch_add(1, Ordering::Relaxed);
    drop(l);
    crate::sched::deadlock::check_dead();
    wait_for_p(ml, true);
    true
}
