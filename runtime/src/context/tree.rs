//! tree — the cancellation tree under every [`Context`](super::Context):
//! Go's `cancelCtx` and `timerCtx` (context.go). A node knows its parent,
//! its deadline, and, under its lock, whether and why it was cancelled, the
//! sender that keeps its `done` channel open, its children, its deadline
//! timer and its `after_func` callbacks.
//!
//! # Cancelling
//! `cancel` records the error and cause under the node's lock and takes
//! everything out; outside it, it drops the done sender (every receiver of
//! `done()` sees the channel disconnect: Go's `close(done)`), releases the
//! timer, starts the `after_func` callbacks as goroutines, and cancels the
//! children with the same error and cause, iteratively (a chain of 10,000
//! contexts must not overflow the stack of whichever thread cancels, which
//! may be a timer running on a scheduler stack). A node cancelled by its own
//! `CancelFn` or timer then leaves its parent's child list.
//!
//! # Registering, and why nothing leaks
//! A new child registers with its nearest cancellable ancestor under that
//! ancestor's lock, so a concurrent cancel of the parent either sees the
//! child or the child sees the parent's error and cancels itself at once.
//! The parent holds children weakly: a child nobody holds any more (its
//! `Context` and `CancelFn` dropped without cancelling, which Go reports as
//! a leak) is freed, its timer released by `Drop`, and its dead entry
//! pruned at the parent's next registrations. Background never cancels, so
//! its children are not registered anywhere.
//!
//! # Locks
//! One node's lock at a time: `cancel` collects under the lock and acts
//! outside it; `remove_child` takes only the parent's.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use super::{Cause, ContextError};
use crate::chan::{self, Receiver, Sender};
use crate::lock::Mutex;
use crate::testing::bubble;
use crate::time::{add_timer, cancel_timer, TimerId};

/// Fewest child entries before dead ones are pruned.
const PRUNE_MIN: usize = 64;

/// A context node. Invariants: `parent` is the nearest cancellable
/// ancestor (None below Background); `deadline` is the earliest of its own
/// and its ancestors'; once `Inner::err` is Some it never changes.
pub(crate) struct Node {
    parent: Option<Arc<Node>>,
    /// This node's key in its parent's `children`.
    key: u64,
    pub(crate) deadline: Option<Instant>,
    /// False for Background: never cancelled.
    cancellable: bool,
    /// Made on first `done()`.
    done_rx: OnceLock<Receiver<()>>,
    /// The virtual-time bubble the node was made in (testing/bubble.rs),
    /// which its `done` channel belongs to wherever it is first asked for:
    /// a deadline set outside runs on real time, so a wait on it inside is
    /// not durable. `bubble::ANY` for Background, which never closes.
    bubble: u64,
    inner: Mutex<Inner>,
}

/// Everything under a node's lock.
#[derive(Default)]
struct Inner {
    err: Option<ContextError>,
    cause: Option<Cause>,
    /// Keeps `done_rx`'s channel open until the cancel; None before the
    /// first `done()` and after the cancel.
    done_tx: Option<Sender<()>>,
    children: HashMap<u64, Weak<Node>>,
    next_key: u64,
    /// Prune dead children when `children` reaches this size.
    prune_at: usize,
    /// The deadline's timer, while armed.
    timer: Option<TimerId>,
    after_funcs: HashMap<u64, Box<dyn FnOnce() + Send>>,
}

/// What one cancel took out of a node, to act on outside its lock.
struct Taken {
    done_tx: Option<Sender<()>>,
    timer: Option<TimerId>,
    after_funcs: Vec<Box<dyn FnOnce() + Send>>,
    children: Vec<Arc<Node>>,
}

impl Node {
    /// The root: never cancelled, no deadline.
    pub(crate) fn background() -> Arc<Node> {
        Arc::new(Node {
            parent: None,
            key: 0,
            deadline: None,
            cancellable: false,
            done_rx: OnceLock::new(),
            bubble: bubble::ANY,
            inner: Mutex::new(Inner::default()),
        })
    }

    /// A cancellable child of `parent` with `deadline` (already the
    /// earliest of the chain), registered with the nearest cancellable
    /// ancestor, or cancelled at once if that one is.
    pub(crate) fn child(parent: &Arc<Node>, deadline: Option<Instant>) -> Arc<Node> {
        let anchor = if parent.cancellable {
            Some(parent.clone())
        } else {
            parent.parent.clone()
        };
        let Some(anchor) = anchor else {
            return Node::new(None, 0, deadline);
        };
        let mut a = anchor.inner.lock();
        let key = a.next_key;
        a.next_key += 1;
        let node = Node::new(Some(anchor.clone()), key, deadline);
        if let Some(err) = a.err {
            let cause = a.cause.clone();
            drop(a);
            node.cancel(err, cause);
            return node;
        }
        if a.children.len() >= a.prune_at.max(PRUNE_MIN) {
            a.children.retain(|_, w| w.strong_count() > 0);
            a.prune_at = 2 * a.children.len();
        }
        a.children.insert(key, Arc::downgrade(&node));
        node
    }

    fn new(parent: Option<Arc<Node>>, key: u64, deadline: Option<Instant>) -> Arc<Node> {
        Arc::new(Node {
            parent,
            key,
            deadline,
            cancellable: true,
            done_rx: OnceLock::new(),
            bubble: bubble::current_id(),
            inner: Mutex::new(Inner::default()),
        })
    }

    /// Arms this node's deadline timer: at `when` it cancels itself with
    /// DeadlineExceeded. The timer holds the node weakly.
    pub(crate) fn arm_deadline(self: &Arc<Node>, when: Instant) {
        let weak = Arc::downgrade(self);
        let mut inner = self.inner.lock();
        if inner.err.is_some() {
            return;
        }
        inner.timer = Some(add_timer(when, move || {
            if let Some(n) = weak.upgrade() {
                n.cancel_self(ContextError::DeadlineExceeded, None);
            }
        }));
    }

    /// The channel that disconnects on cancel (made on first use).
    #[inline(never)]
    pub(crate) fn done(&self) -> &Receiver<()> {
        self.done_rx.get_or_init(|| {
            let (tx, rx) = chan::bounded_in(0, self.bubble);
            let mut inner = self.inner.lock();
            if self.cancellable && inner.err.is_none() {
                inner.done_tx = Some(tx);
            } else if !self.cancellable {
                // Background: never closes.
                std::mem::forget(tx);
            }
            rx
        })
    }

    #[inline(never)]
    pub(crate) fn err(&self) -> Option<ContextError> {
        self.inner.lock().err
    }

    /// The cause if cancelled: the one given, else the error itself.
    #[inline(never)]
    pub(crate) fn cause(&self) -> Option<Cause> {
        let inner = self.inner.lock();
        let err = inner.err?;
        Some(inner.cause.clone().unwrap_or_else(|| Arc::new(err)))
    }

    /// Cancels this node by its own `CancelFn` or timer: the whole subtree,
    /// then it leaves its parent.
    pub(crate) fn cancel_self(self: &Arc<Node>, err: ContextError, cause: Option<Cause>) {
        if self.cancel(err, cause) {
            if let Some(p) = &self.parent {
                p.remove_child(self.key);
            }
        }
    }

    /// Cancels this node and every descendant (module header). False if it
    /// was cancelled already.
    fn cancel(self: &Arc<Node>, err: ContextError, cause: Option<Cause>) -> bool {
        let Some(taken) = self.take_for_cancel(err, cause.clone()) else {
            return false;
        };
        let mut work = taken.act();
        while let Some(n) = work.pop() {
            if let Some(t) = n.take_for_cancel(err, cause.clone()) {
                work.extend(t.act());
            }
        }
        true
    }

    /// Records the cancel and takes everything out, under the lock.
    #[inline(never)]
    fn take_for_cancel(&self, err: ContextError, cause: Option<Cause>) -> Option<Taken> {
        let mut inner = self.inner.lock();
        if inner.err.is_some() || !self.cancellable {
            return None;
        }
        inner.err = Some(err);
        inner.cause = cause;
        Some(Taken {
            done_tx: inner.done_tx.take(),
            timer: inner.timer.take(),
            after_funcs: inner.after_funcs.drain().map(|(_, f)| f).collect(),
            children: std::mem::take(&mut inner.children)
                .into_values()
                .filter_map(|w| w.upgrade())
                .collect(),
        })
    }

    #[inline(never)]
    fn remove_child(&self, key: u64) {
        self.inner.lock().children.remove(&key);
    }

    /// False for Background, which is never cancelled.
    pub(crate) fn cancellable(&self) -> bool {
        self.cancellable
    }

    /// Registers `f` to start in a goroutine on cancel (at once if the node
    /// is cancelled already). Returns its key, or None if it started.
    /// Not for Background (it would wait forever).
    #[inline(never)]
    pub(crate) fn add_after_func(&self, f: Box<dyn FnOnce() + Send>) -> Option<u64> {
        let mut inner = self.inner.lock();
        if inner.err.is_some() {
            drop(inner);
            crate::goroutine::spawn(f);
            return None;
        }
        let key = inner.next_key;
        inner.next_key += 1;
        inner.after_funcs.insert(key, f);
        Some(key)
    }

    /// Unregisters an `after_func` callback. True if it had not started.
    #[inline(never)]
    pub(crate) fn remove_after_func(&self, key: u64) -> bool {
        let f = self.inner.lock().after_funcs.remove(&key);
        f.is_some()
    }
}

impl Taken {
    /// Acts on a cancel outside the node's lock; returns the children to
    /// cancel next.
    fn act(self) -> Vec<Arc<Node>> {
        drop(self.done_tx);
        if let Some(id) = self.timer {
            cancel_timer(id);
        }
        for f in self.after_funcs {
            crate::goroutine::spawn(f);
        }
        self.children
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // An abandoned context's timer goes with it.
        if let Some(id) = self.inner.lock().timer.take() {
            cancel_timer(id);
        }
        // Ancestors this node held last are dropped here in a loop, not by
        // recursion: a 10,000-deep chain must not overflow the stack.
        let mut next = self.parent.take();
        while let Some(p) = next {
            next = match Arc::try_unwrap(p) {
                Ok(mut n) => n.parent.take(),
                Err(_) => None,
            };
        }
    }
}
