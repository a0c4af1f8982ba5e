//! Preemption storm with std locks held by user code: goroutines contend on
//! a `std::sync::Mutex` and run a call-free loop inside the critical section,
//! and goroutines hold a `StdoutLock` across user code, preempted every
//! millisecond for 3 s at GOMAXPROCS=1 and 2.
//!
//! A preemption inside the critical section switches the holder out with
//! the lock held (it stays locked to its M: sched/preempt.rs). Every other
//! goroutine that then calls `lock()` blocks its M in the kernel, P and all.
//! At GOMAXPROCS=1 nothing could run the holder again, unless sysmon notices
//! the M that does not move, is blocked in the kernel, and hands its P to
//! another M (the stuck-M release of docs/ARCHITECTURE.md "Blocking calls, hand-off and locked Ms": an M
//! stuck in a call nobody announced). So this storm checks that hand-off as
//! much as preemption: mutual exclusion holds, every round's result is
//! right, every line arrives whole, and nothing hangs.

mod common;
mod storm;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{is_child, with_timeout};
use storm::{limit, reference, run, run_storm_child, xorshift, SEEDS};

/// A call-free loop: the work done inside (and outside) the lock.
fn work(seed: u64, steps: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut acc = 0u64;
    for i in 0..steps {
        x = xorshift(x);
        acc = acc.wrapping_add(x.rotate_left((i % 63) as u32));
    }
    acc
}

/// Steps inside the critical section, and outside it.
const INSIDE: u64 = 3_000;
const OUTSIDE: u64 = 1_000;

/// What the mutex protects.
struct Shared {
    /// The worker inside, or usize::MAX.
    owner: usize,
    /// Critical sections completed.
    count: u64,
}

fn mutex_storm(workers: usize) {
    with_timeout(limit(), move || {
        let want = reference(|seed| work(seed, INSIDE));
        let shared = Arc::new(Mutex::new(Shared {
            owner: usize::MAX,
            count: 0,
        }));
        let sh = shared.clone();
        let r = run(
            "mutex",
            workers,
            move |w, seed| {
                let outside = work(seed, OUTSIDE);
                let mut g = sh.lock().expect("not poisoned");
                assert_eq!(g.owner, usize::MAX, "two goroutines inside the lock");
                g.owner = w;
                let inside = work(seed, INSIDE); // preemptions land here
                assert_eq!(g.owner, w, "another goroutine got in while {w} was out");
                g.owner = usize::MAX;
                g.count += 1;
                drop(g);
                std::hint::black_box(outside);
                inside
            },
            move |seed, got| *got == want[seed as usize],
        );
        let count = shared.lock().expect("not poisoned").count;
        assert_eq!(count, r.rounds, "critical sections vs rounds");
        // Fewer than in the other storms: a holder preempted after its P was
        // handed off runs P-less, and those preemptions are not counted.
        assert!(
            r.preemptions >= 5,
            "only {} preemptions in {:?}",
            r.preemptions,
            r.elapsed
        );
    });
}

const TAIL: &str = "the quick brown fox jumps over the lazy dog";

fn stdout_lock_storm(workers: usize) {
    with_timeout(limit(), move || {
        let want = reference(|seed| work(seed, INSIDE));
        let seqs: Arc<Vec<AtomicU64>> = Arc::new((0..workers).map(|_| AtomicU64::new(0)).collect());
        let s2 = seqs.clone();
        run(
            "stdout-lock",
            workers,
            move |w, seed| {
                // Only worker w touches seqs[w]: Relaxed is enough.
                let seq = s2[w].fetch_add(1, Ordering::Relaxed);
                let mut out = std::io::stdout().lock();
                write!(out, "line {w} {seq} {seed} ").expect("write stdout");
                let c = work(seed, INSIDE); // preemptions land here, lock held
                writeln!(out, "{c:016x} {TAIL}").expect("write stdout");
                c
            },
            move |seed, got| *got == want[seed as usize],
        );
        let lines: Vec<u64> = seqs.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        println!("storm: stdout-lock lines per worker {lines:?}");
    });
}

/// Checks every `line ` of the child's stdout: whole, in sequence per
/// worker, with the reference checksum, and as many as the child counted.
fn check_lines(stdout: &str) {
    let want: Vec<u64> = (0..SEEDS).map(|s| work(s, INSIDE)).collect();
    let mut next: Vec<u64> = Vec::new();
    for l in stdout.lines() {
        let Some(i) = l.find("line ") else { continue };
        let f: Vec<&str> = l[i..].splitn(6, ' ').collect();
        let torn = || format!("torn line: {l:?}");
        assert_eq!(f.len(), 6, "{}", torn());
        let w: usize = f[1].parse().unwrap_or_else(|_| panic!("{}", torn()));
        let seq: u64 = f[2].parse().unwrap_or_else(|_| panic!("{}", torn()));
        let seed: u64 = f[3].parse().unwrap_or_else(|_| panic!("{}", torn()));
        let c = u64::from_str_radix(f[4], 16).unwrap_or_else(|_| panic!("{}", torn()));
        assert_eq!(f[5], TAIL, "{}", torn());
        assert_eq!(c, want[seed as usize], "wrong checksum: {l:?}");
        if next.len() <= w {
            next.resize(w + 1, 0);
        }
        assert_eq!(seq, next[w], "worker {w}: line {seq} out of order or lost");
        next[w] += 1;
    }
    let counted = stdout
        .lines()
        .find_map(|l| l.split("lines per worker ").nth(1))
        .expect("the child's line counts");
    assert_eq!(
        counted,
        format!("{next:?}"),
        "lines counted vs lines received"
    );
}

#[test]
fn mutex_storm_gomaxprocs_1() {
    if is_child("mutex_storm_gomaxprocs_1") {
        return mutex_storm(4);
    }
    run_storm_child("mutex_storm_gomaxprocs_1", 1, &[]);
}

#[test]
fn mutex_storm_gomaxprocs_2() {
    if is_child("mutex_storm_gomaxprocs_2") {
        return mutex_storm(6);
    }
    run_storm_child("mutex_storm_gomaxprocs_2", 2, &[]);
}

#[test]
fn stdout_lock_storm_gomaxprocs_1() {
    if is_child("stdout_lock_storm_gomaxprocs_1") {
        return stdout_lock_storm(4);
    }
    check_lines(&run_storm_child("stdout_lock_storm_gomaxprocs_1", 1, &[]));
}

#[test]
fn stdout_lock_storm_gomaxprocs_2() {
    if is_child("stdout_lock_storm_gomaxprocs_2") {
        return stdout_lock_storm(6);
    }
    check_lines(&run_storm_child("stdout_lock_storm_gomaxprocs_2", 2, &[]));
}
