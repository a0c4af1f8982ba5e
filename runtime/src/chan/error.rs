//! error — the channel errors, shaped like crossbeam-channel's so code moves
//! between the two unchanged. A failed send always gives the value back.

#![forbid(unsafe_code)]

use std::error::Error;
use std::fmt;

/// A `send` failed because every `Receiver` is gone; holds the message.
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<i32>(1);
/// drop(rx);
/// assert_eq!(tx.send(7), Err(gort::chan::SendError(7)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// A `try_send` failed; holds the message.
///
/// ```
/// use gort::chan::TrySendError;
/// let (tx, _rx) = gort::chan::bounded::<i32>(0);
/// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The buffer is full (or, unbuffered, no receiver is waiting).
    Full(T),
    /// Every `Receiver` is gone.
    Disconnected(T),
}

/// A `send_timeout` failed; holds the message.
///
/// ```
/// use std::time::Duration;
/// use gort::chan::SendTimeoutError;
/// let (tx, _rx) = gort::chan::bounded::<i32>(0);
/// let r = tx.send_timeout(1, Duration::from_millis(1));
/// assert_eq!(r, Err(SendTimeoutError::Timeout(1)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum SendTimeoutError<T> {
    /// The deadline passed before a receiver took the message.
    Timeout(T),
    /// Every `Receiver` is gone.
    Disconnected(T),
}

/// A `recv` failed: the channel is empty and every `Sender` is gone (Go's
/// receive from a closed channel, `v, ok := <-ch` with `ok == false`).
///
/// ```
/// let (tx, rx) = gort::chan::bounded::<i32>(1);
/// drop(tx);
/// assert_eq!(rx.recv(), Err(gort::chan::RecvError));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvError;

/// A `try_recv` failed.
///
/// ```
/// use gort::chan::TryRecvError;
/// let (_tx, rx) = gort::chan::bounded::<i32>(1);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing to receive now.
    Empty,
    /// Empty, and every `Sender` is gone.
    Disconnected,
}

/// A `recv_timeout` failed.
///
/// ```
/// use std::time::Duration;
/// use gort::chan::RecvTimeoutError;
/// let (_tx, rx) = gort::chan::bounded::<i32>(1);
/// assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum RecvTimeoutError {
    /// The deadline passed with nothing received.
    Timeout,
    /// Empty, and every `Sender` is gone.
    Disconnected,
}

impl<T> SendError<T> {
    /// The message that could not be sent.
    ///
    /// ```
    /// assert_eq!(gort::chan::SendError("m").into_inner(), "m");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> TrySendError<T> {
    /// The message that could not be sent.
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// assert_eq!(tx.try_send(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Disconnected(v) => v,
        }
    }

    /// True for `Full`.
    ///
    /// ```
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// assert!(tx.try_send(1).unwrap_err().is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }

    /// True for `Disconnected`.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded(1);
    /// drop(rx);
    /// assert!(tx.try_send(1).unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TrySendError::Disconnected(_))
    }
}

impl<T> SendTimeoutError<T> {
    /// The message that could not be sent.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// let e = tx.send_timeout('x', Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(e.into_inner(), 'x');
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SendTimeoutError::Timeout(v) | SendTimeoutError::Disconnected(v) => v,
        }
    }

    /// True for `Timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = gort::chan::bounded(0);
    /// assert!(tx.send_timeout(1, Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, SendTimeoutError::Timeout(_))
    }

    /// True for `Disconnected`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = gort::chan::bounded(0);
    /// drop(rx);
    /// let e = tx.send_timeout(1, Duration::from_secs(1)).unwrap_err();
    /// assert!(e.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, SendTimeoutError::Disconnected(_))
    }
}

impl TryRecvError {
    /// True for `Empty`.
    ///
    /// ```
    /// let (_tx, rx) = gort::chan::bounded::<u8>(1);
    /// assert!(rx.try_recv().unwrap_err().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryRecvError::Empty)
    }

    /// True for `Disconnected`.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::bounded::<u8>(1);
    /// drop(tx);
    /// assert!(rx.try_recv().unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }
}

impl RecvTimeoutError {
    /// True for `Timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = gort::chan::bounded::<u8>(1);
    /// assert!(rx.recv_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }

    /// True for `Disconnected`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, rx) = gort::chan::bounded::<u8>(1);
    /// drop(tx);
    /// assert!(rx.recv_timeout(Duration::from_secs(1)).unwrap_err().is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvTimeoutError::Disconnected)
    }
}

// Debug without `T: Debug` (the message is often not printable), as
// crossbeam-channel and std's mpsc do.
impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError { .. }")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            SendTimeoutError::Disconnected(_) => f.write_str("Disconnected(..)"),
        }
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a disconnected channel")
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
            SendTimeoutError::Disconnected(_) => f.write_str("sending on a disconnected channel"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receiving on an empty and disconnected channel")
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => {
                f.write_str("receiving on an empty and disconnected channel")
            }
        }
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting on receive operation"),
            RecvTimeoutError::Disconnected => f.write_str("channel is empty and disconnected"),
        }
    }
}

impl<T: Send> Error for SendError<T> {}
impl<T: Send> Error for TrySendError<T> {}
impl<T: Send> Error for SendTimeoutError<T> {}
impl Error for RecvError {}
impl Error for TryRecvError {}
impl Error for RecvTimeoutError {}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        TrySendError::Disconnected(e.0)
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        SendTimeoutError::Disconnected(e.0)
    }
}

impl From<RecvError> for TryRecvError {
    fn from(_: RecvError) -> Self {
        TryRecvError::Disconnected
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(_: RecvError) -> Self {
        RecvTimeoutError::Disconnected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_values() {
        assert_eq!(
            SendError(3).to_string(),
            "sending on a disconnected channel"
        );
        assert_eq!(TrySendError::Full(1).into_inner(), 1);
        assert!(SendTimeoutError::Timeout(()).is_timeout());
        assert_eq!(format!("{:?}", SendError(vec![1])), "SendError { .. }");
        let e: Box<dyn Error> = Box::new(RecvTimeoutError::Timeout);
        assert_eq!(e.to_string(), "timed out waiting on receive operation");
    }
}
