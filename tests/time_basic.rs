//! `gort::time`: sleep parks the goroutine (not its thread), after and tick
//! deliver on time, and many concurrent sleepers all wake.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{is_child, run_child, texts, with_timeout};

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn sleep_waits_at_least_the_duration() {
    with_timeout(LIMIT, || {
        for ms in [1u64, 5, 20] {
            let d = Duration::from_millis(ms);
            let took = gort::go!(move || {
                let t = Instant::now();
                gort::time::sleep(d);
                t.elapsed()
            })
            .join()
            .unwrap();
            eprintln!("sleep({d:?}) took {took:?}");
            assert!(took >= d && took < d + Duration::from_secs(5), "{took:?}");
        }
        // Zero returns at once; a plain thread sleeps too.
        gort::time::sleep(Duration::ZERO);
        let t = Instant::now();
        gort::time::sleep(Duration::from_millis(3));
        assert!(t.elapsed() >= Duration::from_millis(3));
    });
}

/// Child body: at GOMAXPROCS=1, a sleeping goroutine must leave its P and M
/// to the others.
#[test]
fn child_sleep_parks_only_the_goroutine() {
    if !is_child("child_sleep_parks_only_the_goroutine") {
        return;
    }
    with_timeout(LIMIT, || {
        assert_eq!(gort::gomaxprocs(), 1);
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        let sleeper = gort::go!(move || {
            gort::time::sleep(Duration::from_millis(300));
            w.store(true, SeqCst);
        });
        let (tx, rx) = gort::chan::bounded(0);
        let w = woke.clone();
        gort::go!(move || {
            // Runs on the only P while the sleeper sleeps.
            let mut x = 0u64;
            for i in 0..1000 {
                x = std::hint::black_box(x + i);
                gort::yield_now();
            }
            tx.send(w.load(SeqCst)).unwrap();
        });
        let sleeper_had_woken = rx.recv().unwrap();
        assert!(
            !sleeper_had_woken,
            "the other goroutine waited for the sleeper"
        );
        sleeper.join().unwrap();
        println!("OK sleep parked only the goroutine");
    });
}

#[test]
fn sleep_parks_only_the_goroutine() {
    let out = run_child(
        "child_sleep_parks_only_the_goroutine",
        &[("GOMAXPROCS", "1")],
    );
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    assert!(
        stdout.contains("OK sleep parked only the goroutine"),
        "{stdout}"
    );
}

#[test]
fn ten_thousand_sleepers_all_wake() {
    with_timeout(LIMIT, || {
        let start = Instant::now();
        let hs: Vec<_> = (0..10_000u64)
            .map(|i| {
                gort::go!(move || {
                    let d = Duration::from_micros((i * 7919) % 50_000);
                    let t = Instant::now();
                    gort::time::sleep(d);
                    t.elapsed() >= d
                })
            })
            .collect();
        for h in hs {
            assert!(h.join().unwrap(), "a sleeper woke early");
        }
        let took = start.elapsed();
        eprintln!("10,000 sleepers of up to 50 ms: {took:?}");
        assert!(took < Duration::from_secs(20));
    });
}

#[test]
fn after_fires_once() {
    with_timeout(LIMIT, || {
        let t = Instant::now();
        let rx = gort::time::after(Duration::from_millis(15));
        let at = gort::go!(move || {
            let at = rx.recv().unwrap();
            // The timer's sender is gone after the one value.
            assert!(rx.recv().is_err());
            at
        })
        .join()
        .unwrap();
        assert!(at >= t + Duration::from_millis(15));
        assert!(t.elapsed() >= Duration::from_millis(15));
    });
}

#[test]
fn tick_ticks_at_the_period() {
    with_timeout(LIMIT, || {
        let period = Duration::from_millis(10);
        // The clock starts first: the first tick is due `period` after the
        // call, and this thread may be descheduled right after it.
        let start = Instant::now();
        let ticks = gort::time::tick(period);
        let got: Vec<Instant> = gort::go!(move || (0..5).map(|_| ticks.recv().unwrap()).collect())
            .join()
            .unwrap();
        let took = start.elapsed();
        eprintln!("5 ticks of {period:?} in {took:?}");
        assert!(took >= period * 5, "{took:?}");
        for w in got.windows(2) {
            assert!(w[1] > w[0]);
        }
    });
}

#[test]
#[should_panic(expected = "non-positive interval")]
fn tick_of_zero_panics() {
    let _ = gort::time::tick(Duration::ZERO);
}
