//! stealing — the classic work-stealing scenario (docs/GUIDE-stealing.md):
//! at GOMAXPROCS=2 one goroutine spawns sixteen goroutines of CPU work. They
//! queue on the spawner's own P (the newest in `runnext`, the rest in its
//! local queue); `wake_p` starts an M for the idle P, which spins, finds
//! nothing anywhere else and steals half of that queue. Both Ps then work
//! until the queue is drained. Exits non-zero if no steal happened.
//!
//! Run (the trace is written at exit, then drawn):
//! ```text
//! GORT_TRACE=stealing.json cargo run --release --example stealing
//! cargo run --release -p gort-trace --bin trace_svg -- stealing.json stealing.svg
//! ```

use std::hint::black_box;
use std::time::Instant;

/// Goroutines the spawner starts.
const WORKERS: u64 = 16;
/// xorshift steps per worker: a few milliseconds of CPU each.
const STEPS: u64 = 1_000_000;

/// CPU work that cannot be optimised away.
fn work(seed: u64) -> u64 {
    let mut x = seed | 1;
    for _ in 0..STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = black_box(x);
    }
    x
}

#[gort::main]
fn main() {
    if std::env::var_os("GOMAXPROCS").is_none() {
        gort::set_gomaxprocs(2);
    }
    let before = gort::stats();
    let t = Instant::now();
    let spawner = gort::Builder::new()
        .name("spawner")
        .spawn(|| {
            let hs: Vec<_> = (0..WORKERS).map(|i| gort::go!(move || work(i))).collect();
            hs.into_iter()
                .map(|h| h.join().expect("worker"))
                .fold(0u64, u64::wrapping_add)
        })
        .expect("spawn");
    let sum = spawner.join().expect("spawner");
    let elapsed = t.elapsed();
    let after = gort::stats();
    let ran: Vec<u64> = after
        .ran_per_p
        .iter()
        .zip(before.ran_per_p.iter().chain(std::iter::repeat(&0)))
        .map(|(a, b)| a - b)
        .collect();
    let steals = after.steals - before.steals;
    println!(
        "GOMAXPROCS={} workers={WORKERS} elapsed={elapsed:.1?} steals={steals} slices per P={ran:?} (checksum {sum:x})",
        after.gomaxprocs
    );
    if steals == 0 {
        eprintln!("stealing: no steal happened");
        std::process::exit(1);
    }
}
