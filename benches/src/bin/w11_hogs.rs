//! W11 hogs (docs/PERFORMANCE.md), P = all cores: one goroutine spawns N = 1,000
//! CPU goroutines back to back, each running 500 of W7's units of work
//! ([`gort_benches::w11_hog`], about 20 ms) and returning its value.
//! Meanwhile a sleeper goroutine sleeps 1 ms in a loop and records each
//! wake-up's lateness (wake time - requested wake time), and a goroutine that
//! wakes 300 ms after the start spawns one more goroutine and records how long
//! it took to start running (spawn call to its first instruction).
//!
//! The hogs outnumber the Ps, so the sleeper and the late goroutine get a P
//! only through preemption of a hog (or when one ends); and a runtime that
//! answers a busy machine with more threads shows it in `os_threads_max`.
//!
//! Check: every hog returned the reference value. Figures: `ms_total` (first
//! spawn to the last hog's join), `os_threads_max` (peak `Threads:` of
//! /proc/self/status, sampled every 2 ms by a watcher thread from just before
//! the first spawn to just after the last join, the watcher and the main
//! thread included), `sleeper_p99_ms` (the sleeper stops at the first
//! wake-up after the hogs are joined; that one counts too, so a sleeper
//! starved for the whole run still has a sample) and `late_spawn_ms`.
//! stderr gets the scheduler's counters over the run.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gort_benches::{check, fail, quantile_ms, report, w11_hog, ThreadPeak, W11_HOGS};

const NAME: &str = "W11";
/// The sleeper's nap.
const NAP: Duration = Duration::from_millis(1);
/// When, after the start, the late goroutine is spawned.
const LATE_AT: Duration = Duration::from_millis(300);
/// The watcher's sampling period.
const SAMPLE: Duration = Duration::from_millis(2);

/// Set once all hogs are joined. Relaxed: a flag polled in a loop; the
/// sleeper's join orders everything else.
static STOP: AtomicBool = AtomicBool::new(false);

/// The sleeper: naps NAP until STOP; the lateness of every wake-up.
fn sleeper() -> Vec<Duration> {
    let mut late = Vec::with_capacity(16_384);
    loop {
        let want = Instant::now() + NAP;
        gort::time::sleep(NAP);
        late.push(Instant::now().saturating_duration_since(want));
        if STOP.load(Ordering::Relaxed) {
            return late;
        }
    }
}

/// Wakes at `at`, spawns one goroutine; (how late it woke, how long the new
/// goroutine took to start running).
fn late_spawner(at: Instant) -> (Duration, Duration) {
    gort::time::sleep_until(at);
    let woke = Instant::now().saturating_duration_since(at);
    let spawned = Instant::now();
    let ran = gort::go!(Instant::now)
        .join()
        .unwrap_or_else(|_| fail(NAME, "the late goroutine panicked"));
    (woke, ran.saturating_duration_since(spawned))
}

/// Checks every hog's result against `want`.
fn check_hogs(results: &[std::thread::Result<u64>], want: u64) {
    let panicked = results.iter().filter(|r| r.is_err()).count();
    check(NAME, panicked == 0, || format!("{panicked} hogs panicked"));
    let wrong = results
        .iter()
        .filter(|r| !matches!(r, Ok(x) if *x == want))
        .count();
    check(NAME, wrong == 0, || {
        format!("{wrong} of {W11_HOGS} hogs returned a value other than {want:#x}")
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let want = w11_hog();
    let before = gort::stats();
    let mut hogs = Vec::with_capacity(W11_HOGS);
    let watcher = ThreadPeak::every(SAMPLE);

    let start = Instant::now();
    let naps = gort::go!(sleeper);
    let late = gort::go!(move || late_spawner(start + LATE_AT));
    for _ in 0..W11_HOGS {
        hogs.push(gort::go!(w11_hog));
    }
    let results: Vec<_> = hogs.drain(..).map(|h| h.join()).collect();
    let elapsed = start.elapsed();
    STOP.store(true, Ordering::Relaxed);
    let naps = naps.join();
    let late = late.join();
    let threads_max = watcher.finish();
    let after = gort::stats();

    check_hogs(&results, want);
    let mut naps = naps.unwrap_or_else(|_| fail(NAME, "the sleeper panicked"));
    let (woke, late_spawn) = late.unwrap_or_else(|_| fail(NAME, "the late spawner panicked"));
    check(NAME, threads_max > 0, || "no thread sample".into());
    naps.sort_unstable();

    eprintln!(
        "W11 Ms created={} preemptions={} steals={} wake-ups={} late spawner woke {:.3} ms late",
        after.threads_created - before.threads_created,
        after.preemptions - before.preemptions,
        after.steals - before.steals,
        naps.len(),
        ms(woke)
    );
    report(NAME, p, ms(elapsed), "ms_total");
    report(NAME, p, threads_max as f64, "os_threads_max");
    report(NAME, p, quantile_ms(&naps, 0.99), "sleeper_p99_ms");
    report(NAME, p, ms(late_spawn), "late_spawn_ms");
}
