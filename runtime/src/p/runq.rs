//! runq — a P's local run queue, as Go builds it (proc.go runqput, runqget,
//! runqgrab, runqsteal): a fixed ring of 256 G pointers, a `tail` only the
//! P's holder advances, and a `head` that consumers — the holder taking its
//! next G, thieves taking half — advance by compare-and-swap.
//!
//! # Why not crossbeam-deque
//! The ring is not crossbeam-deque's Worker/Stealer: profiles of W2 (skynet)
//! showed that deque's costs on exactly our pattern: the Worker resizes its
//! buffer as the length crosses 64/128/256 (a malloc, a copy, and the old
//! buffer handed to crossbeam-epoch, whose garbage bags are large allocations
//! that make glibc consolidate every fastbin: `malloc_consolidate` 3.3% of
//! W2), and a FIFO pop is a SeqCst read-modify-write plus an epoch pin on
//! steals. Go's ring never allocates; a bounded queue of 256 is what we
//! needed anyway.
//!
//! # Orderings
//! - The holder writes a slot (Relaxed) and then publishes it with a Release
//!   store of `tail`; consumers load `tail` with Acquire before reading slots.
//! - A consumer reads its slots (Relaxed) and then commits with a Release CAS
//!   of `head`; the holder loads `head` with Acquire before reusing a slot,
//!   so a slot is never overwritten before the consumer that read it is done.
//! - A consumer whose CAS fails read nothing it keeps: it retries. Slots are
//!   atomics, so such a stale read is no data race. Indices wrap (u32), as
//!   in Go; the queue never holds more than 256, so differences are exact.

use std::sync::atomic::Ordering;

use crate::g::{GRef, G};
use crate::loom::{AtomicPtr, AtomicU32};
use crate::throw::throw;

/// Go's local run queue capacity (4 in the loom models, so that a few
/// operations reach a full ring).
pub(crate) const LOCAL_RUNQ_CAP: usize = if cfg!(loom) { 4 } else { 256 };
const CAP: u32 = LOCAL_RUNQ_CAP as u32;

/// The ring. Invariant: `tail - head <= CAP` (wrapping), and the slots in
/// `head..tail` hold the queued Gs in FIFO order.
pub(crate) struct RunQ {
    /// Next slot to consume. Any thread, by CAS (Release).
    head: AtomicU32,
    /// Next slot to fill. Stored only by the holder (Release).
    tail: AtomicU32,
    buf: [AtomicPtr<G>; LOCAL_RUNQ_CAP],
}

impl RunQ {
    pub(crate) fn new() -> RunQ {
        RunQ {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        }
    }

    fn slot(&self, i: u32) -> &AtomicPtr<G> {
        &self.buf[(i % CAP) as usize]
    }

    /// Go's runqput fast path (holder only): `Err(g)` if the ring is full.
    pub(crate) fn push(&self, g: GRef) -> Result<(), GRef> {
        let h = self.head.load(Ordering::Acquire);
        // Relaxed: only this thread stores `tail`.
        let t = self.tail.load(Ordering::Relaxed);
        if t.wrapping_sub(h) >= CAP {
            return Err(g);
        }
        self.slot(t).store(g.as_ptr(), Ordering::Relaxed);
        self.tail.store(t.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Go's runqputslow (holder only, the ring full): takes the older half
    /// into `out`, oldest first. False if a thief got there first (the ring
    /// is no longer full: push again).
    pub(crate) fn take_half(&self, out: &mut Vec<GRef>) -> bool {
        let h = self.head.load(Ordering::Acquire);
        let t = self.tail.load(Ordering::Relaxed);
        let n = t.wrapping_sub(h) / 2;
        if n != CAP / 2 {
            return false;
        }
        let start = out.len();
        for i in 0..n {
            out.push(load_g(self.slot(h.wrapping_add(i))));
        }
        if self
            .head
            .compare_exchange(h, h.wrapping_add(n), Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            out.truncate(start);
            return false;
        }
        true
    }

    /// Go's runqget (holder only): the oldest G.
    pub(crate) fn pop(&self) -> Option<GRef> {
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed);
            if t == h {
                return None;
            }
            let g = self.slot(h).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange_weak(h, h.wrapping_add(1), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Some(
                    GRef::from_ptr(g)
                        .unwrap_or_else(|| throw("runtime: empty slot inside the run queue")),
                );
            }
        }
    }

    /// Go's runqgrab + runqsteal: moves about half of `self` (a victim's
    /// ring, at most `CAP / 2`) into `dst` (the caller's own ring, which
    /// must be empty) and returns the last G moved, to run now.
    pub(crate) fn steal_into(&self, dst: &RunQ) -> Option<GRef> {
        // Relaxed: the caller holds `dst`.
        let t = dst.tail.load(Ordering::Relaxed);
        let n = loop {
            let h = self.head.load(Ordering::Acquire);
            // Acquire: pairs with the victim's Release store of `tail`, so
            // the slots below are its published Gs.
            let vt = self.tail.load(Ordering::Acquire);
            let n = vt.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                return None;
            }
            if n > CAP / 2 {
                // `h` and `vt` were read at different times: again.
                continue;
            }
            for i in 0..n {
                let g = self.slot(h.wrapping_add(i)).load(Ordering::Relaxed);
                dst.slot(t.wrapping_add(i)).store(g, Ordering::Relaxed);
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                break n;
            }
        };
        let n = n - 1;
        let g = load_g(dst.slot(t.wrapping_add(n)));
        if n == 0 {
            return Some(g);
        }
        let h = dst.head.load(Ordering::Acquire);
        if t.wrapping_sub(h).wrapping_add(n) >= CAP {
            throw("runtime: runq_steal overflowed the thief's queue");
        }
        dst.tail.store(t.wrapping_add(n), Ordering::Release);
        Some(g)
    }

    /// `(head, tail)` (any thread; a snapshot, for Go's runqempty).
    pub(crate) fn ends(&self) -> (u32, u32) {
        (
            self.head.load(Ordering::Acquire),
            self.tail.load(Ordering::Acquire),
        )
    }

    /// Queued Gs (any thread; a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            // A consistent pair: `head` did not move while `tail` was read.
            if self.head.load(Ordering::Acquire) == h {
                return t.wrapping_sub(h).min(CAP) as usize;
            }
        }
    }

    /// Free slots (holder only).
    pub(crate) fn free(&self) -> usize {
        LOCAL_RUNQ_CAP - self.len()
    }
}

/// A slot that must hold a G (it is inside `head..tail`).
fn load_g(slot: &AtomicPtr<G>) -> GRef {
    GRef::from_ptr(slot.load(Ordering::Relaxed))
        .unwrap_or_else(|| throw("runtime: empty slot inside the run queue"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::{Arc, Mutex};

    fn gs(n: usize) -> Vec<GRef> {
        (0..n).map(|_| crate::g::tests::test_g()).collect()
    }

    #[test]
    fn fifo_wraps_and_overflows_by_half() {
        let q = RunQ::new();
        let all = gs(LOCAL_RUNQ_CAP + 10);
        // Move the indices past a wrap of the ring first.
        for &g in &all[..10] {
            q.push(g).unwrap();
            assert_eq!(q.pop(), Some(g));
        }
        for &g in &all[10..] {
            q.push(g).unwrap();
        }
        assert_eq!(q.len(), LOCAL_RUNQ_CAP);
        assert_eq!(q.push(all[0]), Err(all[0]));
        let mut half = Vec::new();
        assert!(q.take_half(&mut half));
        assert_eq!(half, all[10..10 + LOCAL_RUNQ_CAP / 2]);
        assert_eq!(q.free(), LOCAL_RUNQ_CAP / 2);
        assert_eq!(q.pop(), Some(all[10 + LOCAL_RUNQ_CAP / 2]));
    }

    /// A holder pushing and popping against two thieves: every G comes out
    /// exactly once (no loss, no duplicate), over many rounds.
    #[test]
    fn concurrent_steals_lose_and_duplicate_nothing() {
        const N: usize = 20_000;
        let all = gs(N);
        let victim = Arc::new(RunQ::new());
        let seen = Arc::new(Mutex::new(Vec::with_capacity(N)));
        let taken = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let (victim, seen, taken, stop) =
                    (victim.clone(), seen.clone(), taken.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mine = RunQ::new();
                    let mut got = Vec::new();
                    while !stop.load(Ordering::SeqCst) {
                        if let Some(g) = victim.steal_into(&mine) {
                            got.push(g.as_ptr() as usize);
                            while let Some(g) = mine.pop() {
                                got.push(g.as_ptr() as usize);
                            }
                        }
                    }
                    taken.fetch_add(got.len(), Ordering::SeqCst);
                    seen.lock().unwrap().extend(got);
                })
            })
            .collect();
        let mut got = Vec::new();
        let mut spilled = Vec::new();
        for (i, &g) in all.iter().enumerate() {
            if let Err(g) = victim.push(g) {
                if !victim.take_half(&mut spilled) {
                    victim.push(g).expect("a thief made room");
                    continue;
                }
                spilled.push(g);
            }
            if i % 3 == 0 {
                if let Some(g) = victim.pop() {
                    got.push(g.as_ptr() as usize);
                }
            }
        }
        while let Some(g) = victim.pop() {
            got.push(g.as_ptr() as usize);
        }
        stop.store(true, Ordering::SeqCst);
        for t in thieves {
            t.join().unwrap();
        }
        got.extend(spilled.iter().map(|g| g.as_ptr() as usize));
        got.extend(seen.lock().unwrap().iter());
        let unique: HashSet<usize> = got.iter().copied().collect();
        assert_eq!(
            got.len(),
            N,
            "thieves took {}",
            taken.load(Ordering::SeqCst)
        );
        assert_eq!(unique.len(), N);
    }
}

/// Model checks of the ring (runtime/src/loom.rs): every interleaving, and
/// every value the memory orderings allow, within loom's bounds. Each model
/// names the mutation it was seen to catch.
#[cfg(all(test, loom))]
pub(super) mod loom_tests {
    use super::*;

    use loom::sync::Arc;
    use loom::thread;

    /// Stand-ins for Gs: the ring only moves pointers and never follows
    /// them, so distinct aligned addresses will do (a real G holds loom
    /// atomics itself, which a model must create anew in each run).
    pub(crate) fn gs() -> Vec<GRef> {
        (1..=8)
            .map(|i| {
                let p = (i * std::mem::align_of::<G>()) as *mut G;
                GRef::from_ptr(p).expect("non-null")
            })
            .collect()
    }

    /// Asserts that `taken` holds each of `expected` exactly once.
    pub(crate) fn exactly_once(mut taken: Vec<usize>, expected: &[GRef]) {
        taken.sort_unstable();
        let mut want: Vec<usize> = expected.iter().map(|g| g.as_ptr() as usize).collect();
        want.sort_unstable();
        assert_eq!(taken, want, "a G lost or taken twice");
    }

    /// Drains a thief's own ring after a steal.
    fn steal_all(victim: &RunQ) -> Vec<usize> {
        let mine = RunQ::new();
        let mut got = Vec::new();
        if let Some(g) = victim.steal_into(&mine) {
            got.push(g.as_ptr() as usize);
            while let Some(g) = mine.pop() {
                got.push(g.as_ptr() as usize);
            }
        }
        got
    }

    /// The holder pushes and pops while a thief steals.
    /// Caught: `push` publishing `tail` with Relaxed instead of Release (the
    /// thief reads a slot before its G is stored: "empty slot inside the run
    /// queue"); `pop` advancing `head` with a plain store instead of the CAS
    /// (both take the same G).
    #[test]
    fn loom_holder_against_a_thief() {
        let g = gs();
        loom::model(move || {
            let q = Arc::new(RunQ::new());
            let thief = {
                let q = q.clone();
                thread::spawn(move || steal_all(&q))
            };
            let mut taken = Vec::new();
            for &x in &g[..3] {
                q.push(x).unwrap();
            }
            while let Some(x) = q.pop() {
                taken.push(x.as_ptr() as usize);
            }
            taken.extend(thief.join().unwrap());
            exactly_once(taken, &g[..3]);
        });
    }

    /// Two thieves against a holder that has queued and then pops.
    /// Caught: `steal_into` committing with a plain store of `head` instead
    /// of the CAS (two thieves move the same Gs).
    #[test]
    fn loom_two_thieves() {
        let g = gs();
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(move || {
            let q = Arc::new(RunQ::new());
            for &x in &g[..3] {
                q.push(x).unwrap();
            }
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || steal_all(&q))
                })
                .collect();
            let mut taken = Vec::new();
            while let Some(x) = q.pop() {
                taken.push(x.as_ptr() as usize);
            }
            for t in thieves {
                taken.extend(t.join().unwrap());
            }
            exactly_once(taken, &g[..3]);
        });
    }

    /// A full ring: the holder moves half to the global queue (Go's
    /// runqputslow) while a thief steals.
    /// Caught: `take_half` committing without the CAS on `head` (the thief's
    /// Gs also go to the global queue: taken twice).
    #[test]
    fn loom_overflow_against_a_thief() {
        let g = gs();
        loom::model(move || {
            let q = Arc::new(RunQ::new());
            for &x in &g[..LOCAL_RUNQ_CAP] {
                q.push(x).unwrap();
            }
            assert_eq!(q.push(g[LOCAL_RUNQ_CAP]), Err(g[LOCAL_RUNQ_CAP]));
            let thief = {
                let q = q.clone();
                thread::spawn(move || steal_all(&q))
            };
            let mut global = Vec::new();
            let mut taken = Vec::new();
            // Either the holder moved half out, or the thief made room
            // first (take_half fails): the push goes in now.
            let _ = q.take_half(&mut global);
            q.push(g[LOCAL_RUNQ_CAP]).unwrap();
            taken.extend(global.iter().map(|x| x.as_ptr() as usize));
            while let Some(x) = q.pop() {
                taken.push(x.as_ptr() as usize);
            }
            taken.extend(thief.join().unwrap());
            exactly_once(taken, &g[..=LOCAL_RUNQ_CAP]);
        });
    }
}
