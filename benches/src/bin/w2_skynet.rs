//! W2 skynet (docs/PERFORMANCE.md): a task with (num, size) spawns 10 children with
//! (num + i*size/10, size/10) and returns the sum of their results; a task
//! with size == 1 returns num. Root (0, 1,000,000): 1,111,111 tasks in all.
//! Children report through join handles (`skynet_chan` uses channels).
//! Check: sum == 499,999,500,000. Figure: `ms_total`. P: both.

#![forbid(unsafe_code)]

use std::time::Instant;

use gort::JoinHandle;
use gort_benches::{check, report};

const NAME: &str = "W2";
/// The root's size: leaves are numbered 0..SIZE.
const SIZE: u64 = 1_000_000;
/// Sum of 0..SIZE.
const WANT: u64 = 499_999_500_000;

/// One skynet task. A child's panic is re-raised here, so it travels up to
/// the root and the run fails.
fn skynet(num: u64, size: u64) -> u64 {
    if size == 1 {
        return num;
    }
    let child = size / 10;
    let children: [JoinHandle<u64>; 10] = std::array::from_fn(|i| {
        let n = num + i as u64 * child;
        gort::go!(move || skynet(n, child))
    });
    children
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .sum()
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let _flight = gort_benches::flight_recorder_from_env();

    let start = Instant::now();
    let root = gort::go!(|| skynet(0, SIZE));
    let sum = root.join();
    let elapsed = start.elapsed();

    check(NAME, sum.is_ok(), || "a task panicked".to_string());
    let sum = sum.unwrap_or_default();
    check(NAME, sum == WANT, || format!("sum = {sum}, want {WANT}"));
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
}
