//! std keeps its panic state per thread (the panic count, "in the panic
//! hook"), so a panicking goroutine must not change threads while it
//! panics. Here a panic hook sleeps and sends the report to a logger
//! goroutine (two switch points) while, for 5 s at GOMAXPROCS 1 and 2:
//! - panickers `catch_unwind` a panic in a loop, half of them while holding
//!   a std `Mutex`, which must come out poisoned;
//! - bystanders check that `thread::panicking()` is false for them, across
//!   yields.
//!
//! Before, the process aborted ("thread panicked while processing panic")
//! within a second.

#[macro_use]
mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(5);
const PANICKERS: u64 = 4;
const BYSTANDERS: u64 = 4;

/// Counters the goroutines report into.
#[derive(Default)]
struct Counts {
    caught: AtomicU64,
    poisoned: AtomicU64,
    not_poisoned: AtomicU64,
    logged: AtomicU64,
    checks: AtomicU64,
    lies: AtomicU64,
}

fn panicker(c: &Counts, until: Instant, w: u64) {
    let m = Mutex::new(0u64);
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let hold = (i + w) & 1 == 0;
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _g = hold.then(|| m.lock().unwrap_or_else(|e| e.into_inner()));
            panic!("boom {w}/{i}");
        }));
        assert!(r.is_err());
        assert!(!std::thread::panicking(), "panicking() after catch_unwind");
        c.caught.fetch_add(1, Ordering::Relaxed);
        if hold {
            if m.is_poisoned() {
                c.poisoned.fetch_add(1, Ordering::Relaxed);
            } else {
                c.not_poisoned.fetch_add(1, Ordering::Relaxed);
            }
            m.clear_poison();
        }
        gort::yield_now();
    }
}

fn bystander(c: &Counts, until: Instant) {
    while Instant::now() < until {
        for _ in 0..100 {
            if std::thread::panicking() {
                c.lies.fetch_add(1, Ordering::Relaxed);
            }
            c.checks.fetch_add(1, Ordering::Relaxed);
            std::hint::black_box((0..200u64).sum::<u64>());
        }
        gort::yield_now();
    }
}

fn body() {
    let c = Arc::new(Counts::default());
    let (tx, rx) = gort::chan::bounded::<String>(16);
    let logger = {
        let c = c.clone();
        gort::go!(move || {
            for _report in rx.iter() {
                c.logged.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let hook_tx = Mutex::new(Some(tx));
    std::panic::set_hook(Box::new(move |info| {
        // A hook that waits, as a logging hook does: a sleep and a send.
        gort::time::sleep(Duration::from_micros(200));
        let tx = hook_tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(tx) = tx {
            let _ = tx.send(info.to_string());
        }
    }));
    let until = Instant::now() + RUN;
    let mut hs = Vec::new();
    for w in 0..PANICKERS {
        let c = c.clone();
        hs.push(gort::go!(move || panicker(&c, until, w)));
    }
    for _ in 0..BYSTANDERS {
        let c = c.clone();
        hs.push(gort::go!(move || bystander(&c, until)));
    }
    for h in hs {
        h.join().expect("worker");
    }
    let _ = std::panic::take_hook(); // drops the hook and its sender
    logger.join().expect("logger");
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "panic-hook: caught={} logged={} poisoned={}/{} bystander checks={} lies={}",
        get(&c.caught),
        get(&c.logged),
        get(&c.poisoned),
        get(&c.poisoned) + get(&c.not_poisoned),
        get(&c.checks),
        get(&c.lies)
    );
    assert!(get(&c.caught) > 0);
    assert_eq!(
        get(&c.logged),
        get(&c.caught),
        "every panic reached the logger"
    );
    assert_eq!(
        get(&c.not_poisoned),
        0,
        "a Mutex held across a panic is poisoned"
    );
    assert_eq!(
        get(&c.lies),
        0,
        "panicking() was true in a goroutine that was not"
    );
}

sliced_children!(
    waiting_panic_hook_p1,
    waiting_panic_hook_p2,
    "panic-hook:",
    body,
    Duration::from_secs(60)
);
