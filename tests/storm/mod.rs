//! Helpers for the preemption storms (tests/preempt_storm_*.rs): run one
//! storm in a child process with its own GOMAXPROCS and a 1 ms time slice,
//! and, inside the child, run worker goroutines until a deadline with every
//! round's result checked against a reference computed on a plain thread.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{run_child, soak, texts};

/// How long each storm runs: 3 s, or as long as `GORT_SOAK=<seconds>` says
/// (soak mode; CI runs the short form).
pub fn storm_len() -> Duration {
    soak().unwrap_or(Duration::from_secs(3))
}

/// The watchdog for one child's test body: a minute, plus the soak.
pub fn limit() -> Duration {
    storm_len() + Duration::from_secs(57)
}
/// The time slice of every storm.
pub const SLICE: &str = "1ms";
/// Distinct seeds a worker cycles through; the reference holds one result
/// per seed.
pub const SEEDS: u64 = 16;

/// Runs `test` of this binary in a child at `procs` Ps with 1 ms slices and
/// `extra` environment; checks it passed without any goroutine panic and
/// echoes its `storm:` summary lines. Returns the child's stdout.
pub fn run_storm_child(test: &str, procs: usize, extra: &[(&str, &str)]) -> String {
    let p = procs.to_string();
    let mut envs = vec![("GOMAXPROCS", p.as_str()), ("GORT_TIMESLICE", SLICE)];
    envs.extend_from_slice(extra);
    let t = Instant::now();
    let out = run_child(test, &envs);
    let (so, se) = texts(&out);
    let tail = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    assert!(
        out.status.success(),
        "child {test} (P={procs}) failed: {:?}\nstdout (tail):\n{}\nstderr:\n{}",
        out.status,
        tail(&so),
        tail(&se)
    );
    assert!(
        so.contains("1 passed"),
        "child {test} ran no test:\n{}",
        tail(&so)
    );
    assert!(
        !se.contains("panicked"),
        "a goroutine panicked in {test} (P={procs}):\n{}",
        tail(&se)
    );
    // libtest may have printed `test name ... ` on the same line first.
    for l in so.lines().filter_map(|l| l.find("storm:").map(|i| &l[i..])) {
        println!("{l} (child took {:.1?})", t.elapsed());
    }
    so
}

/// xorshift64, the storms' source of deterministic numbers.
#[inline(always)]
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Computes `round(seed)` for every seed on a plain thread (no goroutine,
/// so no preemption): the reference the storm's results must equal.
pub fn reference<R, F>(round: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(u64) -> R + Send + 'static,
{
    std::thread::spawn(move || (0..SEEDS).map(&round).collect())
        .join()
        .expect("reference thread")
}

/// Waits until signal preemption is live: the runtime builds its table of
/// user code on a thread of its own at start, which takes a while for a
/// large test binary on a loaded machine, and sends no preemption request
/// before. Spins a call-free goroutine until one preemption is counted.
/// Call it from a plain thread, before measuring.
pub fn wait_for_preemption() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let spinner = gort::go!(move || {
        let mut x = 0u64;
        while !s.load(Ordering::Relaxed) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        x
    });
    let t = Instant::now();
    while gort::stats().preemptions == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no preemption within 30 s of start"
        );
        // Polling a counter: there is no event to wait for.
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    spinner.join().expect("spinner");
}

/// What a storm did.
pub struct Report {
    pub rounds: u64,
    pub preemptions: u64,
    pub elapsed: Duration,
}

/// Runs `workers` goroutines until `storm_len()` has passed; worker `w` runs
/// `round(w, seed)` for seeds `w, w+1, ...` (mod SEEDS) and checks each
/// result with `check(seed, &result)`. Panics (failing the child) on a
/// wrong result; prints a `storm:` summary line.
pub fn run<R, F, C>(name: &str, workers: usize, round: F, check: C) -> Report
where
    R: 'static,
    F: Fn(usize, u64) -> R + Send + Sync + 'static,
    C: Fn(u64, &R) -> bool + Send + Sync + 'static,
{
    wait_for_preemption();
    let round = Arc::new(round);
    let check = Arc::new(check);
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let before = gort::stats().preemptions;
    let start = Instant::now();
    let hs: Vec<_> = (0..workers)
        .map(|w| {
            let (round, check, stop, total) =
                (round.clone(), check.clone(), stop.clone(), total.clone());
            gort::go!(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let seed = (w as u64 + n) % SEEDS;
                    let r = round(w, seed);
                    assert!(
                        check(seed, &r),
                        "worker {w} round {n}: wrong result for seed {seed}"
                    );
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
                n
            })
        })
        .collect();
    // The deadline is kept by a plain thread: the storm must not depend on
    // the scheduler to end it.
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(storm_len());
            stop.store(true, Ordering::Relaxed);
        })
    };
    let per: Vec<u64> = hs.into_iter().map(|h| h.join().expect("worker")).collect();
    stopper.join().expect("stopper");
    let elapsed = start.elapsed();
    let s = gort::stats();
    let preemptions = s.preemptions - before;
    println!(
        "storm: {name} P={} workers={workers} rounds={per:?} preemptions={preemptions} per_p={:?} in {elapsed:.2?}",
        s.gomaxprocs, s.preemptions_per_p
    );
    assert!(
        per.iter().all(|&n| n > 0),
        "a worker never finished a round: {per:?}"
    );
    Report {
        rounds: total.load(Ordering::Relaxed),
        preemptions,
        elapsed,
    }
}
