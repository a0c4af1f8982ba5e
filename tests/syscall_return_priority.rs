//! A goroutine back from a blocking call without a P does not wait for a
//! CPU-bound goroutine's 10 ms slice to end (sched.rs `ready_after_call`,
//! sysmon.rs `kick_longest_slice`; W8 in docs/PERFORMANCE.md). At
//! GOMAXPROCS=1, two call-free loops hold the only P while a third
//! goroutine makes 2 ms blocking calls: the time from a call's end to the
//! goroutine running again must be short for most calls. Without the kick it
//! waits for the running slice to end (checked: with the kick disabled,
//! 35-40 of 40 calls came back 3 ms late or more; with it, 0-2 in a release
//! build and 2-18 unoptimised, where a signal more often finds no safe point
//! and sysmon asks again up to a millisecond later).

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);
const CALLS: usize = 40;
const CALL: Duration = Duration::from_millis(2);
/// A return this late counts as "waited for a slice".
const LATE: Duration = Duration::from_millis(3);

/// Runs the scenario; returns how many of the calls came back late.
fn late_returns() -> usize {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..2)
        .map(|i| {
            let stop = stop.clone();
            gort::go!(move || {
                // Call-free xorshift between looks at the flag, so that even
                // unoptimised the loop runs in this crate's code (where a
                // preemption may land), not in core's atomics.
                let mut x = black_box(i as u64 + 1);
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..100_000 {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                    }
                    x = black_box(x);
                }
                x
            })
        })
        .collect();
    let caller = gort::go!(|| {
        let mut late = 0;
        for _ in 0..CALLS {
            let ended = gort::syscall::blocking(|| {
                std::thread::sleep(CALL);
                Instant::now()
            });
            if ended.elapsed() >= LATE {
                late += 1;
            }
        }
        late
    });
    let late = caller.join().expect("caller panicked");
    stop.store(true, Ordering::Relaxed);
    for s in spinners {
        s.join().expect("spinner panicked");
    }
    late
}

#[test]
fn blocking_call_returns_are_not_queued_behind_slices() {
    if !is_child("blocking_call_returns_are_not_queued_behind_slices") {
        child_ok(
            "blocking_call_returns_are_not_queued_behind_slices",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let late = late_returns();
        let st = gort::stats();
        println!(
            "late returns: {late} of {CALLS} (preemptions {}, syscalls {}, handoffs {})",
            st.preemptions, st.syscalls, st.handoffs
        );
        // Without the kick 35-40 of 40 are late; with it, unoptimised, 2-18.
        assert!(
            late <= CALLS * 3 / 4,
            "{late} of {CALLS} returns waited >= {LATE:?}"
        );
    });
}
