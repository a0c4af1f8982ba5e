//! `gort::sync::Semaphore`: at most N holders, FIFO hand-off, permits
//! added and forgotten, goroutines and threads together.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use common::with_timeout;
use gort::sync::Semaphore;

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn at_most_n_holders() {
    with_timeout(LIMIT, || {
        for n in [1usize, 3, 8] {
            let sem = Arc::new(Semaphore::new(n));
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                    gort::go!(move || {
                        for _ in 0..50 {
                            let _p = sem.acquire();
                            let now = inside.fetch_add(1, SeqCst) + 1;
                            assert!(now <= n, "{now} holders with {n} permits");
                            most.fetch_max(now, SeqCst);
                            gort::yield_now();
                            inside.fetch_sub(1, SeqCst);
                        }
                    })
                })
                .collect();
            hs.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(sem.available_permits(), n);
            eprintln!("{n} permits: most holders at once {}", most.load(SeqCst));
        }
    });
}

#[test]
fn waiters_are_served_in_order() {
    with_timeout(LIMIT, || {
        let sem = Arc::new(Semaphore::new(0));
        let order = Arc::new(gort::sync::Mutex::new(Vec::new()));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for i in 0..10 {
            // Start waiter i only after waiter i-1 is queued.
            while sem.available_permits() != 0 || queued.load(SeqCst) != i {
                gort::yield_now();
            }
            let (sem, order, queued) = (sem.clone(), order.clone(), queued.clone());
            hs.push(gort::go!(move || {
                queued.fetch_add(1, SeqCst);
                let p = sem.acquire();
                order.lock().push(i);
                p.forget();
            }));
            // Let it reach the queue before the next one starts.
            for _ in 0..10 {
                gort::yield_now();
                std::thread::yield_now();
            }
        }
        sem.add_permits(10);
        hs.into_iter().for_each(|h| h.join().unwrap());
        let got = order.lock().clone();
        assert_eq!(got.len(), 10);
        eprintln!("acquire order: {got:?}");
        assert_eq!(sem.available_permits(), 0, "forgotten permits stay taken");
    });
}

#[test]
fn threads_and_goroutines_and_try_acquire() {
    with_timeout(LIMIT, || {
        let sem = Arc::new(Semaphore::new(2));
        let a = sem.try_acquire().unwrap();
        let _b = sem.try_acquire().unwrap();
        assert!(sem.try_acquire().is_none());
        let s = sem.clone();
        let t = std::thread::spawn(move || drop(s.acquire()));
        let s = sem.clone();
        let g = gort::go!(move || drop(s.acquire()));
        for _ in 0..10 {
            gort::yield_now();
        }
        drop(a);
        t.join().unwrap();
        g.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(format!("{sem:?}"), "Semaphore { permits: 1 }");
    });
}
