//! W7 imbalance (docs/PERFORMANCE.md): one goroutine spawns T = 10,000 CPU tasks
//! back to back, each doing one fixed unit of integer work
//! ([`gort_benches::xorshift_unit`]: 20,000 black-boxed xorshift64 steps).
//! Check: every task returned the reference value (all start from one seed).
//! Figure: `ms_total` at this P. The driver runs P=1 and P=nproc and derives
//! `speedup` = ms_total(P=1) / ms_total(P=nproc).

#![forbid(unsafe_code)]

use std::time::Instant;

use gort_benches::{check, report, xorshift_unit, XORSHIFT_SEED};

const NAME: &str = "W7";
/// CPU tasks spawned.
const T: usize = 10_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let want = xorshift_unit(XORSHIFT_SEED);
    let mut handles = Vec::with_capacity(T);

    let start = Instant::now();
    for _ in 0..T {
        handles.push(gort::go!(|| xorshift_unit(XORSHIFT_SEED)));
    }
    let results: Vec<_> = handles.drain(..).map(|h| h.join()).collect();
    let elapsed = start.elapsed();

    let panicked = results.iter().filter(|r| r.is_err()).count();
    check(NAME, panicked == 0, || format!("{panicked} tasks panicked"));
    let wrong = results
        .iter()
        .filter(|r| !matches!(r, Ok(x) if *x == want))
        .count();
    check(NAME, wrong == 0, || {
        format!("{wrong} of {T} tasks returned a value other than {want:#x}")
    });
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
}
