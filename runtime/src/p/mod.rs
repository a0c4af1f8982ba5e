//! P — a processor: the right to run goroutines. An M must hold a P to run a G
//! (life cycle in sched/mod.rs). There are GOMAXPROCS of them. Each P owns a FIFO
//! local run queue (p/runq.rs, Go's fixed ring of 256) plus a `runnext` slot: a G readied
//! or spawned by the running G goes to `runnext` and runs next, inheriting the
//! time slice, so that send/recv and spawn/join pairs run back to back.
//!
//! # Ownership
//! A P is held by at most one M at a time; holding it is a logical token passed
//! through the idle-P list or an M's wake-up slot (sched/mod.rs, m.rs), both under a
//! lock, which orders the previous holder's writes before the next one's reads.
//! - `runq` push/pop and `stack_cache`: only the holder. Steal: any M
//!   (lock-free: a CAS on the ring's head, p/runq.rs).
//! - `runnext`: only the holder stores a G; the holder or a thief takes it (swap).
//! - `schedtick`: written by the holder, read by anyone (Relaxed; sysmon and
//!   stats only compare).
//! - `status`: written by the holder or under the sched lock; the one
//!   contended edge, Syscall -> Running (the M is back) vs Syscall -> Idle
//!   (sysmon retakes), is a CAS.
//!
//! The local queue is bounded at 256 as in Go: a full queue moves its older
//! half plus the new G to the global queue (Go's runqputslow). Thieves take
//! half, at most 128. (Why not crossbeam-deque: p/runq.rs.)
//!
//! # Go names
//! runqput -> [`P::runq_put`], runqget -> [`P::runq_get`], runqsteal ->
//! [`P::runq_steal`], runqempty -> [`P::runq_empty`].
//!
//! # Rejected
//! A single global queue: every spawn would contend on one lock (proc.go header).

use std::cell::RefCell;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::loom::AtomicPtr as CheckedAtomicPtr;

use crate::g::{GRef, GSlot, G};
use crate::m::M;
use crate::stack::{self, GStack};

mod runq;

use runq::RunQ;
pub(crate) use runq::LOCAL_RUNQ_CAP;

/// How long a thief waits before taking a running P's runnext (Go: 3 µs).
const RUNNEXT_GRACE: std::time::Duration = std::time::Duration::from_micros(3);
/// Stacks of the default size cached per P before spilling to the global pool.
const STACK_CACHE_MAX: usize = 64;
/// How many stacks a P takes from the global pool at once.
const STACK_CACHE_REFILL: usize = 16;
/// Freed G slots kept per P (Go's p.gFree) before half go to the global list.
const GFREE_MAX: usize = 64;

/// Where `runq_put` places a G.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// The `runnext` slot: runs next, inheriting the time slice.
    Next,
    /// `runnext` for a G just woken (Go's goready): a G displaced from the
    /// slot that has never run keeps the standing it had there, to start
    /// whatever the preemption budget (`G::admitted`, sched/admit.rs).
    Wake,
    /// The tail of the local queue.
    Tail,
}

/// A P's status (Go's `_Pidle`, `_Prunning`, `_Psyscall`, `_Pdead`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PStatus {
    /// On the idle list.
    Idle = 0,
    /// Held by an M.
    Running = 1,
    /// Beyond GOMAXPROCS after a shrink; its queues are empty.
    Dead = 2,
    /// Its M is in a blocking call (sched/syscall.rs). Nobody uses it; sysmon may
    /// take it (CAS to Idle) and hand it off, or the M takes it back (CAS to
    /// Running) when the call returns.
    Syscall = 3,
}

/// A processor. Lives for the whole process (allocated once, never freed).
pub(crate) struct P {
    /// Index in `allp`. Immutable.
    pub(crate) id: usize,
    /// Holder pushes and pops; any thread steals (p/runq.rs).
    runq: RunQ,
    /// Holder stores; holder or thief swaps out. AcqRel swaps publish the G.
    runnext: CheckedAtomicPtr<G>,
    /// Incremented by the holder on each new time slice. Relaxed everywhere:
    /// read by sysmon/stats, which only compare values.
    pub(crate) schedtick: AtomicU32,
    /// PStatus as u8; written under the sched lock or by the holder (Release),
    /// read with Acquire; Syscall -> Running/Idle is a CAS (see the header).
    status: AtomicU8,
    /// Gs this P has executed (stats). Relaxed: statistics only.
    pub(crate) ran: AtomicU64,
    /// Holder only: cached stacks of the default size.
    stack_cache: RefCell<Vec<GStack>>,
    /// Holder only: freed G slots for reuse (Go's p.gFree).
    gfree: RefCell<Vec<GSlot>>,
    /// The M holding this P, or null (Go's p.m). Written by acquire/release
    /// (sched/mod.rs); read by sysmon to find whom to preempt. Relaxed: a stale
    /// M gets a signal for a slice it is not running, which it ignores.
    holder: AtomicPtr<M>,
    /// Asynchronous preemptions of Gs on this P (stats). Relaxed.
    pub(crate) preemptions: AtomicU64,
    /// The slice sysmon last saw start on this P, packed in one word so a
    /// reader never pairs one slice's tick with another's start: schedtick
    /// in the high 32 bits, when (time/timers.rs `nanos` / 1000, microseconds,
    /// wrapping) in the low 32. Written by sysmon only; read by an M whose G
    /// came back from a blocking call without a P, to pick whom to preempt
    /// (sched/kick.rs `kick_longest_slice`). Relaxed: a hint; a stale word asks
    /// a finished slice to stop, which `preempt_m`'s tick check turns away.
    pub(crate) seen: AtomicU64,
    /// schedtick + 1 of a slice `kick_longest_slice` asked to end, else 0:
    /// sysmon keeps asking, as for an overrun, until that slice ends (a
    /// signal that finds no safe point is dropped). Relaxed: a hint.
    pub(crate) kick_tick: AtomicU64,
    /// Incremented by the holder at each blocking call (Go's syscalltick);
    /// sysmon compares it to see one call last. Relaxed: compared only.
    pub(crate) syscalltick: AtomicU32,
}

// SAFETY: the non-Sync fields (`stack_cache`, `gfree`) are used only by
// the M holding this P (module header); the hold passes between threads under
// a lock, which orders the accesses.
unsafe impl Sync for P {}

impl P {
    /// A new, idle P.
    pub(crate) fn new(id: usize) -> P {
        P {
            id,
            runq: RunQ::new(),
            runnext: CheckedAtomicPtr::new(std::ptr::null_mut()),
            schedtick: AtomicU32::new(0),
            status: AtomicU8::new(PStatus::Idle as u8),
            ran: AtomicU64::new(0),
            stack_cache: RefCell::new(Vec::new()),
            gfree: RefCell::new(Vec::new()),
            holder: AtomicPtr::new(std::ptr::null_mut()),
            preemptions: AtomicU64::new(0),
            syscalltick: AtomicU32::new(0),
            seen: AtomicU64::new(u64::MAX),
            kick_tick: AtomicU64::new(0),
        }
    }

    /// Records the M that now holds this P (null when released).
    pub(crate) fn set_holder(&self, m: Option<&M>) {
        let ptr = m.map_or(std::ptr::null_mut(), |m| m as *const M as *mut M);
        // Relaxed: see the field.
        self.holder.store(ptr, Ordering::Relaxed);
    }

    /// The M holding this P, if any (a snapshot).
    pub(crate) fn holder(&self) -> Option<&'static M> {
        // Relaxed: see the field.
        let m = self.holder.load(Ordering::Relaxed);
        // SAFETY: the pointer came from an `Arc<M>` owned by that M's leaked
        // MLocal (m.rs): Ms are never freed, so it stays valid forever.
        unsafe { m.cast_const().as_ref() }
    }

    pub(crate) fn status(&self) -> PStatus {
        // Acquire: pairs with the Release in set_status / cas_status.
        match self.status.load(Ordering::Acquire) {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            3 => PStatus::Syscall,
            _ => PStatus::Dead,
        }
    }

    pub(crate) fn set_status(&self, s: PStatus) {
        // Release: pairs with the Acquire in `status`/`cas_status` (a P left
        // in Syscall is taken by CAS from another thread).
        self.status.store(s as u8, Ordering::Release);
    }

    /// Moves the status from `from` to `to` if it is still `from`: the race
    /// between an M leaving a blocking call and sysmon retaking its P.
    pub(crate) fn cas_status(&self, from: PStatus, to: PStatus) -> bool {
        // AcqRel: the winner takes the P with the loser's writes to it.
        self.status
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Puts `g` on this P (holder only). `Slot::Next` kicks any previous
    /// `runnext` G to the tail. Returns Gs that overflowed (older half of a
    /// full queue, plus the G being put): the caller moves them to the global
    /// queue (Go's runqputslow).
    #[doc(alias = "runqput")]
    pub(crate) fn runq_put(&self, g: GRef, slot: Slot) -> Option<Vec<GRef>> {
        let g = match slot {
            Slot::Next | Slot::Wake => {
                // AcqRel: Release publishes `g` to a thief's swap; Acquire
                // takes back ownership of the previous occupant.
                let old = GRef::from_ptr(self.runnext.swap(g.as_ptr(), Ordering::AcqRel))?;
                if slot == Slot::Wake && old.get().never_ran() {
                    old.get().admit();
                }
                old
            }
            Slot::Tail => g,
        };
        let mut g = g;
        loop {
            match self.runq.push(g) {
                Ok(()) => return None,
                Err(back) => g = back,
            }
            let mut batch = Vec::with_capacity(LOCAL_RUNQ_CAP / 2 + 1);
            if self.runq.take_half(&mut batch) {
                batch.push(g);
                return Some(batch);
            }
        }
    }

    /// Takes the next G to run (holder only): `runnext` first, then the queue.
    /// The bool is true when the G came from `runnext` and inherits the time
    /// slice (Go's inheritTime).
    #[doc(alias = "runqget")]
    pub(crate) fn runq_get(&self) -> Option<(GRef, bool)> {
        if let Some(g) = self.runnext_take() {
            return Some((g, true));
        }
        self.runq_pop().map(|g| (g, false))
    }

    /// Takes the `runnext` G (holder only).
    pub(crate) fn runnext_take(&self) -> Option<GRef> {
        // Relaxed pre-check avoids a write on the common empty case; the swap
        // (AcqRel, pairs with runq_put) takes ownership.
        if self.runnext.load(Ordering::Relaxed).is_null() {
            return None;
        }
        GRef::from_ptr(self.runnext.swap(std::ptr::null_mut(), Ordering::AcqRel))
    }

    /// Takes the head of the local queue (holder only).
    pub(crate) fn runq_pop(&self) -> Option<GRef> {
        self.runq.pop()
    }

    /// Pushes a batch taken from the global queue (holder only); the caller
    /// keeps the batch within the capacity.
    pub(crate) fn runq_push_batch(&self, gs: impl IntoIterator<Item = GRef>) {
        for g in gs {
            if self.runq.push(g).is_err() {
                crate::throw::throw("runtime: runq_push_batch beyond the queue's capacity");
            }
        }
    }

    /// Free slots in the local queue (holder only).
    pub(crate) fn runq_free(&self) -> usize {
        self.runq.free()
    }

    /// Steals about half of `victim`'s queue into this P (the caller holds
    /// this P) and returns one G to run. If the queue is empty and
    /// `take_runnext`, takes the victim's `runnext` instead.
    #[doc(alias = "runqsteal")]
    pub(crate) fn runq_steal(&self, victim: &P, take_runnext: bool) -> Option<GRef> {
        if let Some(g) = victim.runq.steal_into(&self.runq) {
            return Some(g);
        }
        if take_runnext && !victim.runnext.load(Ordering::Relaxed).is_null() {
            if victim.status() == PStatus::Running {
                // Go's runqgrab: a running P that just readied a G into
                // runnext (a send/recv partner) is about to switch to it;
                // give it 3 µs before taking it, or the pair splits across
                // threads and every hop costs a wake-up (W3 at P=2).
                std::thread::sleep(RUNNEXT_GRACE);
                if victim.runnext.load(Ordering::Relaxed).is_null() {
                    return None;
                }
            }
            // AcqRel: pairs with the victim's runq_put; we take ownership.
            let g = victim.runnext.swap(std::ptr::null_mut(), Ordering::AcqRel);
            return GRef::from_ptr(g);
        }
        None
    }

    /// True if this P has no queued G (any thread; a snapshot).
    #[doc(alias = "runqempty")]
    pub(crate) fn runq_empty(&self) -> bool {
        // Relaxed/snapshot: callers that need a StoreLoad order issue their own
        // SeqCst fence first (see sched/mod.rs, spinning protocol).
        // Go's runqempty: re-read until `runnext` was seen between two equal
        // reads of the tail, or a G kicked from runnext to the ring (and
        // runnext then emptied) could slip between the two looks.
        loop {
            let (h, t) = self.runq.ends();
            let next = self.runnext.load(Ordering::Acquire);
            if self.runq.ends().1 == t {
                return h == t && next.is_null();
            }
        }
    }

    /// Number of queued Gs (any thread; a snapshot), runnext included.
    pub(crate) fn runq_len(&self) -> usize {
        self.runq.len() + usize::from(!self.runnext.load(Ordering::Relaxed).is_null())
    }

    /// A stack of `size` bytes (holder only): from this P's cache for the
    /// default size, else from the global pool (stack/mod.rs).
    pub(crate) fn stack_get(&self, size: usize, default_size: usize) -> std::io::Result<GStack> {
        if size != default_size {
            let mut v = Vec::with_capacity(1);
            stack::stack_alloc_batch(size, 1, &mut v)?;
            return Ok(v.pop().expect("stack_alloc_batch returns at least one"));
        }
        let mut cache = self.stack_cache.borrow_mut();
        if cache.is_empty() {
            stack::stack_alloc_batch(size, STACK_CACHE_REFILL, &mut cache)?;
        }
        Ok(cache.pop().expect("refilled above"))
    }

    /// Returns a stack (holder only); spills half the cache when it is full.
    pub(crate) fn stack_put(&self, s: GStack, default_size: usize) {
        if s.size() != default_size {
            stack::stack_free_batch([s]);
            return;
        }
        let mut cache = self.stack_cache.borrow_mut();
        cache.push(s);
        if cache.len() > STACK_CACHE_MAX {
            let keep = STACK_CACHE_MAX / 2;
            stack::stack_free_batch(cache.drain(keep..));
        }
    }

    /// Keeps a freed G slot (holder only, Go's gfput). Returns a batch to
    /// move to the global list when the local one is full.
    #[doc(alias = "gfput")]
    pub(crate) fn gfree_put(&self, slot: GSlot) -> Option<Vec<GSlot>> {
        let mut l = self.gfree.borrow_mut();
        l.push(slot);
        if l.len() > GFREE_MAX {
            return Some(l.split_off(GFREE_MAX / 2));
        }
        None
    }

    /// Takes a freed G slot (holder only, Go's gfget); `refill` supplies a
    /// batch from the global list when the local one is empty.
    #[doc(alias = "gfget")]
    pub(crate) fn gfree_get(&self, refill: impl FnOnce(usize) -> Vec<GSlot>) -> Option<GSlot> {
        let mut l = self.gfree.borrow_mut();
        if l.is_empty() {
            l.extend(refill(GFREE_MAX / 2));
        }
        l.pop()
    }

    /// Empties this P's queues and caches into `out` and the global stack
    /// pool (holder only), when the P is destroyed by a GOMAXPROCS shrink.
    pub(crate) fn drain_all(&self, out: &mut Vec<GRef>) {
        while let Some((g, _)) = self.runq_get() {
            out.push(g);
        }
        stack::stack_free_batch(self.stack_cache.borrow_mut().drain(..));
    }
}

/// The P behind a pointer taken from `&'static P` (an M's `released_p`).
pub(crate) fn p_from_ptr(p: *mut P) -> Option<&'static P> {
    // SAFETY: every P lives in sched's leaked `allp` table and is never
    // freed; the only pointers stored are of such Ps.
    unsafe { p.cast_const().as_ref() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> GRef {
        crate::g::tests::test_g()
    }

    #[test]
    fn runnext_runs_first_and_kicks_to_tail() {
        let p = P::new(0);
        let (a, b, c) = (g(), g(), g());
        assert!(p.runq_put(a, Slot::Tail).is_none());
        assert!(p.runq_put(b, Slot::Next).is_none());
        assert!(p.runq_put(c, Slot::Next).is_none()); // b kicked to tail
        assert_eq!(p.runq_get(), Some((c, true)));
        assert_eq!(p.runq_get(), Some((a, false)));
        assert_eq!(p.runq_get(), Some((b, false)));
        assert_eq!(p.runq_get(), None);
        assert!(p.runq_empty());
    }

    #[test]
    fn full_queue_overflows_half_plus_one() {
        let p = P::new(0);
        let gs: Vec<GRef> = (0..LOCAL_RUNQ_CAP + 1).map(|_| g()).collect();
        for x in &gs[..LOCAL_RUNQ_CAP] {
            assert!(p.runq_put(*x, Slot::Tail).is_none());
        }
        let spilled = p
            .runq_put(gs[LOCAL_RUNQ_CAP], Slot::Tail)
            .expect("overflow");
        assert_eq!(spilled.len(), LOCAL_RUNQ_CAP / 2 + 1);
        assert_eq!(spilled[0], gs[0]); // the older half goes
        assert_eq!(p.runq_len(), LOCAL_RUNQ_CAP / 2);
    }

    #[test]
    fn steal_takes_about_half() {
        let (victim, thief) = (P::new(0), P::new(1));
        for _ in 0..100 {
            victim.runq_put(g(), Slot::Tail);
        }
        let got = thief.runq_steal(&victim, false).expect("stole one");
        let _ = got;
        let moved = thief.runq_len() + 1;
        assert!((40..=60).contains(&moved), "moved {moved}");
        assert_eq!(victim.runq_len() + moved, 100);
    }
}

/// Model check of `runnext` against a thief (runtime/src/loom.rs), on a
/// real P whose ring and `runnext` use loom's atomics.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use runq::loom_tests::{exactly_once, gs};

    /// Everything a P holds, in the order its holder would run it.
    fn drain(p: &P) -> Vec<usize> {
        std::iter::from_fn(|| p.runq_get().map(|(g, _)| g.as_ptr() as usize)).collect()
    }

    /// The holder readies two Gs into `runnext` (the second kicks the first
    /// to the ring), then runs what it has, while an idle P steals from it
    /// (the ring, else `runnext`): every G runs exactly once.
    /// Caught: `runq_steal` taking `runnext` with a load and a store instead
    /// of the swap (the holder and the thief both take the same G).
    #[test]
    fn loom_runnext_against_a_thief() {
        let g = gs();
        loom::model(move || {
            let victim = Arc::new(P::new(0));
            let thief = {
                let victim = victim.clone();
                loom::thread::spawn(move || {
                    let me = P::new(1);
                    let first = me.runq_steal(&victim, true);
                    let mut got: Vec<usize> = first.iter().map(|g| g.as_ptr() as usize).collect();
                    got.extend(drain(&me));
                    got
                })
            };
            assert!(victim.runq_put(g[0], Slot::Next).is_none());
            assert!(victim.runq_put(g[1], Slot::Next).is_none());
            let mut taken = drain(&victim);
            taken.extend(thief.join().unwrap());
            exactly_once(taken, &g[..2]);
        });
    }
}
