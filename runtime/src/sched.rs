//! sched — the global scheduler and its loop: `schedule`, `find_runnable`,
//! `execute`, the global run queue, idle Ps and Ms, spinning and `wake_p`,
//! and `park`/`ready`. Go's proc.go, in the same words.
//!
//! # The runtime starts lazily
//! One `static SCHED: OnceLock<Sched>`, initialised by the first call that
//! needs it (spawn, `gomaxprocs()`, `#[gort::main]`), as Go always has one.
//! All Ps start idle; the first runnable G wakes the first M.
//!
//! # The loop (each M, on its own thread stack = Go's g0)
//! `schedule` = this M's `locked_next` G if it has one (its locked G handed
//! back, sched/handoff.rs), else `find_runnable`, then `execute`, until the M
//! retires (the idle-M bound). `find_runnable` (a P beyond GOMAXPROCS is
//! first retired, `retire_p`):
//! 0. run the earliest timer if it is due (time.rs, Go's checkTimers): a G
//!    it readies goes to this P's runnext;
//! 1. every 61st schedtick, one G from the global queue first (fairness: two
//!    Gs re-readying each other locally cannot starve it);
//! 2. the P's `runnext`, then its local queue;
//! 3. the global queue (a batch: len/GOMAXPROCS + 1, into the local queue);
//!    then (3b) netpoll without blocking, if Gs wait on I/O and no M blocks
//!    in the poller (netpoll.rs); the Gs it readies are injected
//!    (`inject_glist`) and the round starts again;
//! 4. steal: if this M is spinning or fewer than half the busy Ps have a
//!    spinning M, become spinning and try 4 rounds over all Ps in random order,
//!    taking half a victim's queue (its runnext too in the last round);
//! 5. give up: under the sched lock re-check the global queue, put the P on
//!    the idle list; stop spinning and re-check every queue;
//! 6. if Gs wait on I/O or timers are pending and no other M polls, block in
//!    the poller until an event, the earliest timer or `netpoll_break`, with
//!    no P; then take an idle P and start again from the top (else the
//!    readied Gs go to the global queue);
//! 7. park the M on the idle-M list until `start_m` hands it a P.
//!
//! # Spinning and wake_p (the protocol that must not lose a wake-up)
//! A spinning M is one looking for work with a P in hand. `wake_p` (called after
//! making a G runnable) starts one spinning M if there is an idle P and nobody
//! spins. A spinning M that finds work stops spinning and, if it was the last
//! one, calls `wake_p` so parallelism ramps up. A spinning M that gives up
//! first decrements `nmspinning`, then (SeqCst, a StoreLoad barrier) re-checks
//! every queue. The submitter pushes, then (SeqCst) reads `nmspinning` in
//! `wake_p`. So either the submitter sees no spinner and wakes one, or the
//! giving-up spinner sees the work: no G is left behind with an idle P.
//! The global queue and the idle-P list share one lock, so a G put there while
//! an M is parking its P is seen by one side.
//! The poller of step 6 changes none of this: it blocks after its M has
//! given up the P and stopped spinning (both steps done), so a G made
//! runnable meanwhile still finds an idle P and no spinner, and `wake_p`
//! starts another M for it. `inject_glist` (the poller's and the timers'
//! batches) ends with `wake_p` like any other submitter. What only the
//! poller can see — I/O readiness, a new earliest timer — has its own
//! argument in netpoll.rs.
//!
//! # Ownership of a G across these steps
//! See g.rs: queues own runnable Gs, the M owns the G it runs, the park
//! handshake hands a waiting G to whoever readies it.

use std::collections::VecDeque;
use std::sync::atomic::{compiler_fence, fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::lock::Mutex;

pub(crate) use crate::allgs::WaitReason;
use crate::debug::{throw, Config, MAX_GOMAXPROCS};
use crate::g::{GRef, GRun, GSlot, GStatus};
use crate::m::{self, MLocal, M};
use crate::p::{PStatus, Slot, P};
use crate::switch::{self, GContext, Switch};

mod admit;
mod handoff;
use admit::{admit, admit_get, admit_get_locked, AdmitQueue};
pub(crate) use handoff::handoff_p;
pub use handoff::set_max_threads;
use handoff::{
    acquire_p, hand_off_next, pidle_get, pidle_put, start_locked_m, start_m, stop_locked_m, stop_m,
};

/// Go's fairness tick: every 61st schedtick the global queue goes first.
pub(crate) const GLOBAL_RUNQ_FAIRNESS_TICK: u32 = 61;
/// Go's stealTries: rounds over all Ps before a spinning M gives up.
const STEAL_TRIES: usize = 4;

/// The global scheduler state.
pub(crate) struct Sched {
    pub(crate) cfg: Config,
    /// Every P ever created, by id; entries are set once (grow) and never
    /// removed (a shrink marks them Dead).
    allp: &'static [OnceLock<P>],
    /// Number of initialised entries of `allp`. SeqCst with gomaxprocs.
    allp_len: AtomicUsize,
    /// Current GOMAXPROCS. Written under `lock`.
    gomaxprocs: AtomicUsize,
    /// Go's sched.lock: the global queue and the idle lists.
    lock: Mutex<Locked>,
    /// Length of the global queue, readable without the lock (a hint; the
    /// lock holder re-checks). SeqCst: part of the spinning protocol.
    glob_len: AtomicUsize,
    /// How many Gs at the head of the global queue were put there by
    /// `ready_after_call` and not yet taken: while non-zero, find_runnable
    /// looks at the global queue before the local one. Written under `lock`;
    /// Relaxed reads (a hint: the look takes the lock).
    glob_urgent: AtomicUsize,
    /// Length of the admission queue (sched/admit.rs), readable without
    /// the lock. SeqCst: part of the spinning protocol, as `glob_len`.
    admit_len: AtomicUsize,
    /// Gs suspended mid-preemption, locked to their M (sched/admit.rs).
    /// Relaxed: a count read as a hint.
    npreempted: AtomicUsize,
    /// When a G last left the admission queue, or the first entered it
    /// (time.rs `nanotime`): its age clock (sched/admit.rs). Relaxed: a hint.
    admit_last: AtomicU64,
    /// Idle Ps. Written under `lock`; SeqCst reads in wake_p (protocol).
    npidle: AtomicUsize,
    /// Spinning Ms. SeqCst: the StoreLoad pair of the header.
    nmspinning: AtomicUsize,
    /// Idle (parked) Ms; written under `lock`. Relaxed reads: stats.
    nmidle: AtomicUsize,
    /// Live Ms (created and not retired). Relaxed: stats.
    mcount: AtomicUsize,
    /// Ms ever created. Relaxed: stats.
    mtotal: AtomicUsize,
    /// Every live M (Go's allm), for sysmon. Taken after `lock` when both
    /// are needed.
    allm: Mutex<Vec<Arc<M>>>,
    /// Live goroutines (spawned, not yet dead). Relaxed: stats and
    /// num_goroutine, a snapshot as in Go.
    ngoroutine: AtomicUsize,
    /// Counters, Relaxed: statistics only.
    pub(crate) steals: AtomicU64,
    pub(crate) global_takes: AtomicU64,
    pub(crate) spawned: AtomicU64,
    /// Blocking calls entered (syscall.rs).
    pub(crate) syscalls: AtomicU64,
    /// Ps handed off by sysmon from a blocking call or a stuck M.
    pub(crate) handoffs: AtomicU64,
    /// Freed G slots beyond the per-P lists (Go's sched.gFree).
    gfree: Mutex<Vec<GSlot>>,
}

/// State under `Sched::lock`.
struct Locked {
    glob: VecDeque<GRef>,
    /// Gs that have never run, held back while the preemption budget is
    /// spent (sched/admit.rs).
    admit: AdmitQueue,
    pidle: Vec<&'static P>,
    midle: Vec<Arc<M>>,
}

static SCHED: OnceLock<Sched> = OnceLock::new();

/// The scheduler, started on first use.
pub(crate) fn sched() -> &'static Sched {
    SCHED.get_or_init(|| {
        crate::spawn::install_panic_hook();
        let cfg = Config::from_env();
        crate::preempt::init(&cfg);
        crate::debug::init_diagnostics();
        Sched::new(cfg)
    })
}

impl Sched {
    fn new(cfg: Config) -> Sched {
        let n = cfg.gomaxprocs;
        // Leaked: Ps live for the whole process, so `&'static P` can be handed out.
        let allp: &'static [OnceLock<P>] =
            Box::leak((0..MAX_GOMAXPROCS).map(|_| OnceLock::new()).collect());
        Sched {
            cfg,
            allp,
            allp_len: AtomicUsize::new(0),
            gomaxprocs: AtomicUsize::new(0),
            lock: Mutex::new(Locked {
                glob: VecDeque::new(),
                admit: AdmitQueue::default(),
                pidle: Vec::new(),
                midle: Vec::new(),
            }),
            glob_len: AtomicUsize::new(0),
            glob_urgent: AtomicUsize::new(0),
            admit_len: AtomicUsize::new(0),
            npreempted: AtomicUsize::new(0),
            admit_last: AtomicU64::new(0),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
            nmidle: AtomicUsize::new(0),
            mcount: AtomicUsize::new(0),
            mtotal: AtomicUsize::new(0),
            allm: Mutex::new(Vec::new()),
            ngoroutine: AtomicUsize::new(0),
            steals: AtomicU64::new(0),
            global_takes: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            syscalls: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            gfree: Mutex::new(Vec::new()),
        }
        .with_procs(n)
    }

    fn with_procs(self, n: usize) -> Sched {
        let mut l = self.lock.lock();
        self.resize_locked(&mut l, n);
        drop(l);
        self
    }

    /// Grows or shrinks the P set to `n` (caller holds the lock). New Ps go on
    /// the idle list; idle Ps beyond `n` become Dead; running ones beyond `n`
    /// are retired by their M at its next `find_runnable`.
    fn resize_locked(&self, l: &mut Locked, n: usize) {
        let len = self.allp_len.load(Ordering::SeqCst);
        for id in 0..n {
            let p = self.allp[id].get_or_init(|| P::new(id));
            if id >= len || p.status() == PStatus::Dead {
                // A Dead P was drained; it may still be on no list.
                if !l.pidle.iter().any(|q| q.id == id) && p.status() != PStatus::Running {
                    p.set_status(PStatus::Idle);
                    l.pidle.push(self.p_static(id));
                }
            }
        }
        if n > len {
            self.allp_len.store(n, Ordering::SeqCst);
        }
        l.pidle.retain(|p| {
            if p.id >= n {
                p.set_status(PStatus::Dead);
                false
            } else {
                true
            }
        });
        self.npidle.store(l.pidle.len(), Ordering::SeqCst);
        self.gomaxprocs.store(n, Ordering::SeqCst);
    }

    fn p_static(&self, id: usize) -> &'static P {
        self.allp[id].get().expect("P initialised")
    }

    /// True if some P is idle or some M spins (sysmon's retake condition).
    pub(crate) fn has_idle_or_spinning(&self) -> bool {
        self.nmspinning.load(Ordering::SeqCst) + self.npidle.load(Ordering::SeqCst) > 0
    }

    /// True if the global run queue is not empty (a snapshot).
    pub(crate) fn has_global_work(&self) -> bool {
        self.glob_len.load(Ordering::SeqCst) != 0
    }

    /// A G back from a blocking call waits at the head of the global queue
    /// (`ready_after_call`). Relaxed: a hint for sysmon, which looks again.
    pub(crate) fn has_urgent_work(&self) -> bool {
        self.glob_urgent.load(Ordering::Relaxed) != 0 && self.has_global_work()
    }

    /// Every P created so far (some may be Dead after a shrink).
    pub(crate) fn all_ps(&self) -> impl Iterator<Item = &'static P> + '_ {
        let len = self.allp_len.load(Ordering::SeqCst);
        (0..len).filter_map(|id| self.allp[id].get())
    }

    pub(crate) fn gomaxprocs(&self) -> usize {
        self.gomaxprocs.load(Ordering::SeqCst)
    }

    /// Live goroutines.
    pub(crate) fn ngoroutine(&self) -> usize {
        // Relaxed: see the field.
        self.ngoroutine.load(Ordering::Relaxed)
    }

    /// A snapshot of the counters, for `stats()`.
    pub(crate) fn snapshot(&self) -> crate::stats::Stats {
        let len = self.allp_len.load(Ordering::SeqCst);
        let ran = (0..len)
            .map(|id| {
                self.allp[id]
                    .get()
                    .map_or(0, |p| p.ran.load(Ordering::Relaxed))
            })
            .collect();
        let preempts: Vec<u64> = (0..len)
            .map(|id| {
                self.allp[id]
                    .get()
                    .map_or(0, |p| p.preemptions.load(Ordering::Relaxed))
            })
            .collect();
        // Relaxed loads below: statistics only.
        crate::stats::Stats {
            goroutines: self.ngoroutine(),
            gomaxprocs: self.gomaxprocs(),
            idle_procs: self.npidle.load(Ordering::Relaxed),
            threads: self.mcount.load(Ordering::Relaxed),
            idle_threads: self.nmidle.load(Ordering::Relaxed),
            spinning_threads: self.nmspinning.load(Ordering::Relaxed),
            global_runq: self.glob_len.load(Ordering::Relaxed)
                + self.admit_len.load(Ordering::Relaxed),
            steals: self.steals.load(Ordering::Relaxed),
            global_takes: self.global_takes.load(Ordering::Relaxed),
            spawned: self.spawned.load(Ordering::Relaxed),
            ran_per_p: ran,
            preemptions: preempts.iter().sum(),
            preemptions_per_p: preempts,
            syscalls: self.syscalls.load(Ordering::Relaxed),
            handoffs: self.handoffs.load(Ordering::Relaxed),
            threads_created: self.mtotal.load(Ordering::Relaxed),
        }
    }
}

/// Changes GOMAXPROCS; returns the previous value. 0 only queries; values
/// above the maximum are clamped to it (Go's runtime.GOMAXPROCS).
pub(crate) fn set_gomaxprocs(n: usize) -> usize {
    let s = sched();
    let old = s.gomaxprocs();
    if n == 0 || n == old {
        return old;
    }
    let n = n.min(MAX_GOMAXPROCS);
    let mut l = s.lock.lock();
    s.resize_locked(&mut l, n);
    drop(l);
    for _ in old..n {
        wake_p();
    }
    old
}

// ---------------------------------------------------------------------------
// Making Gs runnable.

/// A freed G slot for a new goroutine, from this M's P (Go's gfget), if
/// the caller is on an M with a P and one is free.
pub(crate) fn gfget() -> Option<GSlot> {
    let rs = m::RuntimeSection::enter()?;
    let p = rs.ml().p.get()?;
    p.gfree_get(|n| {
        let mut global = sched().gfree.lock();
        let k = global.len().saturating_sub(n);
        global.split_off(k)
    })
}

/// Queues a new G (Go's newproc tail): into this P's runnext when called from
/// a goroutine, else into the global queue; then wake_p.
pub(crate) fn new_g_ready(g: GRef) {
    let s = sched();
    // Relaxed: statistics / snapshot counters.
    s.ngoroutine.fetch_add(1, Ordering::Relaxed);
    s.spawned.fetch_add(1, Ordering::Relaxed);
    runq_put_here(g, Slot::Next);
    wake_p();
}

/// Puts a runnable G on this M's P if it has one, else the global queue.
fn runq_put_here(g: GRef, slot: Slot) {
    let rs = m::RuntimeSection::enter();
    match rs.as_ref().and_then(|rs| rs.ml().p.get()) {
        Some(p) => {
            if let Some(batch) = p.runq_put(g, slot) {
                glob_runq_put_batch(batch);
            }
        }
        None => glob_runq_put_batch([g]),
    }
}

/// Go's goready: makes a parked G runnable (in this P's runnext when called
/// from a goroutine, so the pair runs back to back) and wakes a P.
#[doc(alias = "goready")]
pub(crate) fn ready(g: GRef) {
    if !g.get().ready_claim() {
        // The G has not finished switching out; its M requeues it.
        return;
    }
    g.get().info.clear_waiting();
    g.get().cas_status(GStatus::Waiting, GStatus::Runnable);
    runq_put_here(g, Slot::Wake);
    wake_p();
}

/// Go's injectglist: makes a batch of parked Gs runnable (the netpoller's
/// and the timers' wake-ups). Each completes its park handshake first (one
/// still switching out is requeued by its own M, as in `ready`). On an M
/// with a P: one G per idle P goes to the global queue with an M started for
/// each, the rest to this P's local queue (what does not fit to the global
/// queue after them, keeping the batch's order); elsewhere all go to the global
/// queue, with an M started for each idle P they can use. Ends with
/// `wake_p`, the submitter's half of the spinning protocol (header).
#[doc(alias = "injectglist")]
pub(crate) fn inject_glist(mut gs: Vec<GRef>) {
    gs.retain(|g| {
        if !g.get().ready_claim() {
            return false;
        }
        g.get().info.clear_waiting();
        g.get().cas_status(GStatus::Waiting, GStatus::Runnable);
        true
    });
    if gs.is_empty() {
        return;
    }
    let s = sched();
    let rs = m::RuntimeSection::enter();
    let here = rs.as_ref().and_then(|rs| rs.ml().p.get());
    let to_global = match here {
        Some(_) => s.npidle.load(Ordering::SeqCst).min(gs.len()),
        None => gs.len(),
    };
    if to_global > 0 {
        glob_runq_put_batch(gs.drain(..to_global));
        // Go's startIdle: an M per idle P, while there are idle Ps.
        for _ in 0..to_global {
            if s.npidle.load(Ordering::SeqCst) == 0 {
                break;
            }
            start_m(false);
        }
    }
    if let Some(p) = here {
        // Go's runqputbatch: as many as fit, in order, then the rest to the
        // global queue, so a batch (timers in deadline order) keeps its order.
        let rest = gs.split_off(p.runq_free().min(gs.len()));
        p.runq_push_batch(gs);
        if !rest.is_empty() {
            glob_runq_put_batch(rest);
        }
    }
    drop(rs);
    wake_p();
}

/// Go's gopark: parks the running G until someone calls `ready` on it. Must
/// be called on a goroutine. Consumes exactly one `ready` (g.rs handshake);
/// the caller re-checks its condition after it returns. `reason` is what
/// goroutine dumps show while it waits (allgs.rs; `ready` clears it, and so
/// does the G itself when it resumes, for a ready that came before the park).
#[doc(alias = "gopark")]
#[inline(never)]
pub(crate) fn park(reason: WaitReason) {
    let g = m::current_g().unwrap_or_else(|| throw("runtime: park outside a goroutine"));
    switch_point(g);
    g.get().info.set_waiting(reason);
    switch::switch_to_m(g, Switch::Park);
    g.get().info.clear_waiting();
}

/// What every cooperative switch point does to the running G's lock to its
/// M: an asynchronous preemption's lock ends; and a G that is panicking
/// (a panic hook or an unwinding `Drop` that waits) stays on this M until a
/// later switch point finds it no longer panicking. std keeps the panic
/// count and the "in panic hook" flag per thread: moved to another thread,
/// the G would leave them behind for whichever G runs here next
/// (`thread::panicking()` true for it, a nested panic aborting it) and
/// take a count of zero along (a Mutex guard dropped while unwinding would
/// not poison its Mutex).
#[inline]
pub(crate) fn switch_point(g: GRef) {
    g.get().unlock_async();
    let panicking = std::thread::panicking();
    if g.get().panic_lock_stale(panicking) {
        set_panic_lock(g, panicking);
    }
}

#[cold]
fn set_panic_lock(g: GRef, panicking: bool) {
    if let Some(ml) = m::current() {
        let me: &'static M = &ml.m;
        g.get().set_panic_lock(me, panicking);
    }
}

/// Go's Gosched: the running G goes to the back of its P's queue.
#[inline(never)]
pub(crate) fn gosched() {
    match m::current_g() {
        Some(g) => {
            switch_point(g);
            switch::switch_to_m(g, Switch::Yield)
        }
        None => std::thread::yield_now(),
    }
}

/// Go's exitsyscallfast_pidle: this M (with no P) takes an idle P, if any.
pub(crate) fn acquire_idle_p(ml: &MLocal) -> bool {
    let s = sched();
    if s.npidle.load(Ordering::SeqCst) == 0 {
        return false;
    }
    let mut l = s.lock.lock();
    let Some(p) = pidle_get(s, &mut l) else {
        return false;
    };
    drop(l);
    acquire_p(ml, p);
    true
}

/// Every live M (for sysmon).
pub(crate) fn all_ms() -> Vec<Arc<M>> {
    sched().allm.lock().clone()
}

/// Go's LockOSThread for the running goroutine (no-op on a plain thread).
pub(crate) fn lock_os_thread() {
    if let Some(ml) = m::current() {
        if let Some(g) = ml.cur_g.get() {
            let me: &'static M = &ml.m;
            g.get().lock_to(me);
        }
    }
}

/// Go's UnlockOSThread.
pub(crate) fn unlock_os_thread() {
    if let Some(g) = m::current_g() {
        g.get().unlock();
    }
}

/// Go's globrunqputbatch.
fn glob_runq_put_batch(gs: impl IntoIterator<Item = GRef>) {
    let s = sched();
    let mut l = s.lock.lock();
    l.glob.extend(gs);
    s.glob_len.store(l.glob.len(), Ordering::SeqCst);
}

/// Go's globrunqget: takes a fair share of the global queue (len/GOMAXPROCS
/// plus one, at most `max` if non-zero, at most half the local queue's free
/// space plus one) into `p`'s local queue and returns the first.
#[doc(alias = "globrunqget")]
fn glob_runq_get(p: &P, max: usize) -> Option<GRef> {
    let s = sched();
    if s.glob_len.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut l = s.lock.lock();
    glob_runq_get_locked(s, &mut l, p, max)
}

fn glob_runq_get_locked(s: &Sched, l: &mut Locked, p: &P, max: usize) -> Option<GRef> {
    let len = l.glob.len();
    if len == 0 {
        return None;
    }
    let mut n = len.min(len / s.gomaxprocs().max(1) + 1);
    if max > 0 {
        n = n.min(max);
    }
    n = n.min(p.runq_free() / 2 + 1).max(1);
    let first = l.glob.pop_front();
    p.runq_push_batch(l.glob.drain(..n - 1));
    s.glob_len.store(l.glob.len(), Ordering::SeqCst);
    // The urgent Gs are the first ones (`ready_after_call`).
    let urgent = s.glob_urgent.load(Ordering::Relaxed);
    if urgent != 0 {
        s.glob_urgent
            .store(urgent.saturating_sub(n), Ordering::Relaxed);
    }
    // Relaxed: statistics only.
    s.global_takes.fetch_add(1, Ordering::Relaxed);
    first
}

// ---------------------------------------------------------------------------
// Ms: start, stop, spin.

/// Go's wakep: if a P is idle and nobody spins, start a spinning M for it.
#[doc(alias = "wakep")]
pub(crate) fn wake_p() {
    let s = sched();
    // SeqCst: the submitter's half of the StoreLoad pair (header).
    if s.npidle.load(Ordering::SeqCst) == 0 {
        return;
    }
    if s.nmspinning.load(Ordering::SeqCst) != 0
        || s.nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
    {
        return;
    }
    start_m(true);
}

/// Go's resetspinning: this M found work; stop spinning and, if it was the
/// last spinner, start another so more Ps join in.
fn reset_spinning(ml: &MLocal) {
    if !ml.spinning.replace(false) {
        return;
    }
    let s = sched();
    if s.nmspinning.fetch_sub(1, Ordering::SeqCst) == 0 {
        throw("runtime: negative nmspinning");
    }
    wake_p();
}

// ---------------------------------------------------------------------------
// The loop.

/// Go's schedule: find a G, run it, until this M retires.
fn schedule(ml: &'static MLocal) {
    loop {
        let (g, inherit) = match ml.locked_next.take() {
            Some(g) => (g, false),
            None => match find_runnable(ml) {
                Some(x) => x,
                None => return, // this M retires (handoff.rs stop_m)
            },
        };
        if ml.spinning.get() {
            reset_spinning(ml);
        }
        if !execute(ml, g, inherit) {
            return;
        }
    }
}

/// Go's findRunnable (steps in the header). Returns holding a P, or None if
/// this M should retire.
#[doc(alias = "findRunnable")]
fn find_runnable(ml: &'static MLocal) -> Option<(GRef, bool)> {
    let s = sched();
    loop {
        // Woken from `stop_m` with a G to run (sched/handoff.rs
        // `hand_off_next`): it goes first, as in `schedule`.
        if let Some(g) = ml.locked_next.take() {
            return Some((g, false));
        }
        let p =
            ml.p.get()
                .unwrap_or_else(|| throw("runtime: find_runnable without a P"));
        if p.id >= s.gomaxprocs() && retire_p(ml) {
            if !stop_m(ml) {
                return None;
            }
            continue;
        }
        // 0. a due timer (time.rs; a sleeper it readies runs next)
        crate::time::check_timers();
        // 1-3. this P's queues and the global ones
        if let Some(x) = runq_pick(s, p) {
            return Some(x);
        }
        // 3b. netpoll without blocking (netpoll.rs); what it readies is
        // queued here (and globally for idle Ps): look again from the top.
        if crate::netpoll::poll_ready() {
            continue;
        }
        // 4. steal
        let procs = s.gomaxprocs();
        let busy = procs.saturating_sub(s.npidle.load(Ordering::SeqCst));
        if ml.spinning.get() || 2 * s.nmspinning.load(Ordering::SeqCst) < busy {
            if !ml.spinning.replace(true) {
                s.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(g) = steal_work(ml, p) {
                match admit(s, g) {
                    Some(g) => return Some((g, false)),
                    None => continue, // held back: the rest of the loot is local
                }
            }
        }
        // 5. give up the P, unless the global or admission queue has a G:
        // whatever the budget, a P does not idle beside a runnable G.
        let mut l = s.lock.lock();
        if let Some(g) = glob_runq_get_locked(s, &mut l, p, 0) {
            return Some((g, false));
        }
        if let Some(g) = admit_get_locked(s, &mut l, true) {
            return Some((g, false));
        }
        pidle_put(s, &mut l, ml);
        drop(l);
        if ml.spinning.replace(false) {
            // SeqCst decrement, then re-check every queue: the spinner's half
            // of the StoreLoad pair (header).
            s.nmspinning.fetch_sub(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if work_anywhere(s) {
                let mut l = s.lock.lock();
                if let Some(p) = pidle_get(s, &mut l) {
                    drop(l);
                    acquire_p(ml, p);
                    ml.spinning.set(true);
                    s.nmspinning.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
            }
        }
        // 6. become the poller: block in netpoll until I/O or the next timer
        // (netpoll.rs), then take an idle P if there is one.
        if crate::netpoll::poll_blocking(|| {
            let mut l = s.lock.lock();
            let p = pidle_get(s, &mut l);
            drop(l);
            p.map(|p| acquire_p(ml, p)).is_some()
        }) {
            continue;
        }
        if !stop_m(ml) {
            return None;
        }
    }
}

/// find_runnable's steps 1-3, also execute's choice after a preemption:
/// the next G for `p` from its own queues and the global ones, or None. The
/// bool is true for `runnext` (it inherits the slice). A G that has never
/// run is held back while the preemption budget is spent (sched/admit.rs).
/// Inlined: it is most of every switch's look for work.
#[inline(always)]
fn runq_pick(s: &Sched, p: &P) -> Option<(GRef, bool)> {
    // 1. fairness (the global queue, then Gs held back by the budget, when
    // it allows), and Gs back from a blocking call (ready_after_call)
    let fair = p
        .schedtick
        .load(Ordering::Relaxed)
        .is_multiple_of(GLOBAL_RUNQ_FAIRNESS_TICK);
    if fair || s.glob_urgent.load(Ordering::Relaxed) != 0 {
        if let Some(g) = glob_runq_get(p, 1).and_then(|g| admit(s, g)) {
            return Some((g, false));
        }
    }
    if fair {
        if let Some(g) = admit_get(s, false) {
            return Some((g, false));
        }
    }
    // 2. runnext: just readied or spawned by the G that ran here
    if let Some(g) = p.runnext_take() {
        return Some((g, true));
    }
    // 2a. a G held back by the budget for too long (admit.rs "Aging")
    if admit::aged(s) {
        if let Some(g) = admit_get(s, false) {
            return Some((g, false));
        }
    }
    // 2b. local, then 3. global (a batch into the local queue)
    loop {
        while let Some(g) = p.runq_pop() {
            if let Some(g) = admit(s, g) {
                return Some((g, false));
            }
        }
        let Some(g) = glob_runq_get(p, 0) else { break };
        if let Some(g) = admit(s, g) {
            return Some((g, false));
        }
    }
    // 3b. Gs held back by the budget, when it allows (admit.rs)
    admit_get(s, false).map(|g| (g, false))
}

/// True if any queue holds a G (a snapshot, after a SeqCst fence).
fn work_anywhere(s: &Sched) -> bool {
    if s.glob_len.load(Ordering::SeqCst) != 0 || s.admit_len.load(Ordering::SeqCst) != 0 {
        return true;
    }
    let len = s.allp_len.load(Ordering::SeqCst);
    (0..len).any(|id| s.allp[id].get().is_some_and(|p| !p.runq_empty()))
}

/// Go's stealWork: up to STEAL_TRIES rounds over every other P in a random
/// order (random start, random stride coprime with the count).
#[doc(alias = "stealWork")]
fn steal_work(ml: &MLocal, me: &P) -> Option<GRef> {
    let s = sched();
    let n = s.gomaxprocs().min(s.allp_len.load(Ordering::SeqCst));
    if n <= 1 {
        return None;
    }
    for round in 0..STEAL_TRIES {
        let last = round == STEAL_TRIES - 1;
        let start = (ml.fastrand() % n as u64) as usize;
        let stride = coprime_stride(n, ml.fastrand());
        for i in 0..n {
            let id = (start + i * stride) % n;
            if id == me.id {
                continue;
            }
            let Some(victim) = s.allp[id].get() else {
                continue;
            };
            if let Some(g) = me.runq_steal(victim, last) {
                // Relaxed: statistics only.
                s.steals.fetch_add(1, Ordering::Relaxed);
                crate::trace::steal(id, g, me);
                return Some(g);
            }
        }
        if s.glob_len.load(Ordering::SeqCst) != 0 {
            if let Some(g) = glob_runq_get(me, 0) {
                return Some(g);
            }
        }
    }
    None
}

/// A stride in 1..n coprime with n, chosen by `r` (Go's randomOrder).
fn coprime_stride(n: usize, r: u64) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut k = (r % n as u64) as usize;
    for _ in 0..n {
        k = k % (n - 1) + 1;
        if gcd(k, n) == 1 {
            return k;
        }
        k += 1;
    }
    1
}

/// A P beyond GOMAXPROCS after a shrink: move its Gs to the global queue and
/// mark it Dead, under the sched lock so a concurrent grow sees either a
/// Running P (and leaves it to us) or a Dead one (and revives it). Returns
/// false, keeping the P, if a grow made its id valid again.
fn retire_p(ml: &MLocal) -> bool {
    let s = sched();
    let p = ml.p.get().expect("retire_p with a P");
    let mut l = s.lock.lock();
    if p.id < s.gomaxprocs() {
        return false;
    }
    ml.p.set(None);
    let before = l.glob.len();
    let mut gs = Vec::new();
    p.drain_all(&mut gs);
    l.glob.extend(gs);
    s.glob_len.store(l.glob.len(), Ordering::SeqCst);
    p.set_status(PStatus::Dead);
    let moved = l.glob.len() > before;
    drop(l);
    let was_spinning = ml.spinning.replace(false);
    if was_spinning {
        s.nmspinning.fetch_sub(1, Ordering::SeqCst);
    }
    // A spinner that leaves must not strand work it was expected to find
    // (the spinning protocol of the header): re-check and hand it on.
    fence(Ordering::SeqCst);
    if moved || (was_spinning && work_anywhere(s)) {
        wake_p();
    }
    true
}

/// Go's execute: runs `g` on this M until it switches out, then files it by
/// the reason it gave. `inherit`: it keeps the current time slice. Returns
/// false if this M retires.
fn execute(ml: &'static MLocal, g: GRef, inherit: bool) -> bool {
    let s = sched();
    let me: &'static M = &ml.m;
    if let Some(lm) = g.get().locked_m() {
        if !std::ptr::eq(lm, me) {
            return start_locked_m(ml, g, lm);
        }
    }
    let p =
        ml.p.get()
            .unwrap_or_else(|| throw("runtime: execute without a P"));
    if g.get().async_locked() {
        admit::resumed(s);
    }
    // Both counters are written only by this P's holder: a Relaxed load and
    // store (no locked read-modify-write); readers only compare values.
    if !inherit {
        let t = p.schedtick.load(Ordering::Relaxed);
        p.schedtick.store(t.wrapping_add(1), Ordering::Relaxed);
    }
    p.ran
        .store(p.ran.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    g.get().cas_status(GStatus::Runnable, GStatus::Running);
    ml.cur_g.set(Some(g));
    // Relaxed: snapshot for observers (see M::cur_g).
    ml.m.cur_g.store(g.as_ptr(), Ordering::Relaxed);
    crate::trace::go_start(g, p);

    // This M owns `g` (it came from a run queue) until it is requeued, parked
    // or freed below; its run state is touched only before that.
    let why = {
        // SAFETY: we own `g` (above) and hold no other reference to its run state.
        let run = unsafe { g.get().run_state() };
        if let GRun::Fresh(_) = run {
            let GRun::Fresh(entry) = std::mem::replace(run, GRun::Empty) else {
                unreachable!()
            };
            let stack = p
                .stack_get(g.get().stack_size, s.cfg.stack_size)
                .unwrap_or_else(|e| {
                    crate::debug::warn(&e.to_string());
                    throw("runtime: out of memory for goroutine stacks")
                });
            g.get().set_stack_bounds(stack.guard().0, stack.top());
            *run = GRun::Started(GContext::new(g, stack, entry));
        }
        let GRun::Started(ctx) = run else {
            throw("runtime: execute: goroutine has no context")
        };
        // User code now: the signal handler may take the P away if the G
        // gets stuck in a call nobody announced (preempt.rs).
        compiler_fence(Ordering::SeqCst);
        ml.in_runtime.set(0);
        compiler_fence(Ordering::SeqCst);
        let why = ctx.resume();
        compiler_fence(Ordering::SeqCst);
        ml.in_runtime.set(1);
        compiler_fence(Ordering::SeqCst);
        why
    };

    // Back on g0. The P may be gone: taken by sysmon while the G blocked
    // (unannounced, or a blocking call that outlasted sysmon's patience).
    ml.cur_g.set(None);
    ml.m.cur_g.store(std::ptr::null_mut(), Ordering::Relaxed);
    ml.m.pless.store(false, Ordering::Relaxed);
    crate::trace::go_end(g, why);
    let locked = g.get().locked_m().is_some();
    let p = ml.p.get();
    match why {
        Some(why @ (Switch::Yield | Switch::SyscallExit)) => {
            g.get().cas_status(GStatus::Running, GStatus::Runnable);
            match p {
                // Its P was handed off while it was in a blocking call: it
                // has waited in the kernel already.
                None if why == Switch::SyscallExit => ready_after_call(g),
                // A yield, on a P or without one (after a stuck M's release:
                // the G may well be CPU-bound, so no head start).
                _ => put_back(p, g, Slot::Tail),
            }
            if locked {
                stop_locked_m(ml);
            }
        }
        Some(Switch::Park) => {
            g.get().cas_status(GStatus::Running, GStatus::Waiting);
            if !g.get().park_commit() {
                // Readied before it finished switching out: still ours.
                g.get().cas_status(GStatus::Waiting, GStatus::Runnable);
                if locked && p.is_some() {
                    ml.locked_next.set(Some(g));
                } else {
                    put_back(p, g, Slot::Next);
                    if locked {
                        stop_locked_m(ml);
                    }
                }
            } else if locked {
                stop_locked_m(ml);
            }
        }
        Some(Switch::Preempted) => {
            g.get().cas_status(GStatus::Running, GStatus::Runnable);
            // It may be inside a thread_local! borrow: it resumes only here.
            g.get().lock_async(me);
            admit::suspended(s);
            match p {
                Some(p) => preempted_next(ml, p, g),
                None => {
                    // No P to hand off: wake one for the G, or nobody would
                    // pick it up and this M would wait for ever.
                    glob_runq_put_batch([g]);
                    wake_p();
                    stop_locked_m(ml);
                }
            }
        }
        None => {
            g.get().cas_status(GStatus::Running, GStatus::Dead);
            // A goroutine that exits locked leaves its M as it is (Go would
            // end the thread; our Ms keep no per-G state).
            // SAFETY: we still own the dead G; the borrow above has ended.
            let run = unsafe { g.get().run_state() };
            let GRun::Started(ctx) = std::mem::replace(run, GRun::Empty) else {
                throw("runtime: dead goroutine has no context")
            };
            let mut stack = ctx.into_stack();
            stack.shrink();
            match p {
                Some(p) => p.stack_put(stack, s.cfg.stack_size),
                None => crate::stack::stack_free_batch([stack]),
            }
            // Relaxed: see the field.
            s.ngoroutine.fetch_sub(1, Ordering::Relaxed);
            // SAFETY: the G is Dead and ours; no queue or waiter holds it (a G
            // only dies while Running), and `g` is not used after this.
            let slot = unsafe { g.free() };
            match p {
                Some(p) => {
                    if let Some(batch) = p.gfree_put(slot) {
                        s.gfree.lock().extend(batch);
                    }
                }
                None => s.gfree.lock().push(slot),
            }
        }
    }
    if ml.p.get().is_none() && ml.locked_next.get().is_none() {
        // The P was taken while the G ran: park until given one (Go's
        // exitsyscall0 -> stopm).
        return stop_m(ml);
    }
    true
}

/// Execute's Preempted arm on a P: `g`, now locked to this M, waits while
/// the P runs whoever `runq_pick` chooses, handed straight to an M that can
/// run it (sched/handoff.rs `hand_off_next`); if nobody may run, `g` gets a
/// new slice at once. Due timers are run first (find_runnable's step 0): a
/// sleeper they ready is someone else to run.
fn preempted_next(ml: &'static MLocal, p: &'static P, g: GRef) {
    // Relaxed: statistics only.
    p.preemptions.fetch_add(1, Ordering::Relaxed);
    crate::time::check_timers();
    match runq_pick(sched(), p) {
        None => ml.locked_next.set(Some(g)),
        Some((next, from_runnext)) => {
            if from_runnext {
                // A G readied during the slice (a timer's sleeper) runs now
                // and `g` right after it, at this P's tail: on the global
                // queue a 61st tick could pick the next CPU-bound G first.
                put_back(Some(p), g, Slot::Tail);
            } else {
                // Go's place for a preempted G: behind those waiting there.
                glob_runq_put_batch([g]);
            }
            hand_off_next(ml, next);
        }
    }
}

/// Queues a G that lost its P while in a blocking call at the head of the
/// global queue, wakes a P, and if none is free asks the longest-running
/// slice to end (sysmon.rs `kick_longest_slice`). Go queues it at the tail
/// and lets it wait for slices to end; an I/O-bound G back from the kernel
/// needs the CPU briefly and should not wait behind CPU-bound ones (W8).
/// Several returning together run newest first: a small unfairness among
/// Gs that all just woke.
fn ready_after_call(g: GRef) {
    let s = sched();
    let mut l = s.lock.lock();
    l.glob.push_front(g);
    s.glob_len.store(l.glob.len(), Ordering::SeqCst);
    s.glob_urgent.fetch_add(1, Ordering::Relaxed);
    drop(l);
    wake_p();
    let _ = crate::sysmon::kick_longest_slice();
}

/// Requeues a runnable G on `p` (this M's P), or on the global queue when
/// the M has lost its P; wakes a P for it in the latter case.
fn put_back(p: Option<&'static P>, g: GRef, slot: Slot) {
    match p {
        Some(p) => {
            if let Some(batch) = p.runq_put(g, slot) {
                glob_runq_put_batch(batch);
            }
        }
        None => {
            glob_runq_put_batch([g]);
            wake_p();
        }
    }
}
