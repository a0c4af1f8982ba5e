//! Preemption storm, println!-heavy: goroutines that compute a little and
//! print a line, over and over, preempted every millisecond for 3 s at
//! GOMAXPROCS=1 and 2, with stdout a pipe (the child's stdout is read by the
//! parent). stdout's reentrant lock and its RefCell are per thread: a
//! preemption inside std's I/O or formatting code while another goroutine
//! prints from the same thread would corrupt them, or leave the lock held by
//! a goroutine that is not running. Preemption stays out of std (sched/symtab.rs),
//! so every line must arrive whole, in order per goroutine, with the right
//! checksum.

mod common;
mod storm;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{is_child, with_timeout};
use storm::{limit, reference, run, run_storm_child, xorshift, SEEDS};

/// A call-free stretch of work (where preemptions land) and its checksum.
fn work(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut acc = 0u64;
    for i in 0..2_000u64 {
        x = xorshift(x);
        acc = acc.wrapping_add(x.rotate_left((i % 63) as u32));
    }
    acc
}

/// The text every line ends with, to make lines long enough to matter.
const TAIL: &str = "the quick brown fox jumps over the lazy dog";

/// One round: work, then a line. Only `println!`: std takes and drops
/// stdout's lock inside its own code, where no preemption lands. (A
/// `StdoutLock` held by user code is a std lock held across user code: see
/// preempt_storm_mutex.rs.)
fn print_round(worker: usize, seq: u64, seed: u64) -> u64 {
    let c = work(seed);
    println!("line {worker} {seq} {seed} {c:016x} {TAIL}");
    c
}

fn storm_body(workers: usize) {
    with_timeout(limit(), move || {
        let want = reference(work);
        let seqs: Arc<Vec<AtomicU64>> = Arc::new((0..workers).map(|_| AtomicU64::new(0)).collect());
        let s2 = seqs.clone();
        let r = run(
            "println",
            workers,
            move |w, seed| {
                // Only worker w touches seqs[w]: Relaxed is enough.
                let seq = s2[w].fetch_add(1, Ordering::Relaxed);
                print_round(w, seq, seed)
            },
            move |seed, got| *got == want[seed as usize],
        );
        assert!(
            r.preemptions >= 30,
            "only {} preemptions in {:?}",
            r.preemptions,
            r.elapsed
        );
        let lines: Vec<u64> = seqs.iter().map(|s| s.load(Ordering::Relaxed)).collect();
        println!("storm: println lines per worker {lines:?}");
    });
}

/// Checks every `line ` of the child's stdout: whole, in sequence per
/// worker, with the reference checksum, and as many as the child counted.
fn check_lines(stdout: &str) {
    let want: Vec<u64> = (0..SEEDS).map(work).collect();
    let mut next: Vec<u64> = Vec::new();
    let mut total = 0u64;
    for l in stdout.lines() {
        // libtest may have printed `test name ... ` on the same line first.
        let Some(i) = l.find("line ") else { continue };
        let f: Vec<&str> = l[i..].splitn(6, ' ').collect();
        assert_eq!(f.len(), 6, "torn line: {l:?}");
        let w: usize = f[1].parse().unwrap_or_else(|_| panic!("torn line: {l:?}"));
        let seq: u64 = f[2].parse().unwrap_or_else(|_| panic!("torn line: {l:?}"));
        let seed: u64 = f[3].parse().unwrap_or_else(|_| panic!("torn line: {l:?}"));
        let c = u64::from_str_radix(f[4], 16).unwrap_or_else(|_| panic!("torn line: {l:?}"));
        assert_eq!(f[5], TAIL, "torn line: {l:?}");
        assert_eq!(c, want[seed as usize], "wrong checksum: {l:?}");
        if next.len() <= w {
            next.resize(w + 1, 0);
        }
        assert_eq!(seq, next[w], "worker {w}: line {seq} out of order or lost");
        next[w] += 1;
        total += 1;
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
    println!("storm: println {total} lines received intact");
}

#[test]
fn println_storm_gomaxprocs_1() {
    if is_child("println_storm_gomaxprocs_1") {
        return storm_body(4);
    }
    check_lines(&run_storm_child("println_storm_gomaxprocs_1", 1, &[]));
}

#[test]
fn println_storm_gomaxprocs_2() {
    if is_child("println_storm_gomaxprocs_2") {
        return storm_body(6);
    }
    check_lines(&run_storm_child("println_storm_gomaxprocs_2", 2, &[]));
}
