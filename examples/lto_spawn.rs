//! lto_spawn — spawning in a tight loop beside a sleeper, for 5 s. Built
//! with `cargo build --profile lto --example lto_spawn` (fat LTO, one codegen
//! unit), the runtime's spawn path — the run queue, waking a P, starting an
//! M under the scheduler's lock — is inlined into `spawn_loop`, a function
//! of this program: signal preemption lands in runtime code there, and must
//! not switch the goroutine out while it holds a runtime lock. Run by
//! tests/preempt_lto.rs at GOMAXPROCS 1 and 2 with a 1 ms time slice.
//!
//! Run: `GORT_TIMESLICE=1ms cargo run --profile lto --example lto_spawn`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Goroutines alive at most: the loop yields above this.
const MAX_LIVE: u64 = 10_000;

/// Spawns trivial goroutines until `until`; returns how many.
#[inline(never)]
fn spawn_loop(until: Instant, live: &Arc<AtomicU64>) -> u64 {
    let mut n = 0u64;
    while Instant::now() < until {
        for _ in 0..64 {
            if live.load(Ordering::Relaxed) >= MAX_LIVE {
                gort::yield_now();
                continue;
            }
            live.fetch_add(1, Ordering::Relaxed);
            let l = live.clone();
            gort::go!(move || {
                l.fetch_sub(1, Ordering::Relaxed);
            });
            n += 1;
        }
    }
    n
}

#[gort::main]
fn main() {
    let secs: u64 = std::env::var("LTO_SPAWN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let until = Instant::now() + Duration::from_secs(secs);
    let wakes = Arc::new(AtomicU64::new(0));
    let sleeper = {
        let wakes = wakes.clone();
        gort::go!(move || {
            while Instant::now() < until {
                gort::time::sleep(Duration::from_millis(1));
                wakes.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let live = Arc::new(AtomicU64::new(0));
    let spawned = gort::go!(move || spawn_loop(until, &live)).join().unwrap();
    sleeper.join().unwrap();
    println!(
        "lto-spawn: spawned={spawned} sleeper_wakes={} preemptions={} GOMAXPROCS={}",
        wakes.load(Ordering::Relaxed),
        gort::stats().preemptions,
        gort::gomaxprocs()
    );
}
