//! monopoly — the headline of preemption: a goroutine that never yields (`for {
//! x++ }`) beside one that prints its progress, on a single P. With signal
//! preemption the printer keeps printing; with `GODEBUG=asyncpreemptoff=1`
//! it starves, and the demo says so and exits with status 1 after a deadline.
//!
//! ```text
//! cargo run --release --example monopoly                             # prints 10 ticks, exit 0
//! GODEBUG=asyncpreemptoff=1 cargo run --release --example monopoly   # starves, exit 1
//! ```
//!
//! GOMAXPROCS is set to 1 at start (`gort::set_gomaxprocs(1)`), so the two
//! goroutines share one P whatever the machine. `GORT_TIMESLICE=1ms` makes
//! the ticks come faster.
//!
//! `main` is a plain thread here, not `#[gort::main]`: it is the referee,
//! and must keep running whatever happens on the P.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Progress lines the printer must get out.
const TICKS: u32 = 10;
/// Its pace: a sleep between lines (a cooperative switch point).
const PACE: Duration = Duration::from_millis(50);
/// How long the referee waits for all the ticks before calling it starved.
const DEADLINE: Duration = Duration::from_secs(3);

fn main() {
    gort::set_gomaxprocs(1);
    let off = std::env::var("GODEBUG").is_ok_and(|v| v.contains("asyncpreemptoff=1"));
    println!(
        "monopoly: GOMAXPROCS={}, signal preemption {}",
        gort::gomaxprocs(),
        if off {
            "OFF (GODEBUG=asyncpreemptoff=1)"
        } else {
            "on"
        }
    );

    // The monopolist: Go's `for { x++ }`. No calls, no yield points.
    static X: AtomicU64 = AtomicU64::new(0);
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let _hog = gort::go!(move || {
        let mut x = 0u64;
        while !st.load(Ordering::Relaxed) {
            x = std::hint::black_box(x + 1);
        }
        X.store(x, Ordering::Relaxed);
    });

    // The printer: a line, a short sleep, again. It needs the P for each line.
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    let _printer = gort::go!(move || {
        for i in 1..=TICKS {
            println!(
                "  tick {i:2} at {:6.1} ms  (preemptions so far: {})",
                start.elapsed().as_secs_f64() * 1e3,
                gort::stats().preemptions
            );
            let _ = tx.send(i);
            gort::time::sleep(PACE);
        }
    });

    // The referee, on this plain thread.
    let mut got = 0;
    while got < TICKS {
        match rx.recv_timeout(DEADLINE.saturating_sub(start.elapsed())) {
            Ok(i) => got = i,
            Err(_) => break,
        }
    }
    let took = start.elapsed();
    if got == TICKS {
        stop.store(true, Ordering::Relaxed);
        println!(
            "monopoly: the printer got all {TICKS} ticks out in {took:.2?} beside a goroutine that never yields ({} preemptions)",
            gort::stats().preemptions
        );
        std::process::exit(0);
    }
    println!(
        "monopoly: STARVED — the printer got {got} of {TICKS} ticks out in {took:.2?}: the spinning goroutine kept the only P{}",
        if off {
            " (as expected: GODEBUG=asyncpreemptoff=1 turns signal preemption off)"
        } else {
            " although signal preemption is on (a stripped binary? see docs/CAVEATS.md)"
        }
    );
    // The hog never ends by itself: leave without waiting for it.
    std::process::exit(1);
}
