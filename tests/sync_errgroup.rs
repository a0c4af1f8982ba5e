//! `gort::sync::ErrGroup` through its public surface at GOMAXPROCS 1 and 2
//! (child processes): the first error is returned and cancels the group's
//! context, which the other members see; a limit of n never lets more
//! than n members run (counted by the members themselves) and `try_go`
//! refuses when full; a member's panic reaches `wait` after the others
//! finished; members may start members.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use gort::context::{self, ContextError};
use gort::sync::ErrGroup;

const LIMIT: Duration = Duration::from_secs(120);

fn first_error_body() {
    for round in 0..200 {
        let (g, ctx) = ErrGroup::with_context(&context::background());
        let saw_cancel = Arc::new(AtomicUsize::new(0));
        for i in 0..20 {
            let (ctx, saw) = (ctx.clone(), saw_cancel.clone());
            g.go(move || {
                if i == 13 {
                    return Err(format!("member {i}"));
                }
                // Every other member waits for the failure's cancel.
                assert!(ctx.done().recv().is_err());
                assert_eq!(ctx.err(), Some(ContextError::Canceled));
                saw.fetch_add(1, SeqCst);
                Ok(())
            });
        }
        assert_eq!(g.wait(), Err("member 13".to_string()), "round {round}");
        assert_eq!(saw_cancel.load(SeqCst), 19);
    }
    // Without errors: Ok, and wait still cancels the context.
    let (g, ctx) = ErrGroup::<()>::with_context(&context::background());
    g.go(|| Ok(()));
    assert_eq!(g.wait(), Ok(()));
    assert!(ctx.err().is_some());
}

#[test]
fn the_first_error_wins_and_cancels_the_context() {
    common::at_p1_and_p2(
        LIMIT,
        "the_first_error_wins_and_cancels_the_context",
        first_error_body,
    );
}

fn limit_body() {
    for n in [1, 3, 8] {
        let g = ErrGroup::<()>::new();
        g.set_limit(n);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for _ in 0..500 {
            let (running, peak) = (running.clone(), peak.clone());
            g.go(move || {
                let now = running.fetch_add(1, SeqCst) + 1;
                peak.fetch_max(now, SeqCst);
                gort::yield_now();
                gort::time::sleep(Duration::from_micros(50));
                running.fetch_sub(1, SeqCst);
                Ok(())
            });
        }
        assert_eq!(g.wait(), Ok(()));
        let peak = peak.load(SeqCst);
        assert!(peak <= n, "limit {n}, but {peak} ran at once");
        assert!(peak >= 1);
    }
    // try_go refuses while full, accepts once a slot frees.
    let g = ErrGroup::<()>::new();
    g.set_limit(2);
    let (tx, rx) = gort::chan::bounded::<()>(0);
    for _ in 0..2 {
        let rx = rx.clone();
        assert!(g.try_go(move || {
            rx.recv().unwrap();
            Ok(())
        }));
    }
    assert!(!g.try_go(|| Ok(())));
    tx.send(()).unwrap();
    while !g.try_go(|| Ok(())) {
        gort::yield_now();
    }
    tx.send(()).unwrap();
    assert_eq!(g.wait(), Ok(()));
}

#[test]
fn a_limit_bounds_the_running_members() {
    common::at_p1_and_p2(LIMIT, "a_limit_bounds_the_running_members", limit_body);
}

fn panic_body() {
    let g = ErrGroup::<()>::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 0..50 {
        let (finished, g2) = (finished.clone(), g.clone());
        g.go(move || {
            if i == 25 {
                panic!("member 25 panics");
            }
            // Members may start members.
            let f = finished.clone();
            g2.go(move || {
                gort::time::sleep(Duration::from_millis(1));
                f.fetch_add(1, SeqCst);
                Ok(())
            });
            finished.fetch_add(1, SeqCst);
            Ok(())
        });
    }
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.wait()));
    let payload = r.expect_err("wait should re-raise the member's panic");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"member 25 panics"));
    assert_eq!(
        finished.load(SeqCst),
        98,
        "wait returned before the others finished"
    );
}

#[test]
fn a_member_panic_reaches_wait_after_the_others() {
    common::at_p1_and_p2(
        LIMIT,
        "a_member_panic_reaches_wait_after_the_others",
        panic_body,
    );
}

#[test]
#[should_panic(expected = "modify limit while")]
fn changing_the_limit_of_a_busy_group_panics() {
    let g = ErrGroup::<()>::new();
    g.set_limit(1);
    let (tx, rx) = gort::chan::bounded::<()>(0);
    g.go(move || {
        rx.recv().ok();
        Ok(())
    });
    let _unblock_on_unwind = tx;
    g.set_limit(2);
}
