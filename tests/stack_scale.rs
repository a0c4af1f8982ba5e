//! Stacks at scale through the public API: 200,000 goroutines parked at once,
//! each on its own guarded stack, cost a few memory mappings in all (guards
//! are `MADV_GUARD_INSTALL` markers, not mappings), and all are released and
//! joined.
//!
//! The goroutines park in `JoinHandle::join`: each one spawns the next and
//! joins it, and the last waits for a gate. So all of them have run (and hold
//! a stack) and all but the last are parked while the maps are counted.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::with_timeout;

const LIMIT: Duration = Duration::from_secs(120);
const N: usize = 200_000;
/// The most /proc/self/maps lines while the goroutines live: stacks come from
/// a few slabs, not a mapping each.
const MAPS_MAX: usize = 1_000;

/// One link: counts itself in, spawns the rest of the chain and parks in join.
fn link(left: usize, live: Arc<AtomicUsize>, gate: Arc<AtomicBool>) -> usize {
    live.fetch_add(1, Ordering::SeqCst);
    if left == 0 {
        while !gate.load(Ordering::SeqCst) {
            gort::yield_now();
        }
        return 0;
    }
    let (l, g) = (live.clone(), gate.clone());
    let h = gort::go!(move || link(left - 1, l, g));
    h.join().expect("link") + 1
}

fn maps_lines() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("read /proc/self/maps")
        .lines()
        .count()
}

fn status_kb(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("status field")
}

#[test]
fn two_hundred_thousand_parked_goroutines_use_few_mappings() {
    with_timeout(LIMIT, || {
        let (maps0, rss0) = (maps_lines(), status_kb("VmRSS:"));
        let live = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(AtomicBool::new(false));
        let t = Instant::now();
        let root = {
            let (l, g) = (live.clone(), gate.clone());
            gort::go!(move || link(N - 1, l, g))
        };
        while live.load(Ordering::SeqCst) < N {
            std::thread::sleep(Duration::from_millis(5));
        }
        let spawned = t.elapsed();
        let (maps, rss) = (maps_lines(), status_kb("VmRSS:"));
        let goroutines = gort::num_goroutine();
        println!(
            "{N} goroutines live ({goroutines} counted) after {spawned:?}: \
             {maps} maps lines (was {maps0}), RSS +{} KiB = {} bytes per goroutine",
            rss - rss0,
            (rss - rss0) * 1024 / N
        );
        assert!(goroutines >= N, "num_goroutine {goroutines}");
        assert!(maps < MAPS_MAX, "{maps} lines in /proc/self/maps");
        gate.store(true, Ordering::SeqCst);
        assert_eq!(root.join().expect("root"), N - 1);
        println!("released and joined after {:?}", t.elapsed());
    });
}
