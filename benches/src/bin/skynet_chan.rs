//! W2 skynet with channels: as `w2_skynet`, but children report through
//! channels, like Go's version: each parent makes one buffered channel of
//! 10, its children send their sums into it and exit (no join handles), the
//! parent receives 10 values. 1,111,111 tasks.
//! Check: sum == 499,999,500,000. Figure: `ms_total`, printed as `name=W2`.
//! P: both.
//!
//! Not named `w2_*` so the bench driver, which maps W2 to exactly one
//! binary (`w2_skynet`, join handles), keeps working; run it by hand:
//! `GOMAXPROCS=2 cargo run -p gort-benches --release --bin skynet_chan`.

#![forbid(unsafe_code)]

use std::time::Instant;

use gort::chan::{bounded, Sender};
use gort_benches::{check, report};

const NAME: &str = "W2";
/// The root's size: leaves are numbered 0..SIZE.
const SIZE: u64 = 1_000_000;
/// Sum of 0..SIZE.
const WANT: u64 = 499_999_500_000;

/// One skynet task: sends its sum to its parent on `out`.
fn skynet(out: Sender<u64>, num: u64, size: u64) {
    if size == 1 {
        out.send(num).expect("parent is receiving");
        return;
    }
    let child = size / 10;
    let (tx, rx) = bounded::<u64>(10);
    for i in 0..10 {
        let tx = tx.clone();
        let n = num + i * child;
        gort::go!(move || skynet(tx, n, child));
    }
    drop(tx);
    let sum: u64 = (0..10)
        .map(|_| rx.recv().expect("a child died without reporting"))
        .sum();
    out.send(sum).expect("parent is receiving");
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let (tx, rx) = bounded::<u64>(1);

    let start = Instant::now();
    gort::go!(move || skynet(tx, 0, SIZE));
    let sum = rx.recv();
    let elapsed = start.elapsed();

    check(NAME, sum.is_ok(), || {
        "the root died without reporting".into()
    });
    let sum = sum.unwrap_or_default();
    check(NAME, sum == WANT, || format!("sum = {sum}, want {WANT}"));
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
}
