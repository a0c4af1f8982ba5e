//! Memory given back after a burst: 100,000 goroutines parked at once hold a
//! resident stack page each; once they have all finished, the stack pool is
//! trimmed (stack/mod.rs scavenger) and the process's RSS falls by at least half of
//! what the burst added. One test per file: RSS is process-wide.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::with_timeout;

const LIMIT: Duration = Duration::from_secs(120);
const N: usize = 100_000;
/// How long the scavenger may take after the last join.
const SETTLE: Duration = Duration::from_secs(20);

/// One link: counts itself in, spawns the rest of the chain and parks in join
/// (see stack_scale.rs). Touches a few KiB of stack on the way, as real code does.
fn link(left: usize, live: Arc<AtomicUsize>, gate: Arc<AtomicBool>) -> usize {
    live.fetch_add(1, Ordering::SeqCst);
    std::hint::black_box([left as u8; 1024]);
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

fn rss_kb() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .expect("read /proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}

#[test]
fn rss_falls_after_a_hundred_thousand_goroutines_finish() {
    with_timeout(LIMIT, || {
        // Start the runtime first, so its threads are in the baseline.
        gort::go!(|| ()).join().unwrap();
        let rss0 = rss_kb();
        let live = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(AtomicBool::new(false));
        let root = {
            let (l, g) = (live.clone(), gate.clone());
            gort::go!(move || link(N - 1, l, g))
        };
        while live.load(Ordering::SeqCst) < N {
            std::thread::sleep(Duration::from_millis(5));
        }
        let peak = rss_kb();
        gate.store(true, Ordering::SeqCst);
        assert_eq!(root.join().expect("root"), N - 1);
        let used = peak.saturating_sub(rss0);
        assert!(
            used >= N * 4 / 1024,
            "the burst should hold a page per goroutine: +{used} KiB"
        );
        let t = Instant::now();
        // Wait until RSS stops falling (the scavenger is done) or SETTLE.
        let mut now = rss_kb();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let next = rss_kb();
            let settled = next + 256 >= now && peak - next.min(peak) >= used / 2;
            now = next;
            if settled || t.elapsed() > SETTLE {
                break;
            }
        }
        println!(
            "RSS: {rss0} KiB before, {peak} KiB with {N} goroutines parked (+{used}), \
             {now} KiB {:?} after the last join (fell by {} KiB, {:.0}% of the burst)",
            t.elapsed(),
            peak - now.min(peak),
            100.0 * (peak - now.min(peak)) as f64 / used as f64
        );
        assert!(
            peak - now.min(peak) >= used / 2,
            "RSS fell by {} KiB of the {used} KiB the goroutines used",
            peak - now.min(peak)
        );
    });
}
