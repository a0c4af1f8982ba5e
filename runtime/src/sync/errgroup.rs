//! errgroup — [`ErrGroup<E>`], golang.org/x/sync/errgroup: run a task's
//! parts as goroutines, wait for all, keep the first error, optionally
//! cancel a context on it and bound how many run at once.
//!
//! As in Go: the limit is a channel of tokens (a member sends one before it
//! starts, takes it back when done), so `go` parks when the group is full
//! and `try_go` does not; the members are counted by a [`WaitGroup`]; the
//! first error is kept and, for a group made by `with_context`, cancels
//! the context, which `wait` also cancels at the end. As std's
//! `thread::scope`: a member's panic is caught, the first payload kept,
//! and re-raised by `wait` after every member finished.

#![forbid(unsafe_code)]

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use super::WaitGroup;
use crate::chan::{self, Receiver, Sender};
use crate::context::{CancelFn, Context};
use crate::lock::Mutex;

/// A group of goroutines working on parts of one task (Go's
/// `errgroup.Group`). Clones share the group, so members can start more
/// members.
///
/// ```
/// use gort::sync::ErrGroup;
///
/// let g = ErrGroup::new();
/// for i in 0..10 {
///     g.go(move || if i == 7 { Err(format!("part {i} failed")) } else { Ok(()) });
/// }
/// assert_eq!(g.wait(), Err("part 7 failed".to_string()));
/// ```
pub struct ErrGroup<E> {
    shared: Arc<Shared<E>>,
}

/// What the members share.
struct Shared<E> {
    members: WaitGroup,
    first: Mutex<First<E>>,
    /// The limit's tokens: a member holds one while it runs. None: no limit.
    sem: Mutex<Option<(Sender<()>, Receiver<()>)>>,
    /// Cancels the context of `with_context`.
    cancel: Option<CancelFn>,
}

/// The first error and the first panic.
struct First<E> {
    err: Option<E>,
    panic: Option<Box<dyn Any + Send>>,
}

impl<E: Send + 'static> ErrGroup<E> {
    /// An empty group with no limit and no context.
    ///
    /// ```
    /// let g = gort::sync::ErrGroup::<()>::new();
    /// assert_eq!(g.wait(), Ok(()));
    /// ```
    pub fn new() -> ErrGroup<E> {
        ErrGroup::build(None)
    }

    /// A group and a context derived from `ctx` that is cancelled when a
    /// member first fails (or panics), or when `wait` returns (Go's
    /// `errgroup.WithContext`).
    ///
    /// ```
    /// use gort::sync::ErrGroup;
    /// let (g, ctx) = ErrGroup::with_context(&gort::context::background());
    /// let c = ctx.clone();
    /// g.go(move || {
    ///     c.done().recv().ok(); // waits for the failure below
    ///     Ok(())
    /// });
    /// g.go(|| Err("boom"));
    /// assert_eq!(g.wait(), Err("boom"));
    /// assert!(ctx.err().is_some());
    /// ```
    pub fn with_context(ctx: &Context) -> (ErrGroup<E>, Context) {
        let (child, cancel) = ctx.with_cancel();
        (ErrGroup::build(Some(cancel)), child)
    }

    fn build(cancel: Option<CancelFn>) -> ErrGroup<E> {
        ErrGroup {
            shared: Arc::new(Shared {
                members: WaitGroup::new(),
                first: Mutex::new(First {
                    err: None,
                    panic: None,
                }),
                sem: Mutex::new(None),
                cancel,
            }),
        }
    }

    /// Starts `f` as a member goroutine, first waiting (parked) while the
    /// limit's worth of members run.
    ///
    /// ```
    /// let g = gort::sync::ErrGroup::<String>::new();
    /// g.go(|| Ok(()));
    /// assert!(g.wait().is_ok());
    /// ```
    pub fn go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) {
        if let Some(tx) = self.sem_sender() {
            // The receiver lives in `sem` as long as the sender: never Err.
            let _ = tx.send(());
        }
        self.start(f);
    }

    /// Starts `f` as a member only if the limit allows one more now; false
    /// (and `f` dropped) otherwise (Go's `TryGo`).
    ///
    /// ```
    /// let g = gort::sync::ErrGroup::<()>::new();
    /// g.set_limit(1);
    /// let (tx, rx) = gort::chan::bounded::<()>(0);
    /// assert!(g.try_go(move || { rx.recv().ok(); Ok(()) }));
    /// assert!(!g.try_go(|| Ok(()))); // full
    /// tx.send(()).unwrap();
    /// assert!(g.wait().is_ok());
    /// ```
    pub fn try_go(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) -> bool {
        if let Some(tx) = self.sem_sender() {
            if tx.try_send(()).is_err() {
                return false;
            }
        }
        self.start(f);
        true
    }

    /// Limits the members running at once to `n` (Go's `SetLimit`).
    ///
    /// # Panics
    /// If members are running (Go: "modify limit while goroutines in the
    /// group are still active"), or if `n` is 0: no member could ever
    /// start (Go's group would block forever).
    ///
    /// ```
    /// let g = gort::sync::ErrGroup::<()>::new();
    /// g.set_limit(4);
    /// for _ in 0..100 {
    ///     g.go(|| Ok(()));
    /// }
    /// assert!(g.wait().is_ok());
    /// ```
    #[inline(never)]
    pub fn set_limit(&self, n: usize) {
        assert!(n > 0, "errgroup: a limit of 0 would never start a member");
        let mut sem = self.shared.sem.lock();
        if let Some((_, rx)) = &*sem {
            let active = rx.len();
            assert!(
                active == 0,
                "errgroup: modify limit while {active} goroutines in the group are still active"
            );
        }
        *sem = Some(chan::bounded(n));
    }

    /// Waits for every member, then returns the first error (Go's `Wait`);
    /// cancels the context of `with_context`.
    ///
    /// # Panics
    /// Re-raises the first member panic, after every member finished.
    ///
    /// ```
    /// let g = gort::sync::ErrGroup::new();
    /// g.go(|| Err(1));
    /// g.go(|| Err(2));
    /// let e = g.wait().unwrap_err();
    /// assert!(e == 1 || e == 2);
    /// ```
    pub fn wait(self) -> Result<(), E> {
        self.shared.members.wait();
        if let Some(c) = &self.shared.cancel {
            c.cancel();
        }
        let mut first = self.shared.first.lock();
        let (err, panic) = (first.err.take(), first.panic.take());
        drop(first);
        if let Some(p) = panic {
            panic::resume_unwind(p);
        }
        err.map_or(Ok(()), Err)
    }

    #[inline(never)]
    fn sem_sender(&self) -> Option<Sender<()>> {
        self.shared.sem.lock().as_ref().map(|(tx, _)| tx.clone())
    }

    /// Runs `f` as a member: counted, its error or panic recorded, its
    /// token returned.
    fn start(&self, f: impl FnOnce() -> Result<(), E> + Send + 'static) {
        let shared = self.shared.clone();
        shared.members.add(1);
        crate::goroutine::spawn(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            shared.record(r);
            if let Some((_, rx)) = &*shared.sem.lock() {
                let _ = rx.try_recv();
            }
            shared.members.done();
        });
    }
}

impl<E> Shared<E> {
    /// Keeps the first error and the first panic; either cancels the
    /// context.
    #[inline(never)]
    fn record(&self, r: std::thread::Result<Result<(), E>>) {
        let failed = {
            let mut first = self.first.lock();
            match r {
                Ok(Ok(())) => false,
                Ok(Err(e)) => {
                    first.err.get_or_insert(e);
                    true
                }
                Err(p) => {
                    first.panic.get_or_insert(p);
                    true
                }
            }
        };
        if failed {
            if let Some(c) = &self.cancel {
                c.cancel();
            }
        }
    }
}

impl<E: Send + 'static> Default for ErrGroup<E> {
    fn default() -> Self {
        ErrGroup::new()
    }
}

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> Self {
        ErrGroup {
            shared: self.shared.clone(),
        }
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrGroup { .. }")
    }
}
