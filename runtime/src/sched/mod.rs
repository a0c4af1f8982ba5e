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
//! 0. run the earliest timer if it is due (time/timers.rs, Go's checkTimers): a G
//!    it readies goes to this P's runnext;
//! 1. every 61st schedtick, one G from the global queue first (fairness: two
//!    Gs re-readying each other locally cannot starve it);
//! 2. the P's `runnext`, then its local queue;
//! 3. the global queue (a batch: len/GOMAXPROCS + 1, into the local queue);
//!    then (3b) netpoll without blocking, if Gs wait on I/O and no M blocks
//!    in the poller (io/netpoll.rs); the Gs it readies are injected
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
//! argument in io/netpoll.rs.
//!
//! # Ownership of a G across these steps
//! See g.rs: queues own runnable Gs, the M owns the G it runs, the park
//! handshake hands a waiting G to whoever readies it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::lock::Mutex;

use crate::config::{Config, MAX_GOMAXPROCS};
pub(crate) use crate::diag::allgs::WaitReason;
use crate::g::{GRef, GSlot, GStatus};
use crate::m::{self, MLocal, M};
use crate::p::{PStatus, Slot, P};
use crate::switch::{self, Switch};
use crate::throw::throw;

mod admit;
mod alloc_probe;
pub(crate) mod deadlock;
mod execute;
mod globrunq;
mod handoff;
pub(crate) mod kick;
pub(crate) mod maxprocs;
pub(crate) mod preempt;
mod schedule;
mod symtab;
pub mod syscall;
pub(crate) mod sysmon;

use admit::AdmitQueue;
use globrunq::glob_runq_put_batch;
pub(crate) use handoff::handoff_p;
pub use handoff::set_max_threads;
use handoff::{acquire_p, pidle_get, start_m};
pub use preempt::no_preempt;

/// Go's fairness tick: every 61st schedtick the global queue goes first.
pub(crate) const GLOBAL_RUNQ_FAIRNESS_TICK: u32 = 61;

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
    /// (time/timers.rs `nanotime`): its age clock (sched/admit.rs). Relaxed: a hint.
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
    /// Blocking calls entered (sched/syscall.rs).
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
        crate::goroutine::spawn::install_panic_hook();
        let cfg = Config::from_env();
        crate::sched::preempt::init(&cfg);
        maxprocs::init(&cfg);
        crate::diag::init_diagnostics();
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
    pub(crate) fn snapshot(&self) -> crate::diag::stats::Stats {
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
        crate::diag::stats::Stats {
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
            timers: crate::time::live_timers(),
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
    runq_put_on(rs.as_ref().and_then(|rs| rs.ml().p.get()), g, slot);
}

/// Puts a runnable G on `p` (what overflows its local queue goes to the
/// global one), or on the global queue when there is no P.
fn runq_put_on(p: Option<&P>, g: GRef, slot: Slot) {
    match p {
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
    if !ready_claim(g) {
        // The G has not finished switching out; its M requeues it.
        return;
    }
    g.get().info.clear_waiting();
    g.get().transition(GStatus::Waiting, GStatus::Runnable);
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
        if !ready_claim(*g) {
            return false;
        }
        g.get().info.clear_waiting();
        g.get().transition(GStatus::Waiting, GStatus::Runnable);
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

/// The waker's half of the park handshake; in a virtual-time bubble it
/// also counts the G as running again (testing/bubble.rs).
#[inline]
fn ready_claim(g: GRef) -> bool {
    match &g.get().bubble {
        None => g.get().ready_claim(),
        Some(b) => b.ready_claim(g.get()),
    }
}

/// Go's gopark: parks the running G until someone calls `ready` on it. Must
/// be called on a goroutine. Consumes exactly one `ready` (g.rs handshake);
/// the caller re-checks its condition after it returns. `reason` is what
/// goroutine dumps show while it waits (diag/allgs.rs; `ready` clears it, and so
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
    if stop_spinning(ml) {
        wake_p();
    }
}

/// This M stops spinning, if it was; true if it was. SeqCst decrement: the
/// spinner's store of the StoreLoad pair (header).
fn stop_spinning(ml: &MLocal) -> bool {
    if !ml.spinning.replace(false) {
        return false;
    }
    if sched().nmspinning.fetch_sub(1, Ordering::SeqCst) == 0 {
        throw("runtime: negative nmspinning");
    }
    true
}
