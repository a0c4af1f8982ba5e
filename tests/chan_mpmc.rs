//! Many producers and many consumers on one channel: 1,000 producers × 1,000
//! messages into 1,000 consumers, at GOMAXPROCS 1 and 2 (each in a child
//! process, since GOMAXPROCS is read once per process), unbuffered and
//! buffered. Every message must be received exactly once.

mod common;

use std::time::Duration;

use common::{is_child, run_child, texts, with_timeout};
use gort::chan::bounded;

const LIMIT: Duration = Duration::from_secs(240);
const PRODUCERS: u32 = 1_000;
const PER_PRODUCER: u32 = 1_000;
const CONSUMERS: u32 = 1_000;

/// Runs the exchange over a channel of capacity `cap` and checks that each
/// of the PRODUCERS × PER_PRODUCER distinct values arrived exactly once.
fn exchange(cap: usize) {
    let (tx, rx) = bounded::<u32>(cap);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            gort::go!(move || {
                for i in 0..PER_PRODUCER {
                    tx.send(p * PER_PRODUCER + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            gort::go!(move || rx.iter().collect::<Vec<u32>>())
        })
        .collect();
    drop(rx);
    for h in producers {
        h.join().unwrap();
    }
    let total = (PRODUCERS * PER_PRODUCER) as usize;
    let mut seen = vec![false; total];
    let (mut count, mut sum) = (0usize, 0u64);
    for h in consumers {
        for v in h.join().unwrap() {
            assert!(!seen[v as usize], "value {v} received twice");
            seen[v as usize] = true;
            count += 1;
            sum += v as u64;
        }
    }
    assert_eq!(count, total, "message count");
    assert_eq!(sum, (total as u64) * (total as u64 - 1) / 2, "message sum");
    assert!(seen.iter().all(|&s| s), "every value arrived");
}

/// The body run in each child process.
#[test]
fn child_exchange() {
    if !is_child("child_exchange") {
        return;
    }
    let p = gort::gomaxprocs();
    for cap in [0usize, 1, 64] {
        let t = std::time::Instant::now();
        with_timeout(LIMIT, move || exchange(cap));
        println!("GOMAXPROCS={p} cap={cap}: {:?}", t.elapsed());
    }
}

fn run_at(procs: &str) {
    let out = run_child("child_exchange", &[("GOMAXPROCS", procs)]);
    let (stdout, stderr) = texts(&out);
    assert!(
        out.status.success(),
        "child at GOMAXPROCS={procs} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains(&format!("GOMAXPROCS={procs} cap=64")),
        "{stdout}"
    );
    eprintln!(
        "{}",
        stdout
            .lines()
            .filter(|l| l.starts_with("GOMAXPROCS"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn thousand_by_thousand_at_gomaxprocs_1() {
    run_at("1");
}

#[test]
fn thousand_by_thousand_at_gomaxprocs_2() {
    run_at("2");
}

#[test]
fn plain_threads_and_goroutines_mixed() {
    with_timeout(LIMIT, || {
        let (tx, rx) = bounded::<u64>(0);
        let mut producers = Vec::new();
        for t in 0..4u64 {
            let tx = tx.clone();
            producers.push(std::thread::spawn(move || {
                for i in 0..2_000 {
                    tx.send(t * 1_000_000 + i).unwrap();
                }
            }));
        }
        let gs: Vec<_> = (0..4u64)
            .map(|t| {
                let tx = tx.clone();
                gort::go!(move || {
                    for i in 0..2_000 {
                        tx.send((t + 4) * 1_000_000 + i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let consumer_threads: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    rx.iter()
                        .map(|v| (1, v))
                        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
                })
            })
            .collect();
        let consumer_gs: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                gort::go!(move || rx
                    .iter()
                    .map(|v| (1, v))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)))
            })
            .collect();
        drop(rx);
        for p in producers {
            p.join().unwrap();
        }
        for g in gs {
            g.join().unwrap();
        }
        let mut count = 0u64;
        let mut sum = 0u64;
        for c in consumer_threads {
            let (n, s) = c.join().unwrap();
            count += n;
            sum += s;
        }
        for c in consumer_gs {
            let (n, s) = c.join().unwrap();
            count += n;
            sum += s;
        }
        let want: u64 = (0..8u64)
            .map(|t| (0..2_000).map(|i| t * 1_000_000 + i).sum::<u64>())
            .sum();
        assert_eq!((count, sum), (16_000, want));
    });
}
