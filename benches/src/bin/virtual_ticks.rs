//! virtual_ticks (docs/PERFORMANCE.md, "Virtual time"): what one jump of a
//! virtual-time bubble's clock costs. A `Ticker` of one second ticks 10,000
//! times inside `gort::testing::run_virtual`: each tick is the receiver
//! blocking, the bubble going idle, the driver moving the clock and firing
//! the timer, and the receiver waking. Check: 10,000 ticks, each exactly
//! one virtual second after the last. Figures: `ns_per_tick` (real time)
//! and `ms_total` (2.8 hours of virtual time).

#![forbid(unsafe_code)]

use std::time::{Duration, Instant};

use gort_benches::{check, report};

const NAME: &str = "virtual_ticks";
/// Ticks.
const TICKS: u32 = 10_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let start = Instant::now();
    let exact = gort::testing::run_virtual(|| {
        let period = Duration::from_secs(1);
        let t0 = gort::time::now();
        let t = gort::time::Ticker::new(period);
        let exact = (1..=TICKS)
            .filter(|&k| t.chan().recv().ok() == Some(t0 + period * k))
            .count();
        t.stop();
        exact
    });
    let elapsed = start.elapsed();
    check(NAME, exact == TICKS as usize, || {
        format!("{exact} of {TICKS} ticks on time")
    });
    report(
        NAME,
        p,
        elapsed.as_nanos() as f64 / f64::from(TICKS),
        "ns_per_tick",
    );
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
}
