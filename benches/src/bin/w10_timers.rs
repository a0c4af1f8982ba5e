//! W10 timers (docs/PERFORMANCE.md): K = 100,000 goroutines each sleep a
//! pseudo-random duration uniform in [0, 100) ms (xorshift64 seeded with 42,
//! one draw per goroutine in spawn order, at microsecond resolution) and
//! record their lateness = wake-up time - (time of the sleep call + the
//! duration). Figures: `p50_ms`, `p99_ms` of lateness, `ms_total` (first spawn
//! to last wake-up, a WaitGroup like Go's version) and `cpu_ms`, the process's
//! user + system CPU time over the same span. P: all cores.
//!
//! `cpu_ms` comes from /proc/self/stat (utime + stime, in the kernel's
//! USER_HZ = 100 ticks on Linux), so it has a 10 ms resolution. Check: every
//! goroutine woke, none early.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::sync::WaitGroup;
use gort_benches::{check, fail, report};

const NAME: &str = "W10";
/// Goroutines, each with one timer.
const K: usize = 100_000;
/// Sleeps are uniform in [0, MAX_US) microseconds.
const MAX_US: u64 = 100_000;
/// Lateness slot value before a goroutine has written it.
const UNSET: u64 = u64::MAX;

/// The K durations: xorshift64 from seed 42, one step per goroutine.
fn durations() -> Vec<Duration> {
    let mut x: u64 = 42;
    (0..K)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_micros(x % MAX_US)
        })
        .collect()
}

/// User + system CPU time of this process so far, in milliseconds (fields
/// 14 and 15 of /proc/self/stat, in 10 ms ticks).
fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_else(|e| fail(NAME, e));
    // The command name (field 2) is in parentheses and may hold spaces.
    let after = &stat[stat
        .rfind(')')
        .unwrap_or_else(|| fail(NAME, "bad /proc/self/stat"))..];
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(1) // ")"
        .filter_map(|v| v.parse().ok())
        .collect();
    // After ")": state (not a number, skipped by the parse), then fields
    // 4.. as numbers: utime and stime are fields 14 and 15, i.e. indices 10
    // and 11 of the numeric fields that start at field 4.
    (f[10] + f[11]) * 10
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let ds = durations();
    let late: Arc<Vec<AtomicU64>> = Arc::new((0..K).map(|_| AtomicU64::new(UNSET)).collect());
    let wg = WaitGroup::new();
    wg.add(K as isize);

    let cpu0 = cpu_ms();
    let start = Instant::now();
    for (i, &d) in ds.iter().enumerate() {
        let (late, wg) = (late.clone(), wg.clone());
        gort::go!(move || {
            let t = Instant::now();
            gort::time::sleep(d);
            let woke = t.elapsed();
            // Early is recorded as UNSET - 1: the check below fails on it.
            let ns = woke.checked_sub(d).map_or(UNSET - 1, |l| {
                u64::try_from(l.as_nanos()).unwrap_or(UNSET - 2)
            });
            late[i].store(ns, Relaxed);
            wg.done();
        });
    }
    wg.wait();
    let elapsed = start.elapsed();
    let cpu = cpu_ms() - cpu0;

    // Relaxed: the WaitGroup's wait ordered every store before these loads.
    let mut ns: Vec<u64> = late.iter().map(|v| v.load(Relaxed)).collect();
    let early = ns.iter().filter(|&&v| v == UNSET - 1).count();
    let missing = ns.iter().filter(|&&v| v == UNSET).count();
    check(NAME, early == 0 && missing == 0, || {
        format!("{early} goroutines woke early, {missing} never recorded")
    });
    ns.sort_unstable();
    let pct = |q: usize| ns[(K * q).div_ceil(100) - 1] as f64 / 1e6;
    report(NAME, p, pct(50), "p50_ms");
    report(NAME, p, pct(99), "p99_ms");
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
    report(NAME, p, cpu as f64, "cpu_ms");
}
