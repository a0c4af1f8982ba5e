//! A goroutine back from a blocking call without a P does not wait for a
//! CPU-bound goroutine's slice to end (sched/execute.rs `ready_after_call`, sched/kick.rs
//! `kick_longest_slice`, sched/sysmon.rs `kick_for_returned_call`). At GOMAXPROCS=1 with a
//! one-hour time slice, two call-free loops hold the only P while a third
//! goroutine makes 2 ms blocking calls: every return must get the P back
//! from a loop, or the caller waits an hour and the test times out.
//! (Checked: with only the kick sent at the return, and not sysmon's
//! repeat while the G waits, it timed out in 6 of 6 runs.) How soon the
//! caller gets the P is a measurement: W8 in docs/PERFORMANCE.md.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);
const CALLS: usize = 40;
const CALL: Duration = Duration::from_millis(2);

/// A call-free loop until `stop`: xorshift between looks at the flag, so
/// that even unoptimised it runs in this crate's code (where a preemption
/// may land), not in core's atomics.
fn spin(seed: u64, stop: &AtomicBool) -> u64 {
    let mut x = black_box(seed);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        x = black_box(x);
    }
    x
}

/// Runs the scenario; returns how many calls the caller made. The caller
/// starts the loops itself, so they wait on its P's queue, not ahead of it
/// on the global one (where the first would hold the P for the hour).
fn calls_beside_loops() -> usize {
    let caller = gort::go!(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let loops: Vec<_> = (1..=2)
            .map(|seed| {
                let stop = stop.clone();
                gort::go!(move || spin(seed, &stop))
            })
            .collect();
        let mut made = 0;
        for _ in 0..CALLS {
            gort::syscall::blocking(|| std::thread::sleep(CALL));
            made += 1;
        }
        stop.store(true, Ordering::Relaxed);
        for l in loops {
            l.join().expect("loop panicked");
        }
        made
    });
    caller.join().expect("caller panicked")
}

#[test]
fn blocking_call_returns_are_not_queued_behind_slices() {
    if !is_child("blocking_call_returns_are_not_queued_behind_slices") {
        child_ok(
            "blocking_call_returns_are_not_queued_behind_slices",
            &[("GOMAXPROCS", "1"), ("GORT_TIMESLICE", "3600s")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let made = calls_beside_loops();
        let st = gort::stats();
        println!(
            "calls: {made} (preemptions {}, syscalls {}, handoffs {})",
            st.preemptions, st.syscalls, st.handoffs
        );
        assert_eq!(made, CALLS);
        assert!(st.preemptions > 0, "the loops were never stopped");
    });
}
