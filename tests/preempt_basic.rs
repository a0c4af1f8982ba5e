//! Signal preemption: a call-free loop cannot starve other goroutines.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{child_ok, is_child, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);

/// Spins without calls or yield points until `stop` is set.
fn spin(stop: &AtomicBool) -> u64 {
    let mut x = 0u64;
    while !stop.load(Ordering::Relaxed) {
        x = std::hint::black_box(x.wrapping_add(1));
    }
    x
}

#[test]
fn tight_loop_does_not_starve_at_gomaxprocs_1() {
    if !is_child("tight_loop_does_not_starve_at_gomaxprocs_1") {
        child_ok(
            "tight_loop_does_not_starve_at_gomaxprocs_1",
            &[("GOMAXPROCS", "1")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let hog = gort::go!(move || spin(&s2));
        // Let the hog take the only P first.
        let steps = Arc::new(AtomicU64::new(0));
        let st = steps.clone();
        let t = Instant::now();
        let worker = gort::go!(move || {
            for _ in 0..50 {
                st.fetch_add(1, Ordering::SeqCst);
                gort::yield_now();
            }
        });
        worker.join().unwrap();
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        let spins = hog.join().unwrap();
        let s = gort::stats();
        println!(
            "50 steps took {took:?}; hog spun {spins}; preemptions={}",
            s.preemptions
        );
        assert_eq!(steps.load(Ordering::SeqCst), 50);
        assert!(s.preemptions > 0, "finished without any preemption?");
        assert!(took < Duration::from_secs(5), "took {took:?}");
    });
}

#[test]
fn eight_tight_loops_on_two_ps_and_a_latency_goroutine() {
    if !is_child("eight_tight_loops_on_two_ps_and_a_latency_goroutine") {
        child_ok(
            "eight_tight_loops_on_two_ps_and_a_latency_goroutine",
            &[("GOMAXPROCS", "2")],
        );
        return;
    }
    with_timeout(LIMIT, || {
        let stop = Arc::new(AtomicBool::new(false));
        let hogs: Vec<_> = (0..8)
            .map(|_| {
                let s = stop.clone();
                gort::go!(move || spin(&s))
            })
            .collect();
        let t = Instant::now();
        let lat = gort::go!(move || {
            let mut n = 0u64;
            for _ in 0..20 {
                gort::yield_now();
                n += 1;
            }
            n
        });
        assert_eq!(lat.join().unwrap(), 20);
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        for h in hogs {
            h.join().unwrap();
        }
        println!(
            "latency goroutine done in {took:?}; preemptions={}",
            gort::stats().preemptions
        );
        assert!(took < Duration::from_secs(10), "took {took:?}");
    });
}

#[test]
fn asyncpreemptoff_really_turns_it_off() {
    if is_child("asyncpreemptoff_really_turns_it_off") {
        // With preemption off, the worker must NOT get the only P while the
        // hog spins; the hog gives up after a deadline (1 s), and we report.
        // With it on, the hog stops as soon as the worker has run (or after
        // 10 s, a failure), so a loaded machine only makes it slower.
        let off = std::env::var("GODEBUG").is_ok_and(|v| v.contains("asyncpreemptoff=1"));
        let deadline = Duration::from_secs(if off { 1 } else { 10 });
        let stop = Arc::new(AtomicBool::new(false));
        let ran = Arc::new(AtomicBool::new(false));
        let (s2, r2, r3) = (stop.clone(), ran.clone(), ran.clone());
        let hog = gort::go!(move || {
            // Mostly call-free: the clock is read once per million steps, so
            // nearly every preemption signal lands in this function.
            let t = Instant::now();
            let mut x = 0u64;
            while t.elapsed() < deadline && !r3.load(Ordering::Relaxed) {
                for _ in 0..1_000_000 {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            s2.store(true, Ordering::SeqCst);
            x
        });
        // The worker records whether it ran while the hog was still spinning.
        let s3 = stop.clone();
        let worker = gort::go!(move || r2.store(!s3.load(Ordering::SeqCst), Ordering::SeqCst));
        hog.join().unwrap();
        worker.join().unwrap();
        let starved = !ran.load(Ordering::SeqCst);
        println!(
            "starved={starved} preemptions={} ",
            gort::stats().preemptions
        );
        return;
    }
    let (so, _) = child_ok(
        "asyncpreemptoff_really_turns_it_off",
        &[("GOMAXPROCS", "1"), ("GODEBUG", "asyncpreemptoff=1")],
    );
    assert!(so.contains("starved=true preemptions=0 "), "{so}");
    let (so, _) = child_ok(
        "asyncpreemptoff_really_turns_it_off",
        &[("GOMAXPROCS", "1")],
    );
    assert!(
        so.contains("starved=false"),
        "with preemption on it must not starve:\n{so}"
    );
}
