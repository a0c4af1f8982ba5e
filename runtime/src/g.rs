//! G — a goroutine: an entry closure until it first runs, then a stackful
//! coroutine (switch.rs) on a pooled stack (stack/mod.rs).
//!
//! A G is heap-allocated once at spawn and addressed by [`GRef`], a raw pointer.
//! Like Go's `*g`, exactly one party *owns* a G at any moment, and only the owner
//! may run it, queue it or free it:
//! - a run queue (a P's `runq`/`runnext`, or the global queue) while Runnable;
//! - the M that runs it (Running, stored in that M's `cur_g`);
//! - whoever completes its park handshake (see [`G::park_commit`] /
//!   [`G::ready_claim`]) while Waiting;
//! - the M that ran it to completion, which frees it (Dead).
//!
//! A `JoinHandle` never holds a `GRef`: it holds the result packet (goroutine/join.rs), so a
//! dead G can be freed at once.
//!
//! # Status edges (checked by [`G::transition`], Go's `casgstatus`)
//! ```text
//! Runnable -> Running          execute()
//! Running  -> Runnable         yield_now / preemption (requeued by the M)
//! Running  -> Waiting          park(): switched out, waiting for ready()
//! Waiting  -> Runnable         ready()
//! Running  -> Dead             the entry closure returned (or panicked)
//! ```
//!
//! # Park handshake (Go's gopark/goready without an unlock callback)
//! A G that parks first publishes itself to a waker (a wait queue, a join
//! packet), then switches to its M. The waker may call `ready()` before the
//! switch has finished. The `park` word settles the race with one atomic each:
//! the M, after the switch, CASes `RUNNING -> PARKED`; the waker swaps in
//! `NOTIFIED`. Whoever comes second owns the G and makes it runnable. So a park
//! consumes exactly one ready, and a ready never runs a G still on its stack.
//!
//! # What other threads may read (goroutine dumps, schedtrace)
//! Nothing in the G itself: a slot is reused by moving a whole new G into it
//! with a plain write (`GSlot::fill`), and a read racing with that write would
//! be a data race even on an atomic field. Each slot has instead a
//! [`GInfo`](crate::diag::allgs::GInfo), made with the slot and never freed, whose
//! fields are atomics guarded by a seqlock on the goid: `new_ref` fills it,
//! `free` retires it, park sites set the wait reason. The slot carries its
//! GInfo through the free lists, and fresh slots are listed once in Go's
//! `allgs`. The argument is written out in diag/allgs.rs.

use std::cell::Cell;
use std::panic::Location;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::diag::allgs::GInfo;
use crate::m::M;
use crate::switch::{GContext, GYielder};
use crate::testing::bubble::Bubble;
use crate::throw::throw;

/// Goroutine ids start at 1 like Go's (main is goroutine 1 under `#[gort::main]`).
static NEXT_GOID: AtomicU64 = AtomicU64::new(1);

/// A goroutine's scheduling state (Go's `_Grunnable`, `_Grunning`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum GStatus {
    /// On a run queue, not running.
    Runnable = 0,
    /// Running user code on an M.
    Running = 1,
    /// Parked: waiting for `ready()` (channel, join, sleep...).
    Waiting = 2,
    /// The entry closure has returned; the G is about to be freed.
    Dead = 3,
}

impl GStatus {
    fn from_u8(v: u8) -> GStatus {
        match v {
            0 => GStatus::Runnable,
            1 => GStatus::Running,
            2 => GStatus::Waiting,
            _ => GStatus::Dead,
        }
    }

    /// The edge table of the header.
    fn edge_ok(from: GStatus, to: GStatus) -> bool {
        use GStatus::*;
        matches!(
            (from, to),
            (Runnable, Running)
                | (Running, Runnable)
                | (Running, Waiting)
                | (Waiting, Runnable)
                | (Running, Dead)
        )
    }
}

/// Park word values (see the header).
const PARK_RUNNING: u8 = 0;
const PARK_PARKED: u8 = 1;
const PARK_NOTIFIED: u8 = 2;

/// A goroutine's body, type-erased (goroutine/join.rs `Task`): run once, at the root
/// of the G's stack; it never unwinds.
pub(crate) trait Entry: Send + Sync {
    fn run(&self);
}

/// What a G runs: its entry before the first run, its coroutine after.
pub(crate) enum GRun {
    /// Not started: an entry and no stack (lazy binding: docs/ARCHITECTURE.md,
    /// "Stacks").
    Fresh(std::sync::Arc<dyn Entry>),
    /// Started: suspended or running on its own stack.
    Started(GContext),
    /// Transitional: taken by the M that is running it.
    Empty,
}

/// Goroutines locked to their M by `lock_os_thread` (or a panic): Ms that
/// run nothing else. Relaxed: a statistic for `gort::metrics`.
static PINNED: AtomicUsize = AtomicUsize::new(0);

/// Ms pinned to a goroutine now.
pub(crate) fn pinned() -> usize {
    PINNED.load(Ordering::Relaxed)
}

/// A goroutine descriptor. Shared fields are atomics; `run` and `yielder`
/// belong to the G's owner (see the header) and are never touched concurrently.
pub(crate) struct G {
    /// Unique, never reused. Immutable.
    pub(crate) id: u64,
    /// GStatus as u8. Written by the owner; read by anyone (stats, dumps).
    status: AtomicU8,
    /// The park handshake word. AcqRel on both sides: the side that finishes the
    /// handshake acquires the other side's writes to the G.
    park: ParkWord,
    /// Optional name from `Builder::name`. Immutable.
    pub(crate) name: Option<std::sync::Arc<str>>,
    /// Requested stack size in bytes (rounded to pages). Immutable.
    pub(crate) stack_size: usize,
    /// Where `go!`/`spawn` was called. Immutable. Read by goroutine dumps.
    pub(crate) created_by: &'static Location<'static>,
    /// Owner-only: the closure or the coroutine.
    run: std::cell::UnsafeCell<GRun>,
    /// Owner-only, and only from the G's own stack: its corosensei yielder,
    /// set by the coroutine body when it first runs.
    yielder: Cell<*const GYielder>,
    /// Low address of the guard page below this G's stack; 0 until the G first
    /// runs. Set once by `execute` when it binds the stack; read by the
    /// SIGSEGV handler (stack/overflow.rs) on whichever M runs the G. Relaxed on both
    /// sides: the run queue that hands the G to that M orders the store first.
    stack_guard: AtomicUsize,
    /// One past the top of this G's stack; 0 until the G first runs. Set
    /// with `stack_guard`, read by the SIGURG handler (the end of its scan
    /// for allocator frames, sched/preempt.rs). Relaxed: as `stack_guard`.
    stack_hi: AtomicUsize,
    /// Owner-only. The M this G is locked to, or null: set by
    /// `lock_os_thread` (counted in `lock_count`) and by an asynchronous
    /// preemption (`async_locked`, until the G's next cooperative switch). A
    /// locked G runs only on that M, and that M runs nothing else (sched/handoff.rs
    /// `stop_locked_m` / `start_locked_m`, Go's lockedm).
    locked_m: Cell<Option<&'static M>>,
    /// Owner-only: `lock_os_thread` nesting.
    lock_count: Cell<u32>,
    /// Owner-only: transitions to Runnable so far, wrapping; every 8th is
    /// timed for the scheduling-latency histogram (Go's trackingSeq).
    track_seq: Cell<u8>,
    /// When a timed transition to Runnable happened (`time::nanotime`), 0
    /// if the current one is not timed. Owner-only, like the status.
    runnable_at: Cell<u64>,
    /// Owner-only: locked (one `lock_count`) because it reached a switch
    /// point while panicking (sched/mod.rs `switch_point`).
    panic_locked: Cell<bool>,
    /// Owner-only: locked by an asynchronous preemption.
    async_locked: Cell<bool>,
    /// Owner-only: spawned into `runnext` and displaced from it by a
    /// wake-up before it ran, so it starts whatever the preemption budget
    /// (sched/admit.rs).
    admitted: Cell<bool>,
    /// `no_preempt` nesting. Written by the G, read by the SIGURG handler on
    /// the same thread. Relaxed: same-thread accesses (signal-handler
    /// reentrancy), ordered by the compiler fences in sched/preempt.rs.
    pub(crate) no_preempt: AtomicU32,
    /// Owner-only, and only from the G's own stack: its goroutine-local
    /// values (`gort::local!`, goroutine/local.rs), dropped by its entry before it dies.
    pub(crate) locals: crate::goroutine::local::LocalMap,
    /// What diagnostics read about this G (header, diag/allgs.rs). The slot's,
    /// carried across reuse. Immutable.
    pub(crate) info: &'static GInfo,
    /// The virtual-time bubble this G belongs to (testing/bubble.rs), if
    /// any. Immutable: set at spawn, read by any thread that readies it.
    pub(crate) bubble: Option<std::sync::Arc<Bubble>>,
    /// Parked durably inside its bubble (counted out of the bubble's
    /// running goroutines). Relaxed: read and written only under the
    /// bubble's lock.
    bubble_blocked: AtomicBool,
}

// SAFETY: the non-Sync fields (`run`, `yielder`, `locals`) are touched only by the G's
// single owner (module header), and ownership passes between threads through a
// run queue, a lock or the AcqRel park handshake, all of which order the
// previous owner's writes before the next owner's reads.
unsafe impl Sync for G {}
// SAFETY: as above; the boxed closure is `Send`, the coroutine context is Send
// by switch.rs's argument, and the goroutine-local values are `Send`
// (LocalKey's bound) behind `Rc`s that only the owner clones (goroutine/local.rs).
unsafe impl Send for G {}

impl G {
    /// Makes a fresh G (Runnable, not started) for `f`, in a recycled slot
    /// when one is given (Go's gfget), else in a new allocation.
    pub(crate) fn new_ref(
        f: std::sync::Arc<dyn Entry>,
        name: Option<std::sync::Arc<str>>,
        stack_size: usize,
        created_by: &'static Location<'static>,
        slot: Option<GSlot>,
        bubble: Option<std::sync::Arc<Bubble>>,
    ) -> GRef {
        // Relaxed: only uniqueness matters.
        let id = NEXT_GOID.fetch_add(1, Ordering::Relaxed);
        let info = slot.as_ref().map_or_else(GInfo::new, |s| s.info);
        let parent = crate::m::current_g().map_or(0, |g| g.get().id);
        info.fill(id, parent, created_by, name.as_ref());
        let g = G {
            id,
            status: AtomicU8::new(GStatus::Runnable as u8),
            park: ParkWord::new(),
            name,
            stack_size,
            created_by,
            run: std::cell::UnsafeCell::new(GRun::Fresh(f)),
            yielder: Cell::new(std::ptr::null()),
            stack_guard: AtomicUsize::new(0),
            stack_hi: AtomicUsize::new(0),
            locked_m: Cell::new(None),
            lock_count: Cell::new(0),
            // Spread the sampled transitions over goroutines (Go starts
            // trackingSeq at random), so short-lived ones are timed too.
            track_seq: Cell::new((id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8),
            runnable_at: Cell::new(0),
            panic_locked: Cell::new(false),
            async_locked: Cell::new(false),
            admitted: Cell::new(false),
            no_preempt: AtomicU32::new(0),
            locals: crate::goroutine::local::LocalMap::new(),
            info,
            bubble,
            bubble_blocked: AtomicBool::new(false),
        };
        match slot {
            Some(slot) => slot.fill(g),
            None => {
                let g = GRef(NonNull::from(crate::slab::leak(g)));
                crate::diag::allgs::register(info, g.as_ptr() as usize);
                g
            }
        }
    }

    /// The current status. Acquire: pairs with the Release in `transition`.
    pub(crate) fn status(&self) -> GStatus {
        GStatus::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Moves the G along one edge of the status table; an illegal edge or a
    /// status other than `from` is a runtime bug and throws (Go's casgstatus).
    /// Only the G's owner changes its status (header), so a load and a store
    /// suffice: no locked read-modify-write on the scheduler's hot path.
    pub(crate) fn transition(&self, from: GStatus, to: GStatus) {
        if !GStatus::edge_ok(from, to) {
            throw("runtime: casgstatus: illegal goroutine status transition");
        }
        // Relaxed: the owner wrote the current value itself, or received the
        // G through a queue/lock/handshake that ordered that write before us.
        if self.status.load(Ordering::Relaxed) != from as u8 {
            throw("runtime: casgstatus: bad goroutine status");
        }
        // Release: pairs with the Acquire in `status()` (observers).
        self.status.store(to as u8, Ordering::Release);
        if to == GStatus::Runnable {
            self.track_runnable();
        } else if from == GStatus::Runnable && self.runnable_at.get() != 0 {
            let waited = crate::time::nanotime().saturating_sub(self.runnable_at.replace(0));
            crate::diag::metrics::record_latency(waited);
        }
    }

    /// Times every 8th transition to Runnable (Go samples the same way: a
    /// clock read on every switch would cost more than the histogram is
    /// worth).
    fn track_runnable(&self) {
        let seq = self.track_seq.get().wrapping_add(1);
        self.track_seq.set(seq);
        if seq.is_multiple_of(8) {
            self.runnable_at.set(crate::time::nanotime().max(1));
        }
    }

    /// Owner-only access to the run state.
    ///
    /// # Safety
    /// The caller must own the G (module header) and must not hold another
    /// reference obtained from this method.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn run_state(&self) -> &mut GRun {
        // SAFETY: exclusive by the caller's ownership contract.
        unsafe { &mut *self.run.get() }
    }

    /// The M this G is locked to, if any (owner-only).
    pub(crate) fn locked_m(&self) -> Option<&'static M> {
        self.locked_m.get()
    }

    /// Go's LockOSThread: lock to `m` (the M running this G), nested.
    pub(crate) fn lock_to(&self, m: &'static M) {
        if self.lock_count.get() == 0 {
            // Relaxed: a statistic.
            PINNED.fetch_add(1, Ordering::Relaxed);
        }
        self.lock_count.set(self.lock_count.get() + 1);
        self.locked_m.set(Some(m));
    }

    /// Go's UnlockOSThread: undo one `lock_to`; unlocks at zero unless an
    /// asynchronous preemption still holds the G on its M.
    pub(crate) fn unlock(&self) {
        let n = self.lock_count.get().saturating_sub(1);
        if n == 0 && self.lock_count.get() == 1 {
            // Relaxed: a statistic.
            PINNED.fetch_sub(1, Ordering::Relaxed);
        }
        self.lock_count.set(n);
        if n == 0 && !self.async_locked.get() {
            self.locked_m.set(None);
        }
    }

    /// Locks the G to `m` after an asynchronous preemption (owner-only).
    pub(crate) fn lock_async(&self, m: &'static M) {
        self.async_locked.set(true);
        self.locked_m.set(Some(m));
    }

    /// True while an asynchronous preemption holds the G on its M
    /// (owner-only).
    pub(crate) fn async_locked(&self) -> bool {
        self.async_locked.get()
    }

    /// True until the G first runs (it has no stack yet). Any thread.
    pub(crate) fn never_ran(&self) -> bool {
        self.stack_guard() == 0
    }

    /// Lets this G start whatever the preemption budget (owner-only).
    pub(crate) fn admit(&self) {
        self.admitted.set(true);
    }

    /// True if the budget may hold this G back: it has never run and was
    /// not admitted (owner-only).
    pub(crate) fn deferrable(&self) -> bool {
        self.never_ran() && !self.admitted.get()
    }

    /// True if the G's panic lock disagrees with `panicking` (owner-only).
    pub(crate) fn panic_lock_stale(&self, panicking: bool) -> bool {
        self.panic_locked.get() != panicking
    }

    /// Locks the G to `m` while it panics, or unlocks it once it no longer
    /// does (owner-only; sched/mod.rs `switch_point`).
    pub(crate) fn set_panic_lock(&self, m: &'static M, panicking: bool) {
        if self.panic_locked.replace(panicking) == panicking {
            return;
        }
        if panicking {
            self.lock_to(m);
        } else {
            self.unlock();
        }
    }

    /// The G reached a cooperative switch: an asynchronous lock ends.
    pub(crate) fn unlock_async(&self) {
        if self.async_locked.replace(false) && self.lock_count.get() == 0 {
            self.locked_m.set(None);
        }
    }

    /// A G that ends while locked to its M gives up its pin (owner-only).
    pub(crate) fn drop_pin(&self) {
        if self.lock_count.replace(0) > 0 {
            // Relaxed: a statistic.
            PINNED.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Marks the G durably blocked in its bubble or not; returns the old
    /// mark. Only under the bubble's lock.
    pub(crate) fn set_bubble_blocked(&self, blocked: bool) -> bool {
        // Relaxed: see the field.
        self.bubble_blocked.swap(blocked, Ordering::Relaxed)
    }

    /// Records the coroutine's yielder; called once by the coroutine body.
    pub(crate) fn set_yielder(&self, y: &GYielder) {
        self.yielder.set(y as *const GYielder);
    }

    /// Records the bounds of the stack just bound (sched/execute.rs `execute`): the
    /// guard page's low address and one past the top.
    pub(crate) fn set_stack_bounds(&self, guard_lo: usize, hi: usize) {
        // Relaxed: see the fields.
        self.stack_guard.store(guard_lo, Ordering::Relaxed);
        self.stack_hi.store(hi, Ordering::Relaxed);
    }

    /// One past the top of the stack, or 0 before the first run.
    /// Async-signal-safe.
    pub(crate) fn stack_hi(&self) -> usize {
        // Relaxed: see the field.
        self.stack_hi.load(Ordering::Relaxed)
    }

    /// The guard page's low address, or 0 before the first run. Async-signal-safe.
    pub(crate) fn stack_guard(&self) -> usize {
        // Relaxed: see the field.
        self.stack_guard.load(Ordering::Relaxed)
    }

    /// The yielder set by the coroutine body, for switching out from the G's
    /// own stack. Null before the first run.
    pub(crate) fn yielder(&self) -> *const GYielder {
        self.yielder.get()
    }

    /// M side of the park handshake, after the G has switched out. Returns
    /// true if the G is now parked (a later `ready` owns it), false if a
    /// `ready` already came: the caller still owns it and must make it runnable.
    pub(crate) fn park_commit(&self) -> bool {
        self.park.commit()
    }

    /// Waker side of the handshake. Returns true if the caller now owns the
    /// parked G and must make it runnable; false if the G had not finished
    /// switching out (its M will requeue it).
    pub(crate) fn ready_claim(&self) -> bool {
        self.park.claim()
    }
}

/// The park handshake word (module header): `PARK_RUNNING`, `PARK_PARKED`
/// or `PARK_NOTIFIED`. Its own type so that the loom model below checks
/// this very code.
pub(crate) struct ParkWord(crate::loom::AtomicU8);

impl ParkWord {
    pub(crate) fn new() -> ParkWord {
        ParkWord(crate::loom::AtomicU8::new(PARK_RUNNING))
    }

    /// `G::park_commit`.
    #[inline]
    fn commit(&self) -> bool {
        // AcqRel: Release publishes the switched-out G to the waker that later
        // swaps; Acquire (on failure, via the swap below) sees the waker's writes.
        match self.0.compare_exchange(
            PARK_RUNNING,
            PARK_PARKED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => true,
            Err(PARK_NOTIFIED) => {
                // Relaxed: we own the G again; the next handshake starts from here.
                self.0.store(PARK_RUNNING, Ordering::Relaxed);
                false
            }
            Err(_) => throw("runtime: park_commit: bad park state"),
        }
    }

    /// `G::ready_claim`.
    #[inline]
    fn claim(&self) -> bool {
        // AcqRel: pairs with the CAS in commit.
        match self.0.swap(PARK_NOTIFIED, Ordering::AcqRel) {
            PARK_PARKED => {
                // Relaxed: we own the G; the store is published by the run
                // queue push that follows.
                self.0.store(PARK_RUNNING, Ordering::Relaxed);
                true
            }
            PARK_RUNNING => false,
            _ => throw("runtime: goready: goroutine readied twice"),
        }
    }
}

/// A pointer to a live G. Copyable; ownership is the protocol of the header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct GRef(NonNull<G>);

// SAFETY: a GRef is a pointer to a Sync G; moving it between threads moves the
// ownership token, which the header's protocol serialises.
unsafe impl Send for GRef {}
// SAFETY: as above; `&GRef` only reads the pointer.
unsafe impl Sync for GRef {}

impl GRef {
    /// The G itself.
    pub(crate) fn get(&self) -> &G {
        // SAFETY: a G is freed only by `free`, called by the M that ran it to
        // Dead; at that point no other GRef to it exists (run queues and
        // waiters hold only Runnable or Waiting Gs, and a G reaches Dead only
        // while Running). So every GRef reachable here points to a live G.
        unsafe { self.0.as_ref() }
    }

    /// Raw pointer, for `runnext` and `cur_g`.
    pub(crate) fn as_ptr(self) -> *mut G {
        self.0.as_ptr()
    }

    /// Rebuilds a GRef from `as_ptr`; None for null.
    pub(crate) fn from_ptr(p: *mut G) -> Option<GRef> {
        NonNull::new(p).map(GRef)
    }

    /// Frees a Dead G: drops its contents and returns its memory as a slot
    /// for reuse (Go's gfput).
    ///
    /// # Safety
    /// The caller owns the G, its status is Dead, and no other GRef to it is
    /// used afterwards.
    pub(crate) unsafe fn free(self) -> GSlot {
        debug_assert_eq!(self.get().status(), GStatus::Dead);
        let info = self.get().info;
        info.retire();
        // SAFETY: by the caller's contract the G is dropped exactly once and
        // never read again through a GRef; the memory stays allocated and
        // passes to the GSlot.
        unsafe { std::ptr::drop_in_place(self.0.as_ptr()) };
        GSlot { g: self.0, info }
    }
}

/// The memory of a freed G, kept for reuse (an entry of Go's gFree list),
/// with the slot's diagnostics record (retired until the slot is reused).
/// Invariant: `g` points to slab memory (slab.rs, never freed) sized and
/// aligned for a G, whose contents have been dropped; only this value refers
/// to it. A dropped slot is leaked, and its GInfo stays listed, retired,
/// forever (slots are never dropped in practice: the gFree lists live as
/// long as the Ps).
pub(crate) struct GSlot {
    g: NonNull<G>,
    info: &'static GInfo,
}

// SAFETY: a GSlot is the sole owner of plain memory (no live contents).
unsafe impl Send for GSlot {}

impl GSlot {
    /// Moves `g` into the slot.
    fn fill(self, g: G) -> GRef {
        let p = self.g;
        // SAFETY: the slot's memory is a live allocation sized and aligned for
        // a G, with no contents to drop (GSlot invariant), owned by us alone.
        unsafe { p.as_ptr().write(g) };
        GRef(p)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn status_edges_match_the_table() {
        use GStatus::*;
        assert!(GStatus::edge_ok(Runnable, Running));
        assert!(GStatus::edge_ok(Waiting, Runnable));
        assert!(!GStatus::edge_ok(Runnable, Waiting));
        assert!(!GStatus::edge_ok(Dead, Running));
        assert!(!GStatus::edge_ok(Waiting, Running));
    }

    struct Nop;
    impl Entry for Nop {
        fn run(&self) {}
    }

    pub(crate) fn nop() -> std::sync::Arc<dyn Entry> {
        std::sync::Arc::new(Nop)
    }

    /// A fresh G that does nothing, in a new slot and no bubble.
    pub(crate) fn test_g() -> GRef {
        G::new_ref(nop(), None, 0, Location::caller(), None, None)
    }

    #[test]
    fn park_handshake_either_order() {
        let g = test_g();
        // ready before the M commits: the M keeps ownership.
        assert!(!g.get().ready_claim());
        assert!(!g.get().park_commit());
        // commit first: the waker takes ownership.
        assert!(g.get().park_commit());
        assert!(g.get().ready_claim());
        g.get().transition(GStatus::Runnable, GStatus::Running);
        g.get().transition(GStatus::Running, GStatus::Dead);
        // SAFETY: we own the G, it is Dead and not used again.
        let slot = unsafe { g.free() };
        let g2 = G::new_ref(nop(), None, 0, Location::caller(), Some(slot), None);
        assert_eq!(g2.as_ptr(), g.as_ptr(), "the slot is reused");
        assert_eq!(g2.get().status(), GStatus::Runnable);
    }
}

/// Model checks of the park handshake (runtime/src/loom.rs).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// The M finishing a park races the waker's ready. Exactly one side owns
    /// the G afterwards (no lost wake-up: someone requeues it; no double
    /// run: not both), and the owner sees what the other side wrote before
    /// its step: the G's state written before the switch (the waker reads
    /// it), or the value a waker leaves for the G (the M's side reads it).
    /// loom reports any unordered access to the cells as a data race.
    /// Caught: `commit`'s CAS with Relaxed instead of AcqRel (the waker
    /// reads the G's state unordered); `claim`'s swap with Relaxed (the M
    /// reads the waker's value unordered); `claim` storing NOTIFIED without
    /// looking at what was there (both sides own the G).
    #[test]
    fn loom_park_races_ready() {
        loom::model(|| {
            let word = Arc::new(ParkWord::new());
            let g_state = Arc::new(UnsafeCell::new(0u32));
            let handed = Arc::new(UnsafeCell::new(0u32));
            let waker = {
                let (word, g_state, handed) = (word.clone(), g_state.clone(), handed.clone());
                thread::spawn(move || {
                    // The value a waker hands over (a channel's sudog slot).
                    // SAFETY: loom checks this access (the model's point).
                    handed.with_mut(|p| unsafe { *p = 7 });
                    if word.claim() {
                        // SAFETY: as above.
                        g_state.with(|p| assert_eq!(unsafe { *p }, 1));
                        true
                    } else {
                        false
                    }
                })
            };
            // The G's last write before it switched out.
            // SAFETY: loom checks this access (the model's point).
            g_state.with_mut(|p| unsafe { *p = 1 });
            let m_owns = !word.commit();
            if m_owns {
                // SAFETY: as above.
                handed.with(|p| assert_eq!(unsafe { *p }, 7));
            }
            let waker_owns = waker.join().unwrap();
            assert!(m_owns != waker_owns, "owned by both or by neither");
        });
    }
}
