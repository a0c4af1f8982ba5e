//! preempt_stats — preemption counted per P: six goroutines that never
//! yield share GOMAXPROCS=2 Ps for a second; sysmon stops each one when its
//! time slice is up, so all six make progress, and `gort::stats()` shows the
//! preemptions each P took.
//!
//! ```text
//! cargo run --release --example preempt_stats
//! GORT_TIMESLICE=1ms cargo run --release --example preempt_stats   # ten times the preemptions
//! ```
//!
//! Exits with status 1 if some P saw no preemption or some goroutine never
//! ran (with `GODEBUG=asyncpreemptoff=1`, for example).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Goroutines that never yield.
const HOGS: usize = 6;
/// How long they run.
const RUN: Duration = Duration::from_secs(1);

fn main() {
    gort::set_gomaxprocs(2);
    let before = gort::stats();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let hogs: Vec<_> = (0..HOGS)
        .map(|_| {
            let stop = stop.clone();
            gort::go!(move || {
                // Call-free: only a preemption can take the P away.
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x + 1);
                }
                x
            })
        })
        .collect();
    // This is a plain thread: it sleeps while the goroutines run.
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    let spins: Vec<u64> = hogs.into_iter().map(|h| h.join().expect("a hog")).collect();
    let took = start.elapsed();
    let after = gort::stats();

    let per_p: Vec<u64> = after
        .preemptions_per_p
        .iter()
        .enumerate()
        .map(|(i, n)| n - before.preemptions_per_p.get(i).copied().unwrap_or(0))
        .collect();
    println!(
        "{HOGS} goroutines that never yield, on GOMAXPROCS={} Ps, for {took:.2?}:",
        after.gomaxprocs
    );
    for (i, n) in per_p.iter().enumerate() {
        println!("  P{i}: {n:5} preemptions");
    }
    println!(
        "  total: {} preemptions; {} OS threads made",
        per_p.iter().sum::<u64>(),
        after.threads
    );
    let total: u64 = spins.iter().sum();
    for (i, s) in spins.iter().enumerate() {
        println!(
            "  goroutine {i}: {:>13} steps ({:4.1}% of all)",
            s,
            100.0 * *s as f64 / total.max(1) as f64
        );
    }

    let quiet_p = per_p.contains(&0);
    let starved = spins.contains(&0);
    if quiet_p || starved {
        println!(
            "preempt_stats: FAILED: {}{}",
            if quiet_p {
                "a P saw no preemption; "
            } else {
                ""
            },
            if starved { "a goroutine never ran" } else { "" }
        );
        std::process::exit(1);
    }
    println!("preempt_stats: every P preempted, every goroutine ran");
}
