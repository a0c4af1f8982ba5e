//! hchan — the channel itself (Go's `hchan` and chan.go's `chansend`,
//! `chanrecv`, `closechan`), under the public ends in `chan/mod.rs`.
//!
//! One lock guards the ring buffer and the two wait queues (wait/sudog.rs). The
//! invariants, as in Go:
//! - a receiver waits only while the buffer is empty, a sender only while it
//!   is full (always, for capacity 0);
//! - so a send first hands its value to a waiting receiver (directly into its
//!   slot: the rendezvous of an unbuffered channel), else buffers it, else
//!   waits; a receive first takes from the buffer (and refills it from the
//!   first waiting sender, keeping FIFO order), else takes a waiting
//!   sender's value, else waits.
//!
//! Waking always happens after the lock is released. A woken goroutine goes
//! to the waker's `runnext` (sched/mod.rs `ready`), so a ping-pong pair stays on
//! one P and runs back to back (Go's handoff).
//!
//! "Disconnected" is Go's `close`: dropping the last `Sender` sets `closed`
//! and wakes every waiting receiver with an empty slot (they drain the
//! buffer first). Dropping the last `Receiver` sets `rx_gone`, wakes every
//! waiting sender with its value still in its slot (the send fails and gives
//! it back) and drops what was buffered.
//!
//! # Never preempted holding the lock
//! Signal preemption (sched/preempt.rs) stops a goroutine only at a PC inside a
//! user crate's function (sched/symtab.rs). Every function here that takes the
//! channel lock is `#[inline(never)]`, so while the lock is held the PC is
//! always in a `gort_runtime` symbol, never in user code the generic code
//! would otherwise be inlined into (it is instantiated in the user's crate,
//! and LTO inlines anything). Otherwise a goroutine switched out holding the
//! lock would stay pinned to its M while another goroutine on that M blocks
//! the thread itself in the lock: neither could run again. sync/ and time/
//! follow the same rule for their internal locks.

use std::collections::VecDeque;
use std::time::Instant;

use crate::loom::Mutex;

use crate::chan::{RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::testing::bubble;
use crate::throw::throw;
use crate::time;
use crate::wait::sudog::{CtxHold, Sudog, WaitCtx, WaitQ, WaitReason, CASE_TIMEOUT};
use crate::wait::waiter::Waiter;

/// Buffer space reserved up front at most; larger channels grow on demand.
const PREALLOC_MAX: usize = 1024;

/// A channel (shared by all its ends through an `Arc`).
pub(crate) struct Chan<T> {
    /// Buffer capacity; 0 = unbuffered (rendezvous). Immutable.
    pub(crate) cap: usize,
    /// The virtual-time bubble it was made in (0: none; testing/bubble.rs
    /// `current_id`): waiting on it is durable only inside that bubble.
    /// Immutable.
    pub(crate) bubble: u64,
    state: Mutex<State<T>>,
}

/// Everything under the channel's lock.
struct State<T> {
    buf: VecDeque<T>,
    /// Waiting receivers (their slots are empty).
    recvq: WaitQ<T>,
    /// Waiting senders (their slots hold their values).
    sendq: WaitQ<T>,
    /// Every Sender is gone (Go's `closed`).
    closed: bool,
    /// Every Receiver is gone.
    rx_gone: bool,
    /// Runs once when every Receiver is gone (a timer that stops itself:
    /// time/runtime_timer.rs).
    on_rx_gone: Option<Box<dyn FnOnce() + Send>>,
}

/// Wakes a waiter a send or receive claimed, if any (after unlocking).
fn wake(w: Option<Waiter>) {
    if let Some(w) = w {
        w.wake();
    }
}

impl<T> Chan<T> {
    /// A channel of virtual-time bubble `bubble` (testing/bubble.rs).
    pub(crate) fn new(cap: usize, bubble: u64) -> Chan<T> {
        Chan {
            cap,
            bubble,
            state: Mutex::new(State {
                buf: VecDeque::with_capacity(cap.min(PREALLOC_MAX)),
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
                closed: false,
                rx_gone: false,
                on_rx_gone: None,
            }),
        }
    }

    /// Messages in the buffer now.
    #[inline(never)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().buf.len()
    }

    /// The non-blocking half of chansend, under the lock. Ok carries the
    /// receiver to wake, if the value went to one directly.
    fn try_send_locked(&self, st: &mut State<T>, v: T) -> Result<Option<Waiter>, TrySendError<T>> {
        if st.rx_gone {
            return Err(TrySendError::Disconnected(v));
        }
        if let Some(r) = st.recvq.dequeue() {
            r.put(v);
            return Ok(Some(r.finish()));
        }
        if st.buf.len() < self.cap {
            st.buf.push_back(v);
            return Ok(None);
        }
        Err(TrySendError::Full(v))
    }

    /// The non-blocking half of chanrecv, under the lock. Ok carries the
    /// sender to wake, if one was waiting.
    fn try_recv_locked(st: &mut State<T>) -> Result<(T, Option<Waiter>), TryRecvError> {
        if let Some(v) = st.buf.pop_front() {
            // A full buffer with a waiting sender: move its value in behind.
            let w = match st.sendq.dequeue() {
                Some(s) => {
                    let sv = s
                        .take()
                        .unwrap_or_else(|| throw("runtime: queued sender without a value"));
                    st.buf.push_back(sv);
                    Some(s.finish())
                }
                None => None,
            };
            return Ok((v, w));
        }
        if let Some(s) = st.sendq.dequeue() {
            let v = s
                .take()
                .unwrap_or_else(|| throw("runtime: queued sender without a value"));
            return Ok((v, Some(s.finish())));
        }
        if st.closed {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    #[inline(never)]
    pub(crate) fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut st = self.state.lock();
        let r = self.try_send_locked(&mut st, v);
        drop(st);
        r.map(wake)
    }

    #[inline(never)]
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut st = self.state.lock();
        let r = Self::try_recv_locked(&mut st);
        drop(st);
        r.map(|(v, w)| {
            wake(w);
            v
        })
    }

    /// Go's chansend with block=true, optionally until `deadline`.
    #[doc(alias = "chansend")]
    #[inline(never)]
    pub(crate) fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        let mut st = self.state.lock();
        let v = match self.try_send_locked(&mut st, v) {
            Ok(w) => {
                drop(st);
                wake(w);
                return Ok(());
            }
            Err(TrySendError::Disconnected(v)) => return Err(SendTimeoutError::Disconnected(v)),
            Err(TrySendError::Full(v)) => v,
        };
        if deadline.is_some_and(|d| d <= time::now()) {
            return Err(SendTimeoutError::Timeout(v));
        }
        let hold = CtxHold::single(deadline.is_some());
        let node = Sudog::new(Some(v));
        // SAFETY: `node` and `hold` live in this frame, unmoved, until after
        // the wait below, and the node is unlinked before we return: a
        // claimer pops it, or we remove it under the lock after a timeout.
        unsafe { st.sendq.push_back(&node, hold.ctx(), 0) };
        drop(st);
        let timer = deadline.and_then(|d| hold.arm(d));
        hold.ctx()
            .wait(WaitReason::ChanSend.bubbled(bubble::is_own(self.bubble)));
        if hold.ctx().selected() == CASE_TIMEOUT {
            let mut st = self.state.lock();
            // SAFETY: the node was linked only in this channel's sendq.
            unsafe { st.sendq.remove(&node) };
            drop(st);
            // SAFETY: unlinked under the lock; nobody claimed this case.
            let v = unsafe { node.slot_owned() }
                .take()
                .unwrap_or_else(|| throw("runtime: timed-out sender lost its value"));
            return Err(SendTimeoutError::Timeout(v));
        }
        if let Some(t) = timer {
            time::cancel_timer(t);
        }
        // SAFETY: a receiver (or the disconnect) popped the node and we saw
        // its `done` in `wait`.
        match unsafe { node.slot_owned() }.take() {
            None => Ok(()),
            Some(v) => Err(SendTimeoutError::Disconnected(v)),
        }
    }

    /// Go's chanrecv with block=true, optionally until `deadline`.
    #[doc(alias = "chanrecv")]
    #[inline(never)]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let mut st = self.state.lock();
        match Self::try_recv_locked(&mut st) {
            Ok((v, w)) => {
                drop(st);
                wake(w);
                return Ok(v);
            }
            Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
            Err(TryRecvError::Empty) => {}
        }
        if deadline.is_some_and(|d| d <= time::now()) {
            return Err(RecvTimeoutError::Timeout);
        }
        let hold = CtxHold::single(deadline.is_some());
        let node = Sudog::new(None);
        // SAFETY: as in `send`.
        unsafe { st.recvq.push_back(&node, hold.ctx(), 0) };
        drop(st);
        let timer = deadline.and_then(|d| hold.arm(d));
        hold.ctx()
            .wait(WaitReason::ChanReceive.bubbled(bubble::is_own(self.bubble)));
        if hold.ctx().selected() == CASE_TIMEOUT {
            let mut st = self.state.lock();
            // SAFETY: the node was linked only in this channel's recvq.
            unsafe { st.recvq.remove(&node) };
            return Err(RecvTimeoutError::Timeout);
        }
        if let Some(t) = timer {
            time::cancel_timer(t);
        }
        // SAFETY: as in `send`.
        unsafe { node.slot_owned() }
            .take()
            .ok_or(RecvTimeoutError::Disconnected)
    }

    /// The last Sender is gone: Go's closechan.
    #[doc(alias = "closechan")]
    #[inline(never)]
    pub(crate) fn disconnect_senders(&self) {
        let mut st = self.state.lock();
        st.closed = true;
        let ws = st.recvq.claim_all();
        drop(st);
        ws.into_iter().for_each(Waiter::wake);
    }

    /// The last Receiver is gone: fail waiting senders, drop the buffer.
    #[inline(never)]
    pub(crate) fn disconnect_receivers(&self) {
        let mut st = self.state.lock();
        st.rx_gone = true;
        let ws = st.sendq.claim_all();
        let buf = std::mem::take(&mut st.buf);
        let hook = st.on_rx_gone.take();
        drop(st);
        ws.into_iter().for_each(Waiter::wake);
        // Dropped outside the lock: a value's Drop may use this channel.
        drop(buf);
        if let Some(f) = hook {
            f();
        }
    }

    /// Sets the function `disconnect_receivers` runs (outside the lock).
    #[inline(never)]
    pub(crate) fn set_on_rx_gone(&self, f: Box<dyn FnOnce() + Send>) {
        self.state.lock().on_rx_gone = Some(f);
    }

    // -- futures (chan/future.rs) --------------------------------------------

    /// A send future's first poll: sends now if it can (Ok carries the
    /// receiver to wake), else links `node` in the send queue with the value
    /// in its slot (Ok(None) with `registered` set). Err gives the value back
    /// when every receiver is gone.
    ///
    /// # Safety
    /// As for [`Chan::register_recv`], with [`Chan::cancel_send`]; `node`'s
    /// slot is empty.
    #[inline(never)]
    pub(crate) unsafe fn send_or_register(
        &self,
        v: T,
        node: &Sudog<T>,
        ctx: &WaitCtx,
        registered: &mut bool,
    ) -> Result<(), T> {
        let mut st = self.state.lock();
        match self.try_send_locked(&mut st, v) {
            Ok(w) => {
                drop(st);
                wake(w);
                Ok(())
            }
            Err(TrySendError::Disconnected(v)) => Err(v),
            Err(TrySendError::Full(v)) => {
                // SAFETY: the slot is the owner's while unlinked (contract).
                unsafe { *node.slot_owned() = Some(v) };
                // SAFETY: forwarded from this function's contract.
                unsafe { st.sendq.push_back(node, ctx, 0) };
                *registered = true;
                Ok(())
            }
        }
    }

    /// A receive future's first poll: receives now if it can, else links
    /// `node` in the receive queue (Ok(None)). Err: disconnected and empty.
    ///
    /// # Safety
    /// As for [`Chan::register_recv`], with [`Chan::cancel_recv`].
    #[inline(never)]
    pub(crate) unsafe fn recv_or_register(
        &self,
        node: &Sudog<T>,
        ctx: &WaitCtx,
    ) -> Result<Option<T>, RecvError> {
        let mut st = self.state.lock();
        match Self::try_recv_locked(&mut st) {
            Ok((v, w)) => {
                drop(st);
                wake(w);
                Ok(Some(v))
            }
            Err(TryRecvError::Disconnected) => Err(RecvError),
            Err(TryRecvError::Empty) => {
                // SAFETY: forwarded from this function's contract.
                unsafe { st.recvq.push_back(node, ctx, 0) };
                Ok(None)
            }
        }
    }

    /// A send future dropped while registered: unlinks `node` if it is
    /// still queued, and returns the value it still holds (not sent). If a
    /// receiver had already taken it, the send happened: None.
    ///
    /// # Safety
    /// `node` was registered only by `send_or_register` on this channel.
    #[inline(never)]
    pub(crate) unsafe fn cancel_send(&self, node: &Sudog<T>) -> Option<T> {
        let mut st = self.state.lock();
        // SAFETY: by the contract, if linked, it is linked in this sendq.
        unsafe { st.sendq.remove(node) };
        drop(st);
        // SAFETY: unlinked; a claimer finishes under the lock we just held,
        // so its `done` and slot writes are visible.
        unsafe { node.slot_owned() }.take()
    }

    /// A receive future dropped while registered: unlinks `node`; if a
    /// sender had already put a value in it, the value goes back to the
    /// channel, to a waiting receiver or else to the head of the buffer
    /// (beyond the capacity if need be), so it is never lost.
    ///
    /// # Safety
    /// `node` was registered only by `recv_or_register` on this channel.
    #[inline(never)]
    pub(crate) unsafe fn cancel_recv(&self, node: &Sudog<T>) {
        let mut st = self.state.lock();
        // SAFETY: by the contract, if linked, it is linked in this recvq.
        unsafe { st.recvq.remove(node) };
        // SAFETY: unlinked; a claimer finished under this lock.
        let v = unsafe { node.slot_owned() }.take();
        let Some(v) = v else {
            return;
        };
        let w = match st.recvq.dequeue() {
            Some(r) => {
                r.put(v);
                Some(r.finish())
            }
            None => {
                st.buf.push_front(v);
                None
            }
        };
        drop(st);
        wake(w);
    }

    // -- select support (chan/select.rs) -----------------------------------------

    /// Registers `node` as case `case` of `ctx` in the receive queue, unless
    /// a receive could complete now (then returns true, registering nothing).
    ///
    /// # Safety
    /// `node` is not linked; it and `ctx` stay alive and unmoved until
    /// [`Chan::unregister_recv`] has been called for `node`.
    #[inline(never)]
    pub(crate) unsafe fn register_recv(&self, node: &Sudog<T>, ctx: &WaitCtx, case: usize) -> bool {
        let mut st = self.state.lock();
        let st = &mut *st;
        if !st.buf.is_empty() || st.closed || st.sendq.has_peer(ctx) {
            return true;
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { st.recvq.push_back(node, ctx, case) };
        false
    }

    /// Registers `node` in the send queue unless a send could complete now.
    ///
    /// # Safety
    /// As for [`Chan::register_recv`], with [`Chan::unregister_send`].
    #[inline(never)]
    pub(crate) unsafe fn register_send(&self, node: &Sudog<T>, ctx: &WaitCtx, case: usize) -> bool {
        let mut st = self.state.lock();
        let st = &mut *st;
        if st.rx_gone || st.buf.len() < self.cap || st.recvq.has_peer(ctx) {
            return true;
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { st.sendq.push_back(node, ctx, case) };
        false
    }

    /// Unlinks a node registered by `register_recv`, if still queued.
    ///
    /// # Safety
    /// `node` was registered (if at all) only with this channel's
    /// `register_recv`.
    #[inline(never)]
    pub(crate) unsafe fn unregister_recv(&self, node: &Sudog<T>) {
        let mut st = self.state.lock();
        // SAFETY: by the contract, if linked, it is linked in this recvq.
        unsafe { st.recvq.remove(node) };
    }

    /// Unlinks a node registered by `register_send`, if still queued.
    ///
    /// # Safety
    /// `node` was registered (if at all) only with this channel's
    /// `register_send`.
    #[inline(never)]
    pub(crate) unsafe fn unregister_send(&self, node: &Sudog<T>) {
        let mut st = self.state.lock();
        // SAFETY: by the contract, if linked, it is linked in this sendq.
        unsafe { st.sendq.remove(node) };
    }
}

/// Model checks of disconnection racing sends and receives
/// (runtime/src/loom.rs): the real channel, its lock and wait queues on
/// loom's Mutex, its waiters parking loom's threads, through the public ends.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    use loom::thread;

    use crate::chan::{bounded, RecvError};

    /// A value that counts its drops.
    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A send, then close (the last Sender dropped), racing a receiver that
    /// receives twice, on an unbuffered and a one-slot channel: the value
    /// arrives, then the disconnect, however the waits (the sender's, the
    /// receiver's) and the close interleave.
    /// Caught: `disconnect_senders` that marks the channel closed but does
    /// not wake the waiting receivers (loom: deadlock); a receive that looks
    /// at `closed` before the buffer (`Err` with a value buffered).
    #[test]
    fn loom_close_races_recv() {
        for cap in [0, 1] {
            loom::model(move || {
                let (tx, rx) = bounded::<u32>(cap);
                let sender = thread::spawn(move || {
                    tx.send(7).expect("the receiver is alive");
                    drop(tx);
                });
                assert_eq!(rx.recv(), Ok(7));
                assert_eq!(rx.recv(), Err(RecvError));
                sender.join().unwrap();
            });
        }
    }

    /// A blocking unbuffered send racing the drop of the last Receiver: the
    /// send fails and gives its value back, and the value is dropped exactly
    /// once (never lost inside the channel, never dropped twice).
    /// Caught: `disconnect_receivers` that does not wake the waiting senders
    /// (loom: deadlock); one that drops a waiting sender's value instead of
    /// leaving it in its slot (the send reports success).
    #[test]
    fn loom_receiver_drop_races_send() {
        loom::model(|| {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = bounded::<Counted>(0);
            let sender = {
                let drops = drops.clone();
                thread::spawn(move || tx.send(Counted(drops)).is_err())
            };
            drop(rx);
            assert!(sender.join().unwrap(), "a send nobody received succeeded");
            assert_eq!(drops.load(Ordering::Relaxed), 1, "value dropped != once");
        });
    }

    /// Two receivers drain a one-slot channel while its only sender sends
    /// nothing or one value and closes: the value, if any, reaches exactly
    /// one of them, and both then see the disconnect (with nothing sent,
    /// both may be waiting when the close comes). The sender is the model's
    /// main thread, which never waits: loom's `JoinHandle::join` trips on
    /// a thread left with an unpark it did not need.
    /// Caught: `disconnect_senders` waking only the first waiting receiver
    /// (loom: the second sleeps forever, a deadlock).
    #[test]
    fn loom_two_receivers_race_close() {
        for n in [0u32, 1] {
            loom::model(move || {
                let (tx, rx) = bounded::<u32>(1);
                let receivers: Vec<_> = [rx.clone(), rx]
                    .into_iter()
                    .map(|rx| thread::spawn(move || rx.iter().collect::<Vec<_>>()))
                    .collect();
                (1..=n).for_each(|v| tx.send(v).expect("receivers are alive"));
                drop(tx);
                let got: Vec<u32> = receivers
                    .into_iter()
                    .flat_map(|r| r.join().unwrap())
                    .collect();
                let want: Vec<u32> = (1..=n).collect();
                assert_eq!(got, want, "not every value received exactly once");
            });
        }
    }
}
