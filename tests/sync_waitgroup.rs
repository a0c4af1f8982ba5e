//! `gort::sync::WaitGroup`: Go's add/done/wait, from goroutines and plain
//! threads, reuse, many waiters, and the negative-counter panic.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::with_timeout;
use gort::sync::WaitGroup;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn wait_returns_after_every_done() {
    with_timeout(LIMIT, || {
        for round in 0..50 {
            let wg = WaitGroup::new();
            let finished = Arc::new(AtomicUsize::new(0));
            for _ in 0..100 {
                wg.add(1);
                let (wg, finished) = (wg.clone(), finished.clone());
                gort::go!(move || {
                    gort::yield_now();
                    finished.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(finished.load(SeqCst), 100, "round {round}");
        }
    });
}

#[test]
fn many_waiters_goroutines_and_threads_are_all_released() {
    with_timeout(LIMIT, || {
        for _ in 0..50 {
            let wg = WaitGroup::new();
            wg.add(3);
            let released = Arc::new(AtomicUsize::new(0));
            let gs: Vec<_> = (0..10)
                .map(|_| {
                    let (wg, released) = (wg.clone(), released.clone());
                    gort::go!(move || {
                        wg.wait();
                        released.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            let ts: Vec<_> = (0..3)
                .map(|_| {
                    let (wg, released) = (wg.clone(), released.clone());
                    std::thread::spawn(move || {
                        wg.wait();
                        released.fetch_add(1, SeqCst);
                    })
                })
                .collect();
            for _ in 0..10 {
                gort::yield_now();
            }
            assert_eq!(
                released.load(SeqCst),
                0,
                "nobody passes while the count is 3"
            );
            wg.done();
            wg.add(-1);
            assert_eq!(released.load(SeqCst), 0);
            wg.done();
            for g in gs {
                g.join().unwrap();
            }
            for t in ts {
                t.join().unwrap();
            }
            assert_eq!(released.load(SeqCst), 13);
            // Reusable once at zero.
            wg.add(1);
            let w = wg.clone();
            gort::go!(move || w.done());
            wg.wait();
        }
    });
}

#[test]
fn wait_at_zero_returns_at_once() {
    let wg = WaitGroup::default();
    wg.wait();
    gort::go!(move || wg.wait()).join().unwrap();
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    wg.done();
}

#[test]
fn negative_counter_panics_in_a_goroutine_with_gos_message() {
    with_timeout(LIMIT, || {
        let h = gort::go!(|| WaitGroup::new().done());
        let err = h.join().unwrap_err();
        let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
        assert_eq!(msg, "sync: negative WaitGroup counter");
    });
}
