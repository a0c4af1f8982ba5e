//! Preemption with a timer (the scenario of benchmark W6): at
//! GOMAXPROCS=1 a call-free loop must not starve a goroutine that sleeps
//! 1 ms at a time. The sleeper's timer comes due while the loop holds the
//! only P; only a preemption lets the scheduler run the timer and the
//! sleeper. Default 10 ms slice, and 1 ms; with `GODEBUG=asyncpreemptoff=1`
//! the sleeper must starve (the companion that shows the test can fail).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);
/// Naps the sleeper must get through.
const NAPS: usize = 50;
/// When the hog gives up on its own (a failure with preemption on).
const HOG_DEADLINE: Duration = Duration::from_secs(5);

fn body() {
    with_timeout(LIMIT, || {
        let off = std::env::var("GODEBUG").is_ok_and(|v| v.contains("asyncpreemptoff=1"));
        let stop = Arc::new(AtomicBool::new(false));
        // The deadline is a plain thread's: the hog itself has no calls.
        let st = stop.clone();
        let deadline = if off {
            Duration::from_secs(1)
        } else {
            HOG_DEADLINE
        };
        // Ends at the deadline, or as soon as the sleeper is done (the
        // sender is dropped).
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let referee = std::thread::spawn(move || {
            let _ = wait.recv_timeout(deadline);
            st.store(true, Ordering::Relaxed);
        });
        let s2 = stop.clone();
        let hog = gort::go!(move || {
            let mut x = 0u64;
            while !s2.load(Ordering::Relaxed) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            x
        });
        let s3 = stop.clone();
        let t = Instant::now();
        let sleeper = gort::go!(move || {
            let mut late = Vec::with_capacity(NAPS);
            for _ in 0..NAPS {
                let want = Instant::now() + Duration::from_millis(1);
                gort::time::sleep(Duration::from_millis(1));
                if s3.load(Ordering::Relaxed) {
                    break; // woke only after the hog gave up: starved
                }
                late.push(Instant::now().saturating_duration_since(want));
            }
            s3.store(true, Ordering::Relaxed);
            late
        });
        let late = sleeper.join().expect("sleeper");
        let took = t.elapsed();
        drop(done);
        hog.join().expect("hog");
        referee.join().expect("referee");
        let worst = late.iter().max().copied().unwrap_or_default();
        println!(
            "sleeper: {} of {NAPS} naps in {took:.2?}, worst lateness {worst:.2?}; preemptions={}",
            late.len(),
            gort::stats().preemptions
        );
        println!("starved={}", late.len() < NAPS);
    });
}

fn child(test: &str, envs: &[(&str, &str)]) -> String {
    let (so, _) = child_ok(test, envs);
    if let Some(l) = so.lines().find(|l| l.contains("sleeper:")) {
        println!("{envs:?}: {}", &l[l.find("sleeper:").unwrap_or(0)..]);
    }
    so
}

#[test]
fn a_tight_loop_does_not_starve_a_sleeper_at_gomaxprocs_1() {
    let name = "a_tight_loop_does_not_starve_a_sleeper_at_gomaxprocs_1";
    if is_child(name) {
        return body();
    }
    for slice in ["10ms", "1ms"] {
        let so = child(name, &[("GOMAXPROCS", "1"), ("GORT_TIMESLICE", slice)]);
        assert!(
            so.contains("starved=false"),
            "the sleeper starved beside a tight loop ({slice} slices):\n{so}"
        );
    }
    let so = child(
        name,
        &[("GOMAXPROCS", "1"), ("GODEBUG", "asyncpreemptoff=1")],
    );
    assert!(
        so.contains("starved=true"),
        "with preemption off the sleeper should starve:\n{so}"
    );
}
