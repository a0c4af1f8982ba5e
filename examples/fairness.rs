//! fairness — the 61-tick rule (docs/GUIDE-fairness.md): at GOMAXPROCS=1
//! two goroutines keep the P's local queue busy forever by yielding to each
//! other. A goroutine spawned from a plain thread goes to the global run
//! queue, which `find_runnable` looks at only after the local queue — except
//! on every 61st scheduling tick, when it looks there first. So the
//! newcomer runs within about 61 time slices. Exits non-zero if it waited
//! longer than that (plus a little slack for the slices in flight).
//!
//! ```text
//! cargo run --release --example fairness -- fairness.json   # trace just that moment
//! cargo run --release -p gort-trace --bin trace_svg -- fairness.json fairness.svg
//! ```
//! With a path argument it traces (`gort::trace::start`/`stop`) from just
//! before the newcomer is spawned until it has run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Go's fairness tick (sched/mod.rs GLOBAL_RUNQ_FAIRNESS_TICK).
const TICK: u64 = 61;

/// Time slices on P0 so far.
fn slices() -> u64 {
    gort::stats().ran_per_p[0]
}

fn main() {
    gort::set_gomaxprocs(1);
    let stop = Arc::new(AtomicBool::new(false));
    let yields = Arc::new(AtomicU64::new(0));
    let yielders: Vec<_> = (0..2)
        .map(|_| {
            let (stop, yields) = (stop.clone(), yields.clone());
            gort::go!(move || {
                while !stop.load(Ordering::Relaxed) {
                    yields.fetch_add(1, Ordering::Relaxed);
                    gort::yield_now();
                }
            })
        })
        .collect();
    // Both yielders are churning the local queue.
    while yields.load(Ordering::Relaxed) < 10_000 {
        std::thread::yield_now();
    }
    let trace = std::env::args().nth(1);
    if let Some(path) = &trace {
        gort::trace::start(path).expect("start the trace");
    }
    // Spawned from a plain thread: into the global queue. The slices run
    // between the two counter reads and the newcomer's own read bound its
    // wait from above and below (this thread may be descheduled in between).
    // One G leaves the global queue per 61 ticks, in FIFO order: count any
    // already waiting there (a yielder preempted on a busy machine is).
    let ahead = gort::stats().global_runq as u64;
    let before = slices();
    let newcomer = gort::go!(slices);
    let after = slices();
    // Without the rule it would never run: give up after a few seconds.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(newcomer.join().expect("newcomer")));
    let Ok(ran_at) = rx.recv_timeout(std::time::Duration::from_secs(5)) else {
        eprintln!("fairness: the global queue's goroutine never ran (starved)");
        std::process::exit(1);
    };
    if trace.is_some() {
        let s = gort::trace::stop().expect("write the trace");
        println!(
            "fairness: trace of {} slices in {}",
            s.slices,
            s.path.display()
        );
    }
    stop.store(true, Ordering::Relaxed);
    for y in yielders {
        y.join().expect("yielder");
    }
    let waited = ran_at.saturating_sub(after);
    println!(
        "fairness: the global queue's goroutine ran after {waited}..{} time slices of the yielders, {ahead} ahead of it there (the rule: one every {TICK}st tick)",
        ran_at - before
    );
    if waited > (ahead + 1) * TICK + 1 {
        eprintln!("fairness: waited longer than the 61-tick rule allows");
        std::process::exit(1);
    }
}
