//! `gort::no_preempt`: a call-free loop inside it is not preempted, at
//! GOMAXPROCS=1 with 1 ms slices and another goroutine waiting for the P —
//! `stats().preemptions` does not move while it runs and the other
//! goroutine does not run — while the same loop outside it is preempted
//! (the control that shows the test can fail), and preemption works again
//! once the section ends.

mod common;
mod storm;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{is_child, with_timeout};
use storm::{limit, run_storm_child, wait_for_preemption, xorshift};

/// How long each loop spins.
const SPIN: Duration = Duration::from_millis(300);

/// Spins call-free until a plain thread sets the flag after SPIN. Returns
/// the preemptions counted meanwhile.
fn spin_for_a_while() -> u64 {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let timer = std::thread::spawn(move || {
        std::thread::sleep(SPIN);
        d.store(true, Ordering::Relaxed);
    });
    let before = gort::stats().preemptions;
    let mut x = 1u64;
    while !done.load(Ordering::Relaxed) {
        x = xorshift(x);
    }
    let after = gort::stats().preemptions;
    std::hint::black_box(x);
    timer.join().expect("timer thread");
    after - before
}

fn body() {
    with_timeout(limit(), || {
        wait_for_preemption();
        let (outside, inside, nested, again, other_ran_inside) = gort::go!(|| {
            let outside = spin_for_a_while();

            // A goroutine that wants the P the whole time, spawned inside
            // the section so that it cannot have run before it.
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let (other, inside, other_ran_inside) = gort::no_preempt(|| {
                let other = gort::go!(move || r.store(true, Ordering::SeqCst));
                let n = spin_for_a_while();
                (other, n, ran.load(Ordering::SeqCst))
            });
            let nested =
                gort::no_preempt(|| gort::no_preempt(spin_for_a_while) + spin_for_a_while());
            other.join().expect("the other goroutine");
            assert!(ran.load(Ordering::SeqCst));

            let again = spin_for_a_while();
            (outside, inside, nested, again, other_ran_inside)
        })
        .join()
        .expect("goroutine");
        println!(
            "storm: no-preempt preemptions outside={outside} inside={inside} nested={nested} after={again}; other goroutine ran inside: {other_ran_inside}"
        );
        assert!(outside > 0, "the control loop was never preempted");
        assert_eq!(inside, 0, "preempted inside no_preempt");
        assert_eq!(nested, 0, "preempted inside nested no_preempt");
        assert!(
            !other_ran_inside,
            "another goroutine got the only P inside no_preempt"
        );
        assert!(again > 0, "no preemption after no_preempt ended");
    });
}

#[test]
fn no_preempt_section_is_not_preempted_at_gomaxprocs_1() {
    if is_child("no_preempt_section_is_not_preempted_at_gomaxprocs_1") {
        return body();
    }
    run_storm_child(
        "no_preempt_section_is_not_preempted_at_gomaxprocs_1",
        1,
        &[],
    );
}

#[test]
fn no_preempt_returns_the_value_and_works_on_plain_threads() {
    with_timeout(limit(), || {
        assert_eq!(gort::no_preempt(|| 6 * 7), 42);
        let v = gort::go!(|| gort::no_preempt(|| {
            gort::yield_now(); // cooperative points still work inside
            String::from("ok")
        }))
        .join()
        .expect("goroutine");
        assert_eq!(v, "ok");
    });
}
