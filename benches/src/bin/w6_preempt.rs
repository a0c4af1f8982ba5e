//! W6 preemption latency (docs/PERFORMANCE.md): P = 1. One goroutine runs a tight
//! loop with no yield points, no calls and no allocation (a `black_box`ed
//! integer; Go's `for { x++ }`) for 2 s; a second goroutine sleeps 1 ms in a
//! loop and records, for each wake-up, lateness = actual wake time -
//! requested wake time. Only preemption of the first can let the second run.
//!
//! Figures: `p50_ms`, `p99_ms`, `max_ms` of lateness, `wakeups` (how many
//! samples), and `starved` = 1 if no wake-up completed during the 2 s; a
//! starved run prints only `starved` (no percentiles).
//! Check: the loop ran (its counter moved).
//!
//! The 2 s are kept by `main`, a plain thread (not a goroutine): the end of
//! the run must not depend on the scheduler it measures. Try
//! `GORT_TIMESLICE=1ms` (sysmon then looks every 0.5 ms) and
//! `GODEBUG=asyncpreemptoff=1` (starved=1).

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gort_benches::{check, report};

const NAME: &str = "W6";
/// How long the tight loop runs.
const RUN: Duration = Duration::from_secs(2);
/// The sleeper's nap.
const NAP: Duration = Duration::from_millis(1);

/// Set by `main` when RUN has passed. Relaxed: a flag polled in loops; the
/// joins that follow order everything else.
static STOP: AtomicBool = AtomicBool::new(false);

/// The `q` quantile (0..=1) of sorted `v`, nearest rank.
fn quantile(v: &[Duration], q: f64) -> Duration {
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let p = gort::gomaxprocs();
    let mut late: Vec<Duration> = Vec::with_capacity(4096);

    let start = Instant::now();
    let hog = gort::go!(|| {
        // The loop body is a load and an add: no call, no yield point.
        let mut x = 0u64;
        while !STOP.load(Ordering::Relaxed) {
            x = black_box(x.wrapping_add(1));
        }
        x
    });
    let sleeper = gort::go!(move || {
        while !STOP.load(Ordering::Relaxed) {
            let want = Instant::now() + NAP;
            gort::time::sleep(NAP);
            let woke = Instant::now();
            // A wake-up that completes after the 2 s is not "during" them.
            if STOP.load(Ordering::Relaxed) {
                break;
            }
            late.push(woke.saturating_duration_since(want));
        }
        late
    });
    std::thread::sleep(RUN);
    STOP.store(true, Ordering::Relaxed);
    let spins = hog.join();
    let late = sleeper.join();
    let elapsed = start.elapsed();

    check(NAME, spins.is_ok() && late.is_ok(), || {
        "a goroutine panicked".to_string()
    });
    let (spins, mut late) = (spins.unwrap_or(0), late.unwrap_or_default());
    check(NAME, spins > 0, || "the tight loop never ran".to_string());
    check(NAME, elapsed >= RUN, || {
        format!("ran {elapsed:?} < {RUN:?}")
    });

    if late.is_empty() {
        report(NAME, p, 1.0, "starved");
        return;
    }
    late.sort_unstable();
    report(NAME, p, ms(quantile(&late, 0.50)), "p50_ms");
    report(NAME, p, ms(quantile(&late, 0.99)), "p99_ms");
    report(NAME, p, ms(*late.last().expect("non-empty")), "max_ms");
    report(NAME, p, late.len() as f64, "wakeups");
    report(NAME, p, 0.0, "starved");
}
