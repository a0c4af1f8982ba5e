//! future — a channel's ends as futures, for async code on any executor:
//! [`SendFut`] (`Sender::send_async`) and [`RecvFut`]
//! (`Receiver::recv_async`), with Go's semantics. A goroutine on the other
//! end uses the blocking forms; `select!` keeps working beside them.
//!
//! A future that cannot complete at once links a sudog of its own — inside
//! the future, which is pinned — in the channel's queue, like a parked
//! goroutine's, with a waiter that wakes the future's task instead of
//! readying a goroutine (wait/waiter.rs `Waiter::Task`). The peer that
//! completes it moves the value under the channel's lock, as for any waiter;
//! the next poll sees `done` and returns.
//!
//! Dropping a pending future withdraws its wait under the lock: a send
//! future still queued takes its value back (it was not sent; once a
//! receiver has taken it, the send has happened); a receive future that a
//! sender had already filled gives the value back to the channel — to a
//! waiting receiver, or to the head of the buffer — so nothing is lost and
//! nothing is received twice.

use std::future::Future;
use std::marker::PhantomPinned;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use atomic_waker::AtomicWaker;

use super::hchan::Chan;
use super::{RecvError, SendError, TryRecvError, TrySendError};
use crate::wait::sudog::{Sudog, WaitCtx};

/// The wait of a future that could not complete at once: its waker slot and
/// wait record, and the sudog linked in the channel's queue. Lives inside a
/// pinned future, so its address is stable while the sudog is linked.
struct Pending<T> {
    slot: Arc<AtomicWaker>,
    ctx: WaitCtx,
    node: Sudog<T>,
}

impl<T> Pending<T> {
    fn new(cx: &Context<'_>, value: Option<T>) -> Pending<T> {
        let slot = Arc::new(AtomicWaker::new());
        // Registered before the sudog is linked: a peer that completes the
        // wait right after finds the waker.
        slot.register(cx.waker());
        Pending {
            ctx: WaitCtx::for_task(slot.clone()),
            slot,
            node: Sudog::new(value),
        }
    }

    /// Re-arms the waker; true once a peer has completed the wait.
    fn done(&self, cx: &Context<'_>) -> bool {
        self.slot.register(cx.waker());
        self.ctx.is_done()
    }

    /// The slot as the peer left it.
    fn take(&self) -> Option<T> {
        // SAFETY: called only after `done` returned true: the peer unlinked
        // the sudog and published `done` (Acquire in `is_done`).
        unsafe { self.node.slot_owned() }.take()
    }
}

/// What a channel future is doing.
enum State<T> {
    /// Not polled yet (a send holds its value).
    Start(Option<T>),
    /// Linked in the channel's queue.
    Waiting(Pending<T>),
    /// Completed, or withdrawn.
    Done,
}

/// The future of [`Sender::send_async`](super::Sender::send_async).
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// let fut: gort::chan::SendFut<'_, u8> = tx.send_async(1);
/// gort::block_on(fut).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendFut<'a, T> {
    chan: &'a Chan<T>,
    state: State<T>,
    /// A linked sudog points into `state`: the future must not move.
    _pin: PhantomPinned,
}

/// The future of [`Receiver::recv_async`](super::Receiver::recv_async).
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// tx.send(2).unwrap();
/// let fut: gort::chan::RecvFut<'_, u8> = rx.recv_async();
/// assert_eq!(gort::block_on(fut), Ok(2));
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct RecvFut<'a, T> {
    chan: &'a Chan<T>,
    state: State<T>,
    /// A linked sudog points into `state`: the future must not move.
    _pin: PhantomPinned,
}

// SAFETY: the sudog's links are touched only under the channel's lock, and
// its slot by one party at a time (wait/sudog.rs); the rest is owned data.
// Moving the future to another thread moves a `T` with it: `T: Send`.
unsafe impl<T: Send> Send for SendFut<'_, T> {}
// SAFETY: as for SendFut.
unsafe impl<T: Send> Send for RecvFut<'_, T> {}

impl<'a, T> SendFut<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>, msg: T) -> Self {
        SendFut {
            chan,
            state: State::Start(Some(msg)),
            _pin: PhantomPinned,
        }
    }
}

impl<'a, T> RecvFut<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        RecvFut {
            chan,
            state: State::Start(None),
            _pin: PhantomPinned,
        }
    }
}

impl<T> Future for SendFut<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: nothing is moved out of the pinned future: `state` is
        // replaced only while no sudog in it is linked (Start, or a Waiting
        // whose peer has unlinked it).
        let this = unsafe { self.get_unchecked_mut() };
        match &mut this.state {
            State::Start(msg) => {
                let msg = msg.take().expect("SendFut: Start holds the message");
                let msg = match this.chan.try_send(msg) {
                    Ok(()) => return this.finish(Ok(())),
                    Err(TrySendError::Disconnected(v)) => return this.finish(Err(SendError(v))),
                    Err(TrySendError::Full(v)) => v,
                };
                this.state = State::Waiting(Pending::new(cx, None));
                let State::Waiting(p) = &this.state else {
                    unreachable!()
                };
                let mut linked = false;
                // SAFETY: the sudog and ctx live in the pinned future and are
                // unlinked by a peer or by `Drop` (cancel_send) before it goes.
                let r = unsafe {
                    this.chan
                        .send_or_register(msg, &p.node, &p.ctx, &mut linked)
                };
                match r {
                    Ok(()) if linked => Poll::Pending,
                    Ok(()) => this.finish(Ok(())),
                    Err(v) => this.finish(Err(SendError(v))),
                }
            }
            State::Waiting(p) => {
                if !p.done(cx) {
                    return Poll::Pending;
                }
                // The value still in the slot: every receiver went away.
                let r = p.take().map_or(Ok(()), |v| Err(SendError(v)));
                this.finish(r)
            }
            State::Done => panic!("gort: SendFut polled after it completed"),
        }
    }
}

impl<T> SendFut<'_, T> {
    fn finish(&mut self, r: Result<(), SendError<T>>) -> Poll<Result<(), SendError<T>>> {
        self.state = State::Done;
        Poll::Ready(r)
    }
}

impl<T> Drop for SendFut<'_, T> {
    fn drop(&mut self) {
        if let State::Waiting(p) = &self.state {
            // SAFETY: the sudog was registered only by send_or_register on
            // this channel. A value given back was not sent: dropped.
            drop(unsafe { self.chan.cancel_send(&p.node) });
        }
    }
}

impl<T> Future for RecvFut<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: as in SendFut::poll.
        let this = unsafe { self.get_unchecked_mut() };
        match &mut this.state {
            State::Start(_) => {
                match this.chan.try_recv() {
                    Ok(v) => return this.finish(Ok(v)),
                    Err(TryRecvError::Disconnected) => return this.finish(Err(RecvError)),
                    Err(TryRecvError::Empty) => {}
                }
                this.state = State::Waiting(Pending::new(cx, None));
                let State::Waiting(p) = &this.state else {
                    unreachable!()
                };
                // SAFETY: as in SendFut::poll, with cancel_recv.
                match unsafe { this.chan.recv_or_register(&p.node, &p.ctx) } {
                    Ok(None) => Poll::Pending,
                    Ok(Some(v)) => this.finish(Ok(v)),
                    Err(e) => this.finish(Err(e)),
                }
            }
            State::Waiting(p) => {
                if !p.done(cx) {
                    return Poll::Pending;
                }
                // An empty slot: the channel was disconnected.
                let r = p.take().ok_or(RecvError);
                this.finish(r)
            }
            State::Done => panic!("gort: RecvFut polled after it completed"),
        }
    }
}

impl<T> RecvFut<'_, T> {
    fn finish(&mut self, r: Result<T, RecvError>) -> Poll<Result<T, RecvError>> {
        self.state = State::Done;
        Poll::Ready(r)
    }
}

impl<T> Drop for RecvFut<'_, T> {
    fn drop(&mut self) {
        if let State::Waiting(p) = &self.state {
            // SAFETY: registered only by recv_or_register on this channel.
            unsafe { self.chan.cancel_recv(&p.node) };
        }
    }
}

/// The messages of a channel as a `futures_core::Stream` (see
/// [`Receiver::stream`](super::Receiver::stream)): `recv_async` again and
/// again, ending when the channel is empty and every sender is gone.
///
/// ```
/// use futures_core::Stream;
/// let (tx, rx) = gort::chan::bounded(1);
/// drop(tx);
/// let mut s: std::pin::Pin<Box<gort::chan::RecvStream<'_, u8>>> = Box::pin(rx.stream());
/// let end = gort::block_on(std::future::poll_fn(|cx| s.as_mut().poll_next(cx)));
/// assert_eq!(end, None); // no senders: the stream ends
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct RecvStream<'a, T> {
    chan: &'a Chan<T>,
    /// The receive in progress. Pinned with the stream.
    next: Option<RecvFut<'a, T>>,
    _pin: PhantomPinned,
}

// SAFETY: as for RecvFut.
unsafe impl<T: Send> Send for RecvStream<'_, T> {}

impl<'a, T> RecvStream<'a, T> {
    pub(super) fn new(chan: &'a Chan<T>) -> Self {
        RecvStream {
            chan,
            next: None,
            _pin: PhantomPinned,
        }
    }
}

impl<T> futures_core::Stream for RecvStream<'_, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: `next` is never moved out: it is set in place, polled in
        // place and dropped in place.
        let this = unsafe { self.get_unchecked_mut() };
        let chan = this.chan;
        let fut = this.next.get_or_insert_with(|| RecvFut::new(chan));
        // SAFETY: `fut` lives in the pinned stream (above).
        let r = unsafe { Pin::new_unchecked(fut) }.poll(cx);
        match r {
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => {
                this.next = None;
                Poll::Ready(r.ok())
            }
        }
    }
}
