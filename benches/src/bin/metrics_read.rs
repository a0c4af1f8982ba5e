//! metrics_read (docs/PERFORMANCE.md, "Runtime metrics"): what one
//! `gort::metrics::read()` costs beside 10,000 parked goroutines, the
//! figure behind "cheap enough to call every second". Check: the parked
//! goroutines show as waiting. Figure: `ns_per_call` over 10,000 calls.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use gort_benches::{check, report};

const NAME: &str = "metrics_read";
/// Parked goroutines beside the reads.
const PARKED: usize = 10_000;
/// Reads timed.
const CALLS: u32 = 10_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let (tx, rx) = gort::chan::bounded::<()>(0);
    let hs: Vec<_> = (0..PARKED)
        .map(|_| {
            let rx = rx.clone();
            gort::go!(move || rx.recv().ok())
        })
        .collect();
    while gort::metrics::read().goroutines_waiting < PARKED {
        gort::yield_now();
    }
    let start = Instant::now();
    let mut waiting = 0;
    for _ in 0..CALLS {
        waiting = black_box(gort::metrics::read()).goroutines_waiting;
    }
    let per_call = start.elapsed().as_nanos() as f64 / f64::from(CALLS);
    check(NAME, waiting >= PARKED, || format!("waiting {waiting}"));
    drop(tx);
    hs.into_iter().for_each(|h| drop(h.join()));
    report(NAME, p, per_call, "ns_per_call");
}
