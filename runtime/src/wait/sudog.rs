//! sudog — a goroutine (or a plain thread) waiting in a channel's or a sync
//! primitive's wait queue, and that queue. Go's `sudog` (runtime2.go), its
//! `selectDone` flag and `waitq` (chan.go), in three pieces:
//!
//! - [`WaitCtx`]: one per blocking operation — one per `select!` call, shared
//!   by all its cases. It holds the [`Waiter`], `selected` (who won, claimed
//!   by one CAS: Go's `selectDone` plus the case index) and `done` (published
//!   by the winner after it has moved the value).
//! - [`Sudog<T>`]: one per case: the value slot (the value to send, or the
//!   place a received value lands) and the links of an intrusive queue. It
//!   lives on the waiting party's stack; goroutine stacks never move
//!   (docs/ARCHITECTURE.md "Stacks"), so its address is stable while it is
//!   queued.
//! - [`WaitQ<T>`]: an intrusive FIFO of sudogs, kept inside the lock of the
//!   object waited on.
//!
//! # The protocol (it makes "each park is matched by exactly one ready" hold)
//! 1. The waiting party (the *owner*) makes a `WaitCtx` and a `Sudog` per case
//!    and, under each object's lock, checks the condition and links its
//!    sudog ([`WaitQ::push_back`]). It then unlocks and calls [`WaitCtx::wait`].
//! 2. A *claimer* — a peer, under the object's lock; or a timer, with no lock —
//!    moves the ctx from `WAITING` to a case index (or `CASE_TIMEOUT`) with one
//!    CAS ([`WaitCtx::try_claim`]). Only the CAS winner may touch the slot of
//!    the claimed case, and it alone wakes the owner. A peer whose CAS fails
//!    drops the sudog from its queue (it is stale: the owner was claimed
//!    elsewhere) and looks at the next one.
//! 3. The winner fills or empties the slot, then [`Claim::finish`] copies the
//!    waiter out and publishes `done` (Release); after that the winner touches
//!    neither the ctx nor the sudog again, and wakes the copy after unlocking.
//! 4. The owner returns from `wait` once `done` is set (Acquire), then unlinks
//!    the sudogs still queued (the cases that lost) under each object's lock,
//!    and only then lets them go out of scope. A sudog still linked when it is
//!    dropped is a runtime bug and throws.
//!
//! A wait with a single sudog and no timer (a plain send or receive, a sync
//! wait) is *exclusive*: only the party that pops that sudog can claim it, so
//! the claim is a plain store instead of a CAS.
//!
//! A goroutine is woken only by the winner's `ready`, so it parks exactly once
//! per wait. A thread may wake spuriously and then parks again until `done`.
//! An owner that finds a case ready while it is still registering claims its
//! own ctx with `CASE_ABORTED`, which no one wakes; it unregisters and
//! retries the non-blocking pass (chan/select.rs).
//!
//! # Why the accesses are sound
//! The links (`prev`, `next`, `linked`) and the ctx pointer of a queued sudog
//! are read and written only under the lock of the queue's owner object.
//! The slot is written by the owner before the sudog is linked, by the claim
//! winner between its CAS and `done`, and read by the owner after `done`
//! (or after unlinking it under the lock, when nobody claimed that case).
//! The ctx outlives every queued sudog that points at it: the owner unlinks
//! them all before the ctx goes out of scope; a timer holds the ctx by `Arc`.

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

pub(crate) use crate::diag::allgs::WaitReason;
use crate::loom::{AtomicBool, AtomicUsize};
use crate::throw::throw;
use crate::time::{self, TimerId};
use crate::wait::waiter::{self, Waiter};

/// `WaitCtx::selected` before anyone has claimed the wait.
const WAITING: usize = usize::MAX;
/// The owner found a case ready while registering and cancelled its own wait.
pub(crate) const CASE_ABORTED: usize = usize::MAX - 1;
/// A timer claimed the wait: the deadline passed first.
pub(crate) const CASE_TIMEOUT: usize = usize::MAX - 2;

/// One blocking operation's shared record (Go's sudog.g + g.selectDone).
pub(crate) struct WaitCtx {
    /// `WAITING`, then the index of the case that won, `CASE_TIMEOUT` or
    /// `CASE_ABORTED`. Moves once, by CAS (or by a plain store when
    /// `exclusive`).
    selected: AtomicUsize,
    /// Exactly one party can ever claim this wait: the one that pops its
    /// single sudog under the queue's lock (a plain send, receive or sync
    /// wait without a timer). Go skips `selectDone` for those too. Immutable.
    exclusive: bool,
    /// Set by the claim winner after it has finished with the slot.
    done: AtomicBool,
    /// Who waits. Immutable.
    waiter: Waiter,
}

impl WaitCtx {
    /// A fresh wait for the calling goroutine or thread, which several
    /// parties (select cases, a timer) may try to claim.
    pub(crate) fn new() -> WaitCtx {
        WaitCtx {
            selected: AtomicUsize::new(WAITING),
            exclusive: false,
            done: AtomicBool::new(false),
            waiter: Waiter::current(),
        }
    }

    /// A fresh wait with a single sudog and no timer: only the party that
    /// pops the sudog (under its queue's lock) can claim it.
    pub(crate) fn new_exclusive() -> WaitCtx {
        WaitCtx {
            exclusive: true,
            ..WaitCtx::new()
        }
    }

    /// A wait of a future (bridge/): exclusive, and its waiter is the
    /// future's waker slot, which the future re-arms at every poll.
    pub(crate) fn for_task(slot: Arc<atomic_waker::AtomicWaker>) -> WaitCtx {
        WaitCtx {
            selected: AtomicUsize::new(WAITING),
            exclusive: true,
            done: AtomicBool::new(false),
            waiter: Waiter::Task(slot),
        }
    }

    /// True once the claim winner has published `done` (a future looks,
    /// instead of blocking in `wait`). Acquire: pairs with the Release in
    /// `Claim::finish`, so the slot's value is visible.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Tries to win the wait for `case`. Only the winner may touch the slot
    /// of that case, and it must call [`Claim::finish`] and wake the waiter.
    pub(crate) fn try_claim(&self, case: usize) -> Option<Claim<'_>> {
        if self.exclusive {
            // The only possible claimer (see `exclusive`): no race to settle.
            // Relaxed: the owner reads `selected` after its Acquire on
            // `done`, and queue peekers read it under the queue's lock.
            self.selected.store(case, Ordering::Relaxed);
            return Some(Claim { ctx: self });
        }
        // AcqRel: the CAS is the single decision point among claimers; Acquire
        // orders the winner's later slot access after the owner's writes made
        // before it published this ctx (those writes are also ordered by the
        // queue lock for peers; the timer path has no lock).
        self.selected
            .compare_exchange(WAITING, case, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Claim { ctx: self })
    }

    /// True while nobody has claimed the wait.
    pub(crate) fn is_waiting(&self) -> bool {
        // Acquire: pairs with the claim CAS; used only as a hint (a peek at a
        // queue), the CAS decides.
        self.selected.load(Ordering::Acquire) == WAITING
    }

    /// Who won: a case index, `CASE_TIMEOUT` or `CASE_ABORTED`. Call after
    /// `wait` returned (or after a successful self-claim).
    pub(crate) fn selected(&self) -> usize {
        // Acquire: pairs with the claim CAS (and `done` already ordered it).
        let s = self.selected.load(Ordering::Acquire);
        if s == WAITING {
            throw("runtime: wait finished without a claim");
        }
        s
    }

    /// Blocks until the claim winner has published `done`. A goroutine parks
    /// exactly once (only the winner readies it); a thread re-parks after a
    /// spurious wake-up. `reason`: what a goroutine dump shows meanwhile.
    pub(crate) fn wait(&self, reason: WaitReason) {
        match self.waiter {
            Waiter::G(_) => {
                waiter::block(reason);
                // Acquire: pairs with the Release in `Claim::finish`.
                if !self.done.load(Ordering::Acquire) {
                    throw("runtime: goroutine woken before its wait was done");
                }
            }
            Waiter::Thread(_) => {
                // Acquire: pairs with the Release in `Claim::finish`.
                while !self.done.load(Ordering::Acquire) {
                    waiter::block(reason);
                }
            }
            // A future does not block: it looks at `done` when polled.
            Waiter::Task(_) => throw("runtime: a future's wait blocked"),
        }
    }

    /// The owner cancels its own wait (it found a case ready while
    /// registering). True if nobody had claimed it; then nobody will wake it.
    pub(crate) fn abort(&self) -> bool {
        debug_assert!(!self.exclusive, "only a select aborts its wait");
        self.try_claim(CASE_ABORTED).is_some_and(|c| {
            // Nobody waits for this "claim": the owner is the caller. Just
            // record it as done so the state stays uniform.
            drop(c.finish());
            true
        })
    }

    /// A timer's callback: claims the wait with `CASE_TIMEOUT` and wakes the
    /// owner, unless someone else won first.
    pub(crate) fn fire_timeout(&self) {
        if let Some(c) = self.try_claim(CASE_TIMEOUT) {
            c.finish().wake();
        }
    }
}

/// Where a wait's ctx lives: in the waiting frame, or shared with a timer
/// (a timeout) that may fire after the frame is gone.
pub(crate) enum CtxHold {
    /// No timer: the ctx lives in the owner's frame.
    Local(WaitCtx),
    /// A timer holds a clone; it can only fail its CAS once the owner is done.
    Shared(Arc<WaitCtx>),
}

impl CtxHold {
    /// A ctx for a plain send or receive (one sudog); `timed` if a timer
    /// will be armed, which makes the claim a race again.
    pub(crate) fn single(timed: bool) -> CtxHold {
        if timed {
            CtxHold::Shared(Arc::new(WaitCtx::new()))
        } else {
            CtxHold::Local(WaitCtx::new_exclusive())
        }
    }

    /// A ctx for a select (several sudogs, so claims always race).
    pub(crate) fn select(timed: bool) -> CtxHold {
        if timed {
            CtxHold::Shared(Arc::new(WaitCtx::new()))
        } else {
            CtxHold::Local(WaitCtx::new())
        }
    }

    /// The ctx.
    pub(crate) fn ctx(&self) -> &WaitCtx {
        match self {
            CtxHold::Local(c) => c,
            CtxHold::Shared(c) => c,
        }
    }

    /// Arms a timer that claims the wait with `CASE_TIMEOUT` at `deadline`.
    /// Only a `Shared` ctx can be armed (None otherwise).
    pub(crate) fn arm(&self, deadline: Instant) -> Option<TimerId> {
        match self {
            CtxHold::Local(_) => None,
            CtxHold::Shared(c) => {
                let c = c.clone();
                Some(time::add_timer(deadline, move || c.fire_timeout()))
            }
        }
    }
}

/// Proof of a won claim; see [`WaitCtx::try_claim`].
#[must_use = "a claim must be finished and its waiter woken, or the owner waits forever"]
pub(crate) struct Claim<'a> {
    ctx: &'a WaitCtx,
}

impl Claim<'_> {
    /// Publishes `done` and returns the waiter to wake. Call after the slot is
    /// settled; wake the result after releasing the queue's lock. From here
    /// on the owner may return and free the ctx and its sudogs, so the
    /// waiter is copied out first.
    pub(crate) fn finish(self) -> Waiter {
        let w = self.ctx.waiter.clone();
        // Release: publishes the slot write (and the unlink) to the owner,
        // which reads them after its Acquire load in `wait`.
        self.ctx.done.store(true, Ordering::Release);
        w
    }
}

/// One case of a wait: a value slot plus queue links. Owned by the waiting
/// party's stack frame; see the module header for who may touch what.
pub(crate) struct Sudog<T> {
    /// The ctx this sudog belongs to; set when it is linked.
    ctx: Cell<*const WaitCtx>,
    /// This case's index in the ctx (0 for a plain send or receive).
    case: Cell<usize>,
    /// Sender: the value until a receiver takes it. Receiver: where a sender
    /// puts the value. Sync waits use it for small per-waiter facts.
    slot: UnsafeCell<Option<T>>,
    prev: Cell<*const Sudog<T>>,
    next: Cell<*const Sudog<T>>,
    /// True while in a queue.
    linked: Cell<bool>,
}

impl<T> Sudog<T> {
    /// A sudog holding `value` (a sender's value, or None for a receiver).
    pub(crate) fn new(value: Option<T>) -> Sudog<T> {
        Sudog {
            ctx: Cell::new(ptr::null()),
            case: Cell::new(0),
            slot: UnsafeCell::new(value),
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
        }
    }

    /// The owner's access to the slot.
    ///
    /// # Safety
    /// The sudog is not linked, and if it was claimed, the claim's `done` was
    /// observed (`WaitCtx::wait` returned) or the claimer was this thread.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slot_owned(&self) -> &mut Option<T> {
        // SAFETY: by the contract no other party can reach the slot now, and
        // the last writer's accesses happen-before ours (Acquire on `done`,
        // or the queue lock).
        unsafe { &mut *self.slot.get() }
    }
}

impl<T> Drop for Sudog<T> {
    fn drop(&mut self) {
        if self.linked.get() {
            throw("runtime: sudog dropped while still queued");
        }
    }
}

/// A sudog taken out of a queue by a claimer that won its ctx: the right to
/// use its slot until [`Claimed::finish`].
pub(crate) struct Claimed<'a, T> {
    node: &'a Sudog<T>,
    claim: Claim<'a>,
}

impl<T> Claimed<'_, T> {
    /// Takes the value out of the slot (a sender's value).
    pub(crate) fn take(&self) -> Option<T> {
        // SAFETY: we won the ctx for this case, so until `finish` publishes
        // `done` we are the only party touching this slot (module header).
        unsafe { (*self.node.slot.get()).take() }
    }

    /// Puts a value in the slot (for a receiver).
    pub(crate) fn put(&self, v: T) {
        // SAFETY: as in `take`.
        unsafe { *self.node.slot.get() = Some(v) }
    }

    /// Reads the slot by reference (for sync waits' per-waiter facts).
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // SAFETY: as in `take`.
        f(unsafe { &mut *self.node.slot.get() })
    }

    /// Done with the slot: publishes `done`, returns the waiter to wake
    /// after the queue's lock is released.
    pub(crate) fn finish(self) -> Waiter {
        self.claim.finish()
    }
}

/// An intrusive FIFO of sudogs (Go's waitq). Lives inside the lock of the
/// object it belongs to; every method runs with that lock held (`&mut self`
/// is only reachable through the lock guard).
pub(crate) struct WaitQ<T> {
    head: *const Sudog<T>,
    tail: *const Sudog<T>,
}

// SAFETY: the queue holds pointers to sudogs that carry `T` values; moving
// the queue (inside its lock) to another thread lets that thread move those
// values, which needs `T: Send`. The sudogs stay valid while linked (module
// header).
unsafe impl<T: Send> Send for WaitQ<T> {}

impl<T> Default for WaitQ<T> {
    fn default() -> Self {
        WaitQ::new()
    }
}

impl<T> WaitQ<T> {
    /// An empty queue.
    pub(crate) const fn new() -> WaitQ<T> {
        WaitQ {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// True if no sudog is queued (stale ones count until popped).
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    /// Links `s` at the tail, as case `case` of `ctx`.
    ///
    /// # Safety
    /// `s` is not linked anywhere; `s` and `ctx` stay at their addresses and
    /// alive until `s` is unlinked (popped by a claimer, or removed by the
    /// owner with [`WaitQ::remove`] under this queue's lock).
    pub(crate) unsafe fn push_back(&mut self, s: &Sudog<T>, ctx: &WaitCtx, case: usize) {
        debug_assert!(!s.linked.get());
        s.ctx.set(ctx);
        s.case.set(case);
        s.prev.set(self.tail);
        s.next.set(ptr::null());
        s.linked.set(true);
        if self.tail.is_null() {
            self.head = s;
        } else {
            // SAFETY: `tail` is a linked sudog, alive by push_back's contract,
            // and we hold the queue's lock.
            unsafe { (*self.tail).next.set(s) };
        }
        self.tail = s;
    }

    /// Links `s` at the head (a mutex waiter that lost a race goes back to
    /// the front, as in Go).
    ///
    /// # Safety
    /// As for [`WaitQ::push_back`].
    pub(crate) unsafe fn push_front(&mut self, s: &Sudog<T>, ctx: &WaitCtx, case: usize) {
        debug_assert!(!s.linked.get());
        s.ctx.set(ctx);
        s.case.set(case);
        s.prev.set(ptr::null());
        s.next.set(self.head);
        s.linked.set(true);
        if self.head.is_null() {
            self.tail = s;
        } else {
            // SAFETY: `head` is a linked sudog, alive by push_back's contract,
            // and we hold the queue's lock.
            unsafe { (*self.head).prev.set(s) };
        }
        self.head = s;
    }

    /// Unlinks `s` if it is linked (the owner's clean-up after a wait).
    ///
    /// # Safety
    /// If `s` is linked, it is linked in this queue.
    pub(crate) unsafe fn remove(&mut self, s: &Sudog<T>) {
        if s.linked.get() {
            self.unlink(s);
        }
    }

    /// Unlinks a sudog known to be in this queue.
    fn unlink(&mut self, s: &Sudog<T>) {
        let (prev, next) = (s.prev.get(), s.next.get());
        if prev.is_null() {
            self.head = next;
        } else {
            // SAFETY: neighbours of a linked sudog are linked, hence alive
            // (push_back's contract); the lock is held.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail = prev;
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        s.prev.set(ptr::null());
        s.next.set(ptr::null());
        s.linked.set(false);
    }

    /// Go's `dequeue`: pops sudogs from the head until one whose ctx we can
    /// claim for its case; stale ones (their owner was claimed elsewhere, or
    /// aborted) are dropped from the queue on the way.
    pub(crate) fn dequeue(&mut self) -> Option<Claimed<'_, T>> {
        loop {
            let p = self.head;
            // SAFETY: a non-null head is linked, hence alive; the lock is held
            // for the lifetime of the returned borrow (`&mut self`).
            let s: &Sudog<T> = unsafe { p.as_ref()? };
            self.unlink(s);
            // SAFETY: a linked sudog's ctx outlives its link (module header);
            // we just unlinked it under the lock, so the owner's clean-up has
            // not run yet (it needs this lock), and the ctx is alive.
            let ctx: &WaitCtx = unsafe { &*s.ctx.get() };
            if let Some(claim) = ctx.try_claim(s.case.get()) {
                return Some(Claimed { node: s, claim });
            }
        }
    }

    /// Claims the first queued sudog whose slot `pick` accepts (Go's
    /// notifyListNotifyOne looks for one ticket this way); stale sudogs met
    /// on the way are dropped, the others stay queued in order.
    pub(crate) fn dequeue_where(
        &mut self,
        mut pick: impl FnMut(Option<&T>) -> bool,
    ) -> Option<Claimed<'_, T>> {
        let mut p = self.head;
        while !p.is_null() {
            // SAFETY: `p` is linked (we walk the list under its lock), hence
            // alive; so is its ctx (module header).
            let s: &Sudog<T> = unsafe { &*p };
            p = s.next.get();
            // SAFETY: as above.
            let ctx: &WaitCtx = unsafe { &*s.ctx.get() };
            if !ctx.is_waiting() {
                self.unlink(s);
                continue;
            }
            // SAFETY: a linked sudog's slot is written only by its owner
            // before linking it, or by a claim winner after popping it
            // under this lock, which we hold: nobody writes it now.
            let picked = pick(unsafe { (*s.slot.get()).as_ref() });
            if picked {
                self.unlink(s);
                if let Some(claim) = ctx.try_claim(s.case.get()) {
                    return Some(Claimed { node: s, claim });
                }
            }
        }
        None
    }

    /// True if a sudog of a party other than `me` could be claimed now.
    /// Drops stale sudogs from the head and from the middle while looking.
    pub(crate) fn has_peer(&mut self, me: &WaitCtx) -> bool {
        let mut p = self.head;
        while !p.is_null() {
            // SAFETY: `p` is linked (we walk the list under its lock), hence
            // alive; so is its ctx (module header).
            let s: &Sudog<T> = unsafe { &*p };
            p = s.next.get();
            // SAFETY: as above.
            let ctx: &WaitCtx = unsafe { &*s.ctx.get() };
            if ptr::eq(ctx, me) {
                continue;
            }
            if ctx.is_waiting() {
                return true;
            }
            self.unlink(s);
        }
        false
    }

    /// Claims every queued party (stale ones are dropped) and returns their
    /// waiters, with each slot left as it is: a closing channel's way of
    /// saying "disconnected". Wake them after releasing the lock.
    pub(crate) fn claim_all(&mut self) -> Vec<Waiter> {
        let mut ws = Vec::new();
        while let Some(c) = self.dequeue() {
            ws.push(c.finish());
        }
        ws
    }

    /// The number of queued sudogs, stale ones included. O(n); for tests.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        let mut n = 0;
        let mut p = self.head;
        while !p.is_null() {
            n += 1;
            // SAFETY: linked, hence alive; the lock is held.
            p = unsafe { (*p).next.get() };
        }
        n
    }
}

/// Parks the caller on the queue that `q` picks out of the locked state,
/// releasing `guard` first (sync primitives; no select, no timeout: whoever
/// dequeues the sudog wins it). `value` is put in the sudog's slot for the
/// waker to read; returns the slot as the waker left it. `reason`: what a
/// goroutine dump shows meanwhile.
pub(crate) fn park_on<S, T>(
    mut guard: crate::lock::MutexGuard<'_, S>,
    value: Option<T>,
    front: bool,
    reason: WaitReason,
    q: impl FnOnce(&mut S) -> &mut WaitQ<T>,
) -> Option<T> {
    let ctx = WaitCtx::new_exclusive();
    let node = Sudog::new(value);
    let queue = q(&mut guard);
    // `node` and `ctx` live in this frame until we return, and we return
    // only after `wait`, i.e. after the winner popped `node` (these queues
    // have no other claimers, so only a dequeue can finish the wait).
    if front {
        // SAFETY: see just above.
        unsafe { queue.push_front(&node, &ctx, 0) };
    } else {
        // SAFETY: see just above.
        unsafe { queue.push_back(&node, &ctx, 0) };
    }
    drop(guard);
    ctx.wait(reason);
    // SAFETY: the winner unlinked `node` and we observed `done` in `wait`.
    unsafe { node.slot_owned().take() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_remove_and_stale_skipping() {
        let ctxs: Vec<WaitCtx> = (0..4).map(|_| WaitCtx::new()).collect();
        let nodes: Vec<Sudog<u32>> = (0..4).map(|i| Sudog::new(Some(i))).collect();
        let mut q = WaitQ::new();
        for (n, c) in nodes.iter().zip(&ctxs) {
            // SAFETY: nodes and ctxs outlive the queue's use below.
            unsafe { q.push_back(n, c, 7) };
        }
        assert_eq!(q.len(), 4);
        // SAFETY: nodes[1] is linked in q.
        unsafe { q.remove(&nodes[1]) };
        assert_eq!(q.len(), 3);
        // ctx 0 is claimed elsewhere: its sudog is stale and skipped.
        let other = ctxs[0].try_claim(CASE_TIMEOUT).expect("fresh ctx");
        drop(other.finish());
        let c = q.dequeue().expect("node 2 is live");
        assert_eq!(c.take(), Some(2));
        drop(c.finish());
        assert_eq!(ctxs[2].selected(), 7);
        assert!(q.has_peer(&ctxs[0]));
        assert!(!q.has_peer(&ctxs[3]));
        let ws = q.claim_all();
        assert_eq!(ws.len(), 1);
        assert!(q.is_empty());
    }

    #[test]
    fn dequeue_where_picks_by_slot_and_keeps_the_rest_in_order() {
        let ctxs: Vec<WaitCtx> = (0..4).map(|_| WaitCtx::new()).collect();
        let nodes: Vec<Sudog<u32>> = (0..4).map(|i| Sudog::new(Some(i * 10))).collect();
        let mut q = WaitQ::new();
        for (n, c) in nodes.iter().zip(&ctxs) {
            // SAFETY: nodes and ctxs outlive the queue's use below.
            unsafe { q.push_back(n, c, 0) };
        }
        // ctx 0 is claimed elsewhere: its sudog is stale and dropped.
        drop(ctxs[0].try_claim(CASE_TIMEOUT).expect("fresh ctx").finish());
        let c = q.dequeue_where(|s| s == Some(&20)).expect("node 2 queued");
        assert_eq!(c.take(), Some(20));
        drop(c.finish());
        assert!(q.dequeue_where(|s| s == Some(&0)).is_none(), "stale");
        assert!(q.dequeue_where(|s| s == Some(&99)).is_none());
        assert_eq!(q.len(), 2);
        let order: Vec<_> = std::iter::from_fn(|| {
            let c = q.dequeue()?;
            let v = c.take();
            drop(c.finish());
            v
        })
        .collect();
        assert_eq!(order, [10, 30]);
    }

    #[test]
    fn front_push_goes_first() {
        let (a, b) = (WaitCtx::new(), WaitCtx::new());
        let (na, nb) = (Sudog::new(Some(1)), Sudog::new(Some(2)));
        let mut q = WaitQ::new();
        // SAFETY: all four outlive the queue's use.
        unsafe { q.push_back(&na, &a, 0) };
        // SAFETY: as above.
        unsafe { q.push_front(&nb, &b, 0) };
        let c = q.dequeue().expect("two queued");
        assert_eq!(c.take(), Some(2));
        drop(c.finish());
        let c = q.dequeue().expect("one queued");
        assert_eq!(c.take(), Some(1));
        drop(c.finish());
        assert!(q.dequeue().is_none());
    }
}

/// Model checks of the claim-once wait record (runtime/src/loom.rs). The
/// owner's side waits on `done` by spinning here (the real `wait` parks,
/// which loom does not model); both claimers run the real `try_claim` and
/// `Claim::finish`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    /// A select with two cases, each readied by a peer: exactly one claim
    /// wins, and the owner, once `done`, sees the value the winner left.
    /// Caught: `try_claim` with a load and a store instead of the CAS (both
    /// peers win and write the slot: loom reports the concurrent writes);
    /// `finish` publishing `done` with Relaxed instead of Release (the owner
    /// reads the slot unordered: a causality violation).
    #[test]
    fn loom_two_claimers_one_winner() {
        loom::model(|| {
            let ctx = Arc::new(WaitCtx::new());
            let slot = Arc::new(UnsafeCell::new(0usize));
            let peers: Vec<_> = (0..2usize)
                .map(|case| {
                    let (ctx, slot) = (ctx.clone(), slot.clone());
                    thread::spawn(move || match ctx.try_claim(case) {
                        Some(claim) => {
                            // SAFETY: the claim winner alone writes the slot
                            // before `finish` (loom checks it).
                            slot.with_mut(|p| unsafe { *p = 100 + case });
                            drop(claim.finish());
                            true
                        }
                        None => false,
                    })
                })
                .collect();
            // Acquire: pairs with finish's Release, as `wait` does.
            while !ctx.done.load(Ordering::Acquire) {
                thread::yield_now();
            }
            let won = ctx.selected();
            // SAFETY: after `done` the owner reads the slot (loom checks it).
            slot.with(|p| assert_eq!(unsafe { *p }, 100 + won));
            let winners = peers.into_iter().map(|p| p.join().unwrap());
            assert_eq!(winners.filter(|&w| w).count(), 1, "not exactly one winner");
        });
    }
}
