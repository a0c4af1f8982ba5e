//! `gort::context` through its public surface, each body at GOMAXPROCS 1
//! and 2 in a child process: cancellation reaches every descendant of a
//! 10,000-context tree (and of a 10,000-deep chain) and wakes goroutines
//! parked in `select!` on `done()`; deadlines fire, inherit and release
//! their timers; causes propagate; `after_func` runs once unless stopped;
//! and a million short-lived `with_timeout` contexts leave no timers and no
//! memory behind.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::chan::bounded;
use gort::context::{self, after_func, Context, ContextError};

const LIMIT: Duration = Duration::from_secs(120);
const HOUR: Duration = Duration::from_secs(3600);

/// Waits in `select!` until `ctx` is done; returns its error.
fn park_until_done(ctx: Context) -> gort::JoinHandle<Option<ContextError>> {
    gort::go!(move || {
        let (_tx, never) = bounded::<()>(0);
        gort::select! {
            recv(never) -> _ => unreachable!(),
            recv(ctx.done()) -> r => assert!(r.is_err(), "done carried a value"),
        }
        ctx.err()
    })
}

fn tree_body() {
    // 10 + 100 + 1,000 + 10,000 contexts under one root.
    let (root, cancel) = context::background().with_cancel();
    let mut level = vec![root.clone()];
    let mut all = Vec::new();
    let mut cancels = Vec::new();
    for _ in 0..4 {
        let mut next = Vec::new();
        for ctx in &level {
            for _ in 0..10 {
                let (c, f) = ctx.with_cancel();
                next.push(c);
                cancels.push(f);
            }
        }
        all.extend(next.iter().cloned());
        level = next;
    }
    assert_eq!(all.len(), 11_110);
    let waiters: Vec<_> = level
        .iter()
        .step_by(50)
        .cloned()
        .map(park_until_done)
        .collect();
    assert!(all.iter().all(|c| c.err().is_none()));
    // Cancelling an inner node reaches only its subtree.
    cancels[3].cancel();
    let cancelled = all.iter().filter(|c| c.err().is_some()).count();
    assert_eq!(cancelled, 1 + 10 + 100 + 1000);
    cancel.cancel();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
    }
    assert!(all.iter().all(|c| c.err() == Some(ContextError::Canceled)));
    assert!(all.iter().all(|c| c.done().try_recv().is_err()));
    // A child made after the cancel is born cancelled.
    let (late, _f) = all[5000].with_cancel();
    assert_eq!(late.err(), Some(ContextError::Canceled));

    // A chain 10,000 deep cancels from the top without deep recursion.
    let (top, cancel_top) = context::background().with_cancel();
    let mut chain = vec![top];
    let mut fs = Vec::new();
    for _ in 0..10_000 {
        let (c, f) = chain.last().unwrap().with_cancel();
        chain.push(c);
        fs.push(f);
    }
    let bottom = park_until_done(chain.last().unwrap().clone());
    cancel_top.cancel();
    assert_eq!(bottom.join().unwrap(), Some(ContextError::Canceled));
    assert!(chain.iter().all(|c| c.err().is_some()));
    println!("report: 11,110-node tree and 10,000-deep chain cancelled");
}

#[test]
fn cancellation_reaches_every_descendant() {
    common::at_p1_and_p2(LIMIT, "cancellation_reaches_every_descendant", tree_body);
}

fn deadline_body() {
    let start = Instant::now();
    let (ctx, _cancel) = context::background().with_timeout(Duration::from_millis(20));
    let (child, _c2) = ctx.with_timeout(HOUR);
    assert_eq!(
        child.deadline(),
        ctx.deadline(),
        "a child keeps the earlier deadline"
    );
    let (early, _c3) = ctx.with_timeout(Duration::from_millis(5));
    assert!(early.deadline() < ctx.deadline());
    let w = park_until_done(child.clone());
    assert_eq!(w.join().unwrap(), Some(ContextError::DeadlineExceeded));
    assert!(start.elapsed() >= Duration::from_millis(20), "fired early");
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(early.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(
        ctx.cause().unwrap().to_string(),
        "context deadline exceeded"
    );
    // A deadline in the past: done at once.
    let (past, _c4) = context::background().with_deadline(Instant::now());
    assert_eq!(past.err(), Some(ContextError::DeadlineExceeded));
    // Cancelled early: Canceled, and the timer is released at once.
    let timers = gort::stats().timers;
    let (c, cancel) = context::background().with_timeout(HOUR);
    assert_eq!(gort::stats().timers, timers + 1);
    cancel.cancel();
    assert_eq!(c.err(), Some(ContextError::Canceled));
    assert_eq!(gort::stats().timers, timers);
}

#[test]
fn deadlines_fire_and_inherit() {
    common::at_p1_and_p2(LIMIT, "deadlines_fire_and_inherit", deadline_body);
}

fn cause_and_after_func_body() {
    let (ctx, cancel) = context::background().with_cancel_cause();
    let (child, _c) = ctx.with_timeout(HOUR);
    let ran = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = bounded(4);
    let r = ran.clone();
    let _keep = after_func(&child, move || {
        r.fetch_add(1, SeqCst);
        tx.send(()).unwrap();
    });
    let r = ran.clone();
    let stopped = after_func(&child, move || {
        r.fetch_add(100, SeqCst);
    });
    assert!(stopped.stop());
    assert!(!stopped.stop());
    cancel.cancel_with(std::io::Error::other("shutting down"));
    cancel.cancel_with(std::io::Error::other("ignored: second cause"));
    rx.recv().unwrap();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(child.cause().unwrap().to_string(), "shutting down");
    // Registered on a done context: runs at once.
    let (tx2, rx2) = bounded(1);
    let late = after_func(&child, move || tx2.send(()).unwrap());
    rx2.recv().unwrap();
    assert!(!late.stop());
    assert_eq!(ran.load(SeqCst), 1);
    // Background never runs it; stop says it stopped it.
    let never = after_func(&context::background(), || unreachable!());
    assert!(never.stop());
    assert!(!never.stop());
}

#[test]
fn causes_propagate_and_after_func_runs_once() {
    common::at_p1_and_p2(
        LIMIT,
        "causes_propagate_and_after_func_runs_once",
        cause_and_after_func_body,
    );
}

fn leak_body() {
    let (parent, cancel_parent) = context::background().with_cancel();
    let round = |i: u64| {
        let (ctx, cancel) = parent.with_timeout(HOUR);
        if i.is_multiple_of(2) {
            cancel.cancel();
        } else {
            // Dropped uncancelled (Go would leak it until the hour passes).
            drop((ctx, cancel));
        }
    };
    (0..20_000).for_each(round);
    let (rss0, timers0) = (common::rss_bytes(), gort::stats().timers);
    (0..1_000_000).for_each(round);
    let (rss1, timers1) = (common::rss_bytes(), gort::stats().timers);
    println!(
        "report: 1,000,000 with_timeout contexts: RSS {} -> {} KiB, timers {timers0} -> {timers1}",
        rss0 / 1024,
        rss1 / 1024
    );
    assert!(
        timers1 <= timers0 + 2,
        "timers left armed: {timers0} -> {timers1}"
    );
    assert!(
        rss1 < rss0 + (16 << 20),
        "RSS grew from {} to {} KiB",
        rss0 / 1024,
        rss1 / 1024
    );
    cancel_parent.cancel();
}

#[test]
fn a_million_short_lived_contexts_leave_nothing_behind() {
    common::at_p1_and_p2(
        LIMIT,
        "a_million_short_lived_contexts_leave_nothing_behind",
        leak_body,
    );
}

#[test]
fn contexts_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Context>();
    assert!(std::mem::size_of::<Context>() <= std::mem::size_of::<usize>());
}
