//! W4 yield (docs/PERFORMANCE.md): two goroutines each call `yield_now` Y =
//! 1,000,000 times. Check: both made Y yields. Figure: `ns_per_switch` =
//! elapsed / (2*Y). P = 1 (the driver sets GOMAXPROCS=1; run by hand, the
//! line's `p=` says what P was used).

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use gort_benches::{check, report};

const NAME: &str = "W4";
/// Yields per task.
const Y: u64 = 1_000_000;

/// Yields Y times; returns how many yields it made.
fn yielder() -> u64 {
    let mut n = 0u64;
    for _ in 0..Y {
        gort::yield_now();
        n = black_box(n + 1);
    }
    n
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();

    let start = Instant::now();
    let a = gort::go!(yielder);
    let b = gort::go!(yielder);
    let (a, b) = (a.join(), b.join());
    let elapsed = start.elapsed();

    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        _ => gort_benches::fail(NAME, "a yielder panicked"),
    };
    check(NAME, a == Y && b == Y, || {
        format!("yields = ({a}, {b}), want ({Y}, {Y})")
    });
    report(
        NAME,
        p,
        elapsed.as_nanos() as f64 / (2 * Y) as f64,
        "ns_per_switch",
    );
}
