//! W1 spawn (docs/PERFORMANCE.md): one goroutine spawns N = 1,000,000 goroutines;
//! each increments a shared atomic counter once and exits; the spawner joins
//! them all. Check: counter == N. Figure: `ns_per_task` = elapsed / N.
//! P: both (the driver runs GOMAXPROCS=1 and GOMAXPROCS=nproc).

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gort_benches::{check, report};

const NAME: &str = "W1";
/// Tasks spawned.
const N: u64 = 1_000_000;

/// The shared counter. Relaxed: only the final total matters, and join
/// orders every increment before the check.
static COUNTER: AtomicU64 = AtomicU64::new(0);

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let mut handles = Vec::with_capacity(N as usize);

    let start = Instant::now();
    for _ in 0..N {
        handles.push(gort::go!(|| {
            COUNTER.fetch_add(1, Ordering::Relaxed);
        }));
    }
    let mut failed = 0u64;
    for h in handles.drain(..) {
        failed += u64::from(h.join().is_err());
    }
    let elapsed = start.elapsed();

    check(NAME, failed == 0, || format!("{failed} tasks panicked"));
    let count = COUNTER.load(Ordering::Relaxed);
    check(NAME, count == N, || format!("counter = {count}, want {N}"));
    report(NAME, p, elapsed.as_nanos() as f64 / N as f64, "ns_per_task");
}
