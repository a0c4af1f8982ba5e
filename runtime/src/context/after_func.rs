//! after_func — [`after_func`], Go 1.21's `context.AfterFunc`: run a
//! function in its own goroutine when a context is done, unless stopped
//! first. The callback waits in its context's node (context/tree.rs) and is
//! started, like the node's other work, outside the node's lock.

#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::tree::Node;
use super::Context;

/// Stops an [`after_func`] registration (Go's `stop func() bool`).
pub struct AfterFuncStop {
    node: Arc<Node>,
    state: Registration,
}

/// Where `f` went.
enum Registration {
    /// Waiting in the node under this key.
    Waiting(u64),
    /// Started at once: the context was done already.
    Started,
    /// Never to run (a context that is never cancelled); true once stopped.
    Never(AtomicBool),
}

/// Arranges for `f` to start in its own goroutine once `ctx` is done; at
/// once if it is done already (Go's `context.AfterFunc`). `stop()` on the
/// result unregisters it. On a context that is never cancelled
/// (`background()`) `f` never runs.
///
/// ```
/// let (ctx, cancel) = gort::context::background().with_cancel();
/// let (tx, rx) = gort::chan::bounded(1);
/// let _stop = gort::context::after_func(&ctx, move || tx.send("cleaned up").unwrap());
/// cancel.cancel();
/// assert_eq!(rx.recv(), Ok("cleaned up"));
/// ```
pub fn after_func(ctx: &Context, f: impl FnOnce() + Send + 'static) -> AfterFuncStop {
    let node = ctx.0.clone();
    let state = if !node.cancellable() {
        Registration::Never(AtomicBool::new(false))
    } else {
        match node.add_after_func(Box::new(f)) {
            Some(key) => Registration::Waiting(key),
            None => Registration::Started,
        }
    };
    AfterFuncStop { node, state }
}

impl AfterFuncStop {
    /// Unregisters the function. True if this call stopped it from being
    /// started; false if it was started already (or stopped before).
    ///
    /// ```
    /// let (ctx, cancel) = gort::context::background().with_cancel();
    /// let stop = gort::context::after_func(&ctx, || unreachable!());
    /// assert!(stop.stop());
    /// cancel.cancel(); // f does not run
    /// assert!(!stop.stop());
    /// ```
    pub fn stop(&self) -> bool {
        match &self.state {
            Registration::Waiting(key) => self.node.remove_after_func(*key),
            Registration::Started => false,
            // Relaxed: a flag with no data behind it.
            Registration::Never(stopped) => !stopped.swap(true, Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for AfterFuncStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AfterFuncStop { .. }")
    }
}
