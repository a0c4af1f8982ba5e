//! context — Go's `context` package: a [`Context`] carries a cancellation
//! signal and a deadline down a call tree. Cancelling a context cancels
//! every context derived from it; [`Context::done`] is a channel that
//! disconnects at that moment, so it works in `select!` beside any other
//! channel, and waiting on it parks the goroutine.
//!
//! ```
//! use std::time::Duration;
//! use gort::context::{self, ContextError};
//!
//! let (ctx, cancel) = context::background().with_timeout(Duration::from_secs(5));
//! let worker = {
//!     let ctx = ctx.clone();
//!     gort::go!(move || {
//!         let (_tx, jobs) = gort::chan::bounded::<u32>(0);
//!         gort::select! {
//!             recv(jobs) -> _ => None,
//!             recv(ctx.done()) -> _ => ctx.err(),
//!         }
//!     })
//! };
//! cancel.cancel();
//! assert_eq!(worker.join().unwrap(), Some(ContextError::Canceled));
//! ```
//!
//! The tree and its rules (registration, cancelling, why abandoned contexts
//! leak nothing) are in context/tree.rs; [`after_func`] in
//! context/after_func.rs.

#![forbid(unsafe_code)]

mod after_func;
mod tree;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chan::Receiver;
use tree::Node;

pub use after_func::{after_func, AfterFuncStop};

/// Why a context was cancelled, as its creator said (Go's `context.Cause`).
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// A context's error once it is done (Go's `context.Canceled` and
/// `context.DeadlineExceeded`).
///
/// ```
/// use gort::context::ContextError;
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// assert_eq!(ContextError::DeadlineExceeded.to_string(), "context deadline exceeded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Cancelled by a `CancelFn` (or an ancestor's).
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

/// A cancellation signal and an optional deadline, passed down a call tree
/// (Go's `context.Context`). Cheap to clone (one reference count), `Send`
/// and `Sync`. Derive children with [`with_cancel`](Context::with_cancel),
/// [`with_timeout`](Context::with_timeout),
/// [`with_deadline`](Context::with_deadline) and
/// [`with_cancel_cause`](Context::with_cancel_cause).
///
/// ```
/// let root = gort::context::background();
/// let (child, cancel) = root.with_cancel();
/// let (grandchild, _cancel2) = child.with_cancel();
/// cancel.cancel();
/// assert!(grandchild.err().is_some());
/// assert!(root.err().is_none());
/// ```
#[derive(Clone)]
pub struct Context(Arc<Node>);

/// Cancels the context it came with, and every context derived from it
/// (Go's `CancelFunc`). Calling it again does nothing. Dropping it does not
/// cancel, as in Go: call [`cancel`](CancelFn::cancel) when the work is done
/// (a context dropped uncancelled is freed with its timer all the same).
///
/// ```
/// let (ctx, cancel) = gort::context::background().with_cancel();
/// cancel.cancel();
/// cancel.cancel(); // no effect
/// assert!(ctx.done().recv().is_err()); // done: disconnected
/// ```
pub struct CancelFn(Arc<Node>);

/// The root context: never cancelled, no deadline (Go's
/// `context.Background()`). Its `done()` never disconnects.
///
/// ```
/// let ctx = gort::context::background();
/// assert!(ctx.err().is_none() && ctx.deadline().is_none());
/// assert!(ctx.done().try_recv().is_err());
/// ```
pub fn background() -> Context {
    static BACKGROUND: std::sync::OnceLock<Context> = std::sync::OnceLock::new();
    BACKGROUND
        .get_or_init(|| Context(Node::background()))
        .clone()
}

impl Context {
    /// A child cancelled by the returned `CancelFn` or with this context
    /// (Go's `context.WithCancel`).
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// assert!(ctx.err().is_none());
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(gort::context::ContextError::Canceled));
    /// ```
    pub fn with_cancel(&self) -> (Context, CancelFn) {
        let n = Node::child(&self.0, self.0.deadline);
        (Context(n.clone()), CancelFn(n))
    }

    /// Like [`with_cancel`](Context::with_cancel); cancel it with
    /// [`CancelFn::cancel_with`] to record why, which [`cause`](Context::cause)
    /// then reports on it and its descendants (Go's `WithCancelCause`).
    ///
    /// ```
    /// use std::io;
    /// let (ctx, cancel) = gort::context::background().with_cancel_cause();
    /// cancel.cancel_with(io::Error::other("disk full"));
    /// assert_eq!(ctx.cause().unwrap().to_string(), "disk full");
    /// assert_eq!(ctx.err(), Some(gort::context::ContextError::Canceled));
    /// ```
    pub fn with_cancel_cause(&self) -> (Context, CancelFn) {
        self.with_cancel()
    }

    /// A child that is cancelled with `DeadlineExceeded` at `deadline`, or
    /// earlier by the `CancelFn` or with this context (Go's
    /// `WithDeadline`). A deadline later than this context's is this
    /// context's. Cancelling early releases the timer at once.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let at = Instant::now() + Duration::from_millis(5);
    /// let (ctx, _cancel) = gort::context::background().with_deadline(at);
    /// assert_eq!(ctx.deadline(), Some(at));
    /// assert!(ctx.done().recv().is_err());
    /// assert_eq!(ctx.err(), Some(gort::context::ContextError::DeadlineExceeded));
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFn) {
        if self.0.deadline.is_some_and(|d| d <= deadline) {
            return self.with_cancel();
        }
        let n = Node::child(&self.0, Some(deadline));
        if deadline <= crate::time::now() {
            n.cancel_self(ContextError::DeadlineExceeded, None);
        } else {
            n.arm_deadline(deadline);
        }
        (Context(n.clone()), CancelFn(n))
    }

    /// [`with_deadline`](Context::with_deadline) at `d` from now (Go's
    /// `WithTimeout`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (ctx, cancel) = gort::context::background().with_timeout(Duration::from_secs(60));
    /// assert!(ctx.deadline().is_some());
    /// cancel.cancel(); // releases the timer now
    /// assert_eq!(ctx.err(), Some(gort::context::ContextError::Canceled));
    /// ```
    pub fn with_timeout(&self, d: Duration) -> (Context, CancelFn) {
        self.with_deadline(crate::time::deadline_after(d))
    }

    /// A channel that disconnects when this context is cancelled (Go's
    /// `Done()`): a receive returns `Err` from then on, and a `select!` case
    /// on it fires. No value is ever sent. Background's never disconnects.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// let waiter = gort::go!(move || ctx.done().recv().is_err());
    /// cancel.cancel();
    /// assert!(waiter.join().unwrap());
    /// ```
    pub fn done(&self) -> &Receiver<()> {
        self.0.done()
    }

    /// None while the context is live; why it ended once it is done (Go's
    /// `Err()`).
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(gort::context::ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.0.err()
    }

    /// When this context is cancelled by a deadline, if it has one (its own
    /// or an ancestor's, the earliest).
    ///
    /// ```
    /// use std::time::Duration;
    /// let (parent, _c1) = gort::context::background().with_timeout(Duration::from_secs(1));
    /// let (child, _c2) = parent.with_timeout(Duration::from_secs(60));
    /// assert_eq!(child.deadline(), parent.deadline());
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.0.deadline
    }

    /// Why the context was cancelled (Go's `context.Cause`): the cause given
    /// to [`CancelFn::cancel_with`] on it or an ancestor, else its
    /// [`err`](Context::err) as an error; None while live.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// assert!(ctx.cause().is_none());
    /// cancel.cancel();
    /// assert_eq!(ctx.cause().unwrap().to_string(), "context canceled");
    /// ```
    pub fn cause(&self) -> Option<Cause> {
        self.0.cause()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.0.deadline)
            .field("err", &self.0.err())
            .finish()
    }
}

impl CancelFn {
    /// Cancels the context with `Canceled` (module docs). Idempotent.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// cancel.cancel();
    /// assert!(ctx.err().is_some());
    /// ```
    pub fn cancel(&self) {
        self.0.cancel_self(ContextError::Canceled, None);
    }

    /// Cancels with `Canceled` and records `cause`, reported by
    /// [`Context::cause`] on the context and its descendants (Go's
    /// `CancelCauseFunc`). A context cancelled before keeps its first cause.
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel_cause();
    /// let (child, _c) = ctx.with_cancel();
    /// cancel.cancel_with(std::io::Error::other("shutting down"));
    /// assert_eq!(child.cause().unwrap().to_string(), "shutting down");
    /// ```
    pub fn cancel_with(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        let cause: Cause = Arc::from(cause.into());
        self.0.cancel_self(ContextError::Canceled, Some(cause));
    }
}

impl fmt::Debug for CancelFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CancelFn { .. }")
    }
}
