//! `thread_local!` under asynchronous preemption: safe code may be inside a
//! `with` closure, holding `&` to this thread's slot, when SIGURG lands. The
//! preempted goroutine then resumes only on the same M, and that M runs no
//! other goroutine meanwhile (sched/preempt.rs, sched/mod.rs "locked Ms"). So inside
//! one `with` closure the thread never changes and nobody else writes the
//! slot, however many times the call-free loop in it is preempted. Runs at
//! GOMAXPROCS=2 with 1 ms slices, more goroutines than Ps, for 2 s.

mod common;
mod storm;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{is_child, with_timeout};
use storm::{limit, run_storm_child, wait_for_preemption, xorshift};

thread_local! {
    /// Written only inside `with` closures, each of which checks it.
    static SLOT: Cell<u64> = const { Cell::new(0) };
}

gort::local! {
    /// The goroutine's own counter, advanced in the same loops.
    static MINE: Cell<u64> = const { Cell::new(0) };
}

/// A token per OS thread.
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

/// Iterations of the call-free loop inside one `with` closure (a few ms).
const STEPS: u64 = 1_000_000;

/// How long the test runs.
const RUN: Duration = Duration::from_secs(2);

/// One `with` closure around a long call-free loop that reads and writes
/// this thread's slot through the closure's reference. Returns the number
/// of closures whose thread changed or whose slot was touched by another
/// goroutine (both must stay 0). Not inlined into the caller's loop, whose
/// `yield_now` may move the goroutine: reaching a thread-local on both
/// sides of a switch point in one function is the documented mistake
/// (docs/CAVEATS.md), and the optimizer would make this test commit it.
#[inline(never)]
fn one_closure(w: u64, round: u64) -> u64 {
    let tag = (w << 40) | round;
    SLOT.with(|slot| in_closure(slot, tag))
}

/// The closure's body, kept out of std's `LocalKey::with`: inlined there
/// it would be std's code, which is never preempted, and the test would
/// prove nothing in an optimized build.
#[inline(never)]
fn in_closure(slot: &Cell<u64>, tag: u64) -> u64 {
    let before = thread_token();
    slot.set(tag);
    let mut x = tag | 1;
    for _ in 0..STEPS {
        // Through the reference, every step: a write by another
        // goroutine on this thread would show in the check below.
        x = xorshift(x);
        slot.set(slot.get() ^ (x & 0xff));
    }
    let after = thread_token();
    let mut expect = tag;
    let mut y = tag | 1;
    for _ in 0..STEPS {
        y = xorshift(y);
        expect ^= y & 0xff;
    }
    u64::from(before != after) + u64::from(slot.get() != expect)
}

fn body() {
    with_timeout(limit(), || {
        wait_for_preemption();
        let before = gort::stats().preemptions;
        let stop = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..6u64)
            .map(|w| {
                let stop = stop.clone();
                gort::go!(move || {
                    let (mut rounds, mut bad) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        bad += one_closure(w, rounds);
                        MINE.set(MINE.get() + 1);
                        rounds += 1;
                        if rounds % 4 == 0 {
                            gort::yield_now(); // may move: the next closure starts afresh
                        }
                    }
                    assert_eq!(MINE.get(), rounds, "the goroutine-local counter");
                    (rounds, bad)
                })
            })
            .collect();
        std::thread::sleep(RUN);
        stop.store(true, Ordering::Relaxed);
        let res: Vec<(u64, u64)> = hs.into_iter().map(|h| h.join().expect("worker")).collect();
        let s = gort::stats();
        let preempted = s.preemptions - before;
        let closures: u64 = res.iter().map(|r| r.0).sum();
        let bad: u64 = res.iter().map(|r| r.1).sum();
        println!(
            "storm: thread-local P={} {closures} with-closures, {bad} broken, preemptions={preempted}",
            s.gomaxprocs
        );
        assert_eq!(
            bad, 0,
            "a preempted with-closure changed threads or shared its slot"
        );
        // Nearly all the time is spent inside the closures, so nearly every
        // preemption landed inside one.
        assert!(
            preempted >= 100,
            "only {preempted} preemptions: the test proved little"
        );
    });
}

#[test]
fn preempted_thread_local_closures_stay_on_their_thread() {
    if is_child("preempted_thread_local_closures_stay_on_their_thread") {
        return body();
    }
    run_storm_child(
        "preempted_thread_local_closures_stay_on_their_thread",
        2,
        &[],
    );
}
