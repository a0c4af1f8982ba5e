//! hello — the G/M/P model in one screen: a million goroutines on GOMAXPROCS
//! Ps, work stolen between Ps, and a panicking goroutine that does not take
//! the program down.
//!
//! Run: `cargo run --release --example hello` (try `GOMAXPROCS=1` or `=4`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[gort::main]
fn main() {
    println!(
        "gort: GOMAXPROCS={} (goroutine 1 is main)",
        gort::gomaxprocs()
    );

    // 1. A million goroutines, each adding its number.
    let n = 1_000_000u64;
    let sum = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let sum = sum.clone();
            gort::go!(move || {
                sum.fetch_add(i, Ordering::Relaxed);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("goroutine finished");
    }
    let got = sum.load(Ordering::Relaxed);
    assert_eq!(got, n * (n - 1) / 2, "every goroutine ran once");
    println!(
        "spawned and joined {n} goroutines in {:?}; sum = {got}",
        t.elapsed()
    );

    // 2. Work stealing: one goroutine spawns CPU work; idle Ps steal half.
    let before = gort::stats();
    let work: Vec<_> = (0..2_000u64)
        .map(|i| {
            gort::go!(move || {
                let mut x = 2 * i + 1;
                for _ in 0..20_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x = std::hint::black_box(x);
                }
                x
            })
        })
        .collect();
    // A sum, not an XOR: xorshift is linear over XOR, so an XOR of the
    // results is xorshift of the XOR of the seeds (0 here).
    let checksum = work
        .into_iter()
        .fold(0u64, |a, h| a.wrapping_add(h.join().unwrap()));
    let after = gort::stats();
    let ran: Vec<u64> = after
        .ran_per_p
        .iter()
        .zip(before.ran_per_p.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a - b)
        .collect();
    println!(
        "2,000 CPU goroutines (checksum {checksum:#x}): steals={} time slices per P={ran:?}",
        after.steals - before.steals
    );

    // 3. A panic is reported with the goroutine's id and name; join gets Err.
    let h = gort::Builder::new()
        .name("doomed")
        .spawn(|| panic!("boom (this one is on purpose)"))
        .expect("spawn");
    let id = h.id();
    assert!(h.join().is_err());
    println!("goroutine {id} panicked; join returned Err and the runtime keeps going");

    let s = gort::stats();
    println!(
        "threads (Ms) created: {}, idle now: {}, goroutines live: {}",
        s.threads, s.idle_threads, s.goroutines
    );
}
