//! Channels: Go's `chan T`, with crossbeam-channel's API.
//!
//! [`bounded`]`(cap)` makes a channel and returns its two ends. Capacity 0 is
//! Go's unbuffered channel: a send completes only when a receiver takes the
//! value. Both ends are `Clone` (many producers, many consumers). Waiting
//! parks a goroutine — its M runs other goroutines meanwhile — and blocks a
//! plain thread.
//!
//! Go's `close(ch)` is dropping the last [`Sender`]: receivers then drain
//! what is buffered and get `Err(RecvError)` (Go's `v, ok := <-ch` with
//! `ok == false`; `for v in rx` is Go's `for v := range ch`). Dropping the
//! last [`Receiver`] makes sends fail with the value given back, where Go
//! would block forever.
//!
//! ```
//! use gort::chan;
//!
//! let (tx, rx) = chan::bounded(0);
//! let producer = gort::go!(move || {
//!     for i in 1..=3 {
//!         tx.send(i).unwrap();
//!     }
//!     // tx is dropped here: Go's close(ch).
//! });
//! let got: Vec<i32> = rx.iter().collect();
//! assert_eq!(got, [1, 2, 3]);
//! producer.join().unwrap();
//! ```
//!
//! The machinery is in `chan/hchan.rs` (the channel) and `wait/sudog.rs` (waiting);
//! `select!` is in `chan/select.rs`.

mod error;
mod future;
mod hchan;
mod iter;
pub(crate) mod select;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use future::{RecvFut, RecvStream, SendFut};
pub use iter::{IntoIter, Iter, TryIter};

use crate::chan::hchan::Chan;
use crate::testing::bubble;

/// The shared part of a channel: the channel and its end counts.
struct Shared<T> {
    chan: Chan<T>,
    /// Live Senders. A count like an `Arc`'s: Relaxed increments (the
    /// clone's source keeps it alive), AcqRel decrements so the last one
    /// sees every other end's work before it disconnects.
    senders: AtomicUsize,
    /// Live Receivers; same orderings.
    receivers: AtomicUsize,
}

/// Makes a channel with room for `cap` messages; `cap == 0` is an
/// unbuffered (rendezvous) channel. Go's `make(chan T, cap)`.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(2);
/// tx.send("a").unwrap();
/// tx.send("b").unwrap(); // two fit without a receiver
/// assert!(tx.try_send("c").is_err());
/// assert_eq!(rx.recv(), Ok("a"));
/// ```
pub fn bounded<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    bounded_in(cap, bubble::current_id())
}

/// [`bounded`], for virtual-time bubble `bubble` (testing/bubble.rs) rather
/// than the caller's: what a wait on it counts as there.
pub(crate) fn bounded_in<T>(cap: usize, bubble: u64) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        chan: Chan::new(cap, bubble),
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending end of a channel. Clone it for more producers; when the last
/// one is dropped the channel is disconnected (Go's `close`).
///
/// ```
/// let (tx, rx) = gort::chan::bounded(8);
/// for i in 0..4 {
///     let tx = tx.clone();
///     gort::go!(move || tx.send(i).unwrap());
/// }
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 2, 3]);
/// ```
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving end of a channel. Clone it for more consumers; each message
/// goes to exactly one of them.
///
/// ```
/// let (tx, rx) = gort::chan::bounded(1);
/// gort::go!(move || tx.send(42).unwrap());
/// assert_eq!(rx.recv(), Ok(42));
/// assert!(rx.recv().is_err()); // the sender is gone
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `msg` from async code, on any executor: the future completes
    /// when a receiver has the value or it is buffered (Go's send), and
    /// fails, giving `msg` back, if every receiver is gone. The executor's
    /// thread never blocks. Dropping the future before it completes
    /// withdraws the send (once a receiver has taken the value, the send
    /// has happened).
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(0);
    /// let h = gort::go!(move || rx.recv().unwrap()); // a goroutine, blocking
    /// gort::block_on(async { tx.send_async(7).await.unwrap() }); // async
    /// assert_eq!(h.join().unwrap(), 7);
    /// ```
    pub fn send_async(&self, msg: T) -> SendFut<'_, T> {
        SendFut::new(&self.shared.chan, msg)
    }

    /// Sends `msg`, waiting while the channel is full (unbuffered: until a
    /// receiver takes it). Fails, giving `msg` back, if every receiver is
    /// gone — also while waiting.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(0);
    /// let h = gort::go!(move || rx.recv().unwrap());
    /// tx.send(5).unwrap(); // returns once the goroutine has the value
    /// assert_eq!(h.join().unwrap(), 5);
    /// ```
    pub fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.shared.chan.send(msg, None).map_err(|e| match e {
            SendTimeoutError::Disconnected(v) | SendTimeoutError::Timeout(v) => SendError(v),
        })
    }

    /// Sends `msg` if that can be done without waiting.
    ///
    /// ```
    /// use gort::chan::TrySendError;
    /// let (tx, _rx) = gort::chan::bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// ```
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.shared.chan.try_send(msg)
    }

    /// Like [`send`](Sender::send), but gives up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// assert!(tx.send_timeout(1, Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(msg, crate::time::deadline_after(timeout))
    }

    /// Like [`send`](Sender::send), but gives up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, rx) = gort::chan::bounded(1);
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(tx.send_deadline(1, soon), Ok(()));
    /// assert!(tx.send_deadline(2, soon).is_err());
    /// drop(rx);
    /// ```
    pub fn send_deadline(&self, msg: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.shared.chan.send(msg, Some(deadline))
    }

    /// Messages buffered now.
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(4);
    /// tx.send(()).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.chan.len()
    }

    /// True if no message is buffered.
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the buffer is full (always, for an unbuffered channel).
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(1);
    /// tx.send(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.chan.cap
    }

    /// The buffer's capacity: always `Some` (the `Option` keeps
    /// crossbeam-channel's signature, where unbounded channels say `None`).
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded::<u8>(3);
    /// assert_eq!(tx.capacity(), Some(3));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        Some(self.shared.chan.cap)
    }

    /// True if both ends belong to the same channel.
    ///
    /// ```
    /// let (a, _r) = gort::chan::bounded::<u8>(0);
    /// let (b, _s) = gort::chan::bounded::<u8>(0);
    /// assert!(a.same_channel(&a.clone()) && !a.same_channel(&b));
    /// ```
    pub fn same_channel(&self, other: &Sender<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The channel, for chan/select.rs.
    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.shared.chan
    }
}

impl<T> Receiver<T> {
    /// Receives from async code, on any executor: the future completes with
    /// the next message, or fails once the channel is empty and every
    /// sender is gone (Go's receive). The executor's thread never blocks.
    /// Dropping the future before it completes loses nothing: a message
    /// that already reached it goes back to the channel.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(0);
    /// gort::go!(move || tx.send("hi").unwrap()); // a goroutine, blocking
    /// let got = gort::block_on(async { rx.recv_async().await }); // async
    /// assert_eq!(got, Ok("hi"));
    /// ```
    pub fn recv_async(&self) -> RecvFut<'_, T> {
        RecvFut::new(&self.shared.chan)
    }

    /// The messages as a `futures_core::Stream` for async code: each item
    /// is a `recv_async`, and the stream ends once the channel is empty and
    /// every sender is gone.
    ///
    /// ```
    /// use futures_core::Stream;
    /// let (tx, rx) = gort::chan::bounded(0);
    /// gort::go!(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// let mut s = std::pin::pin!(rx.stream());
    /// let sum = gort::block_on(async {
    ///     let mut sum = 0;
    ///     while let Some(v) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
    ///         sum += v;
    ///     }
    ///     sum
    /// });
    /// assert_eq!(sum, 6);
    /// ```
    pub fn stream(&self) -> RecvStream<'_, T> {
        RecvStream::new(&self.shared.chan)
    }

    /// Receives a message, waiting until one arrives. Fails once the channel
    /// is empty and every sender is gone (Go: a closed, drained channel).
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// tx.send('x').unwrap();
    /// drop(tx);
    /// assert_eq!(rx.recv(), Ok('x')); // buffered values drain first
    /// assert!(rx.recv().is_err());
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.shared.chan.recv(None).map_err(|_| RecvError)
    }

    /// Receives a message if one is ready now.
    ///
    /// ```
    /// use gort::chan::TryRecvError;
    /// let (tx, rx) = gort::chan::bounded(1);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.chan.try_recv()
    }

    /// Like [`recv`](Receiver::recv), but gives up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// assert!(rx.recv_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(crate::time::deadline_after(timeout))
    }

    /// Like [`recv`](Receiver::recv), but gives up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// let r = rx.recv_deadline(Instant::now() + Duration::from_millis(2));
    /// assert!(r.is_err());
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.shared.chan.recv(Some(deadline))
    }

    /// Messages buffered now.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(4);
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared.chan.len()
    }

    /// True if no message is buffered.
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::bounded::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if the buffer is full (always, for an unbuffered channel).
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.shared.chan.cap
    }

    /// The buffer's capacity: always `Some` (see [`Sender::capacity`]).
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::bounded::<u8>(0);
    /// assert_eq!(rx.capacity(), Some(0));
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        Some(self.shared.chan.cap)
    }

    /// True if both ends belong to the same channel.
    ///
    /// ```
    /// let (_t, a) = gort::chan::bounded::<u8>(0);
    /// assert!(a.same_channel(&a.clone()));
    /// ```
    pub fn same_channel(&self, other: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// A blocking iterator: yields messages until the channel is empty and
    /// disconnected (Go's `for v := range ch`).
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(3);
    /// for i in 0..3 { tx.send(i).unwrap(); }
    /// drop(tx);
    /// assert_eq!(rx.iter().sum::<i32>(), 3);
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter::new(self)
    }

    /// A non-blocking iterator: yields the messages ready now.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(3);
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().count(), 2);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter::new(self)
    }

    /// The channel, for chan/select.rs.
    pub(crate) fn chan(&self) -> &Chan<T> {
        &self.shared.chan
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        // Relaxed: see `Shared::senders`.
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        // Relaxed: see `Shared::senders`.
        self.shared.receivers.fetch_add(1, Ordering::Relaxed);
        Receiver {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: see `Shared::senders`.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.chan.disconnect_senders();
        }
    }
}

impl<T> Receiver<T> {
    /// The channel's identity: equal for two ends of one channel.
    pub(crate) fn chan_addr(&self) -> usize {
        Arc::as_ptr(&self.shared) as *const () as usize
    }
}

/// Runs `f` once, when the last `Receiver` of `rx`'s channel is dropped
/// (after it disconnects). Replaces an earlier hook.
pub(crate) fn on_receivers_gone<T>(rx: &Receiver<T>, f: impl FnOnce() + Send + 'static) {
    rx.shared.chan.set_on_rx_gone(Box::new(f));
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // AcqRel: see `Shared::senders`.
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.chan.disconnect_receivers();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}
