//! Criterion micro-benchmarks of gort's hot paths through the public API
//! (`cargo bench -p gort-benches`): spawn+join, channel send/recv (buffered
//! and rendezvous), `yield_now`, `syscall::blocking` of a no-op.
//!
//! Each measurement runs its `iters` iterations inside one goroutine
//! (`iter_custom`), so it times the goroutine-to-goroutine path, not the
//! wake-up of the plain OS thread criterion runs on. Small samples keep the
//! whole run under a minute.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gort::chan::bounded;

/// A measurement: runs `iters` iterations, returns their time.
type Case = fn(u64) -> Duration;

/// Runs `f(iters)` in a goroutine and returns the time it reports.
fn in_goroutine(iters: u64, f: Case) -> Duration {
    gort::go!(move || f(iters))
        .join()
        .expect("the benchmark goroutine panicked")
}

fn spawn_join(iters: u64) -> Duration {
    let t = Instant::now();
    for i in 0..iters {
        let h = gort::go!(move || black_box(i));
        black_box(h.join().expect("child panicked"));
    }
    t.elapsed()
}

fn chan_buffered(iters: u64) -> Duration {
    let (tx, rx) = bounded::<u64>(1);
    let t = Instant::now();
    for i in 0..iters {
        tx.send(i).expect("receiver alive");
        black_box(rx.recv().expect("sender alive"));
    }
    t.elapsed()
}

fn chan_rendezvous(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);
    let echo = gort::go!(move || {
        for v in ping_rx {
            if pong_tx.send(v).is_err() {
                break;
            }
        }
    });
    let t = Instant::now();
    for i in 0..iters {
        ping_tx.send(i).expect("echo alive");
        black_box(pong_rx.recv().expect("echo answers"));
    }
    let el = t.elapsed();
    drop(ping_tx);
    echo.join().expect("echo panicked");
    el
}

fn yield_now(iters: u64) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        gort::yield_now();
    }
    t.elapsed()
}

fn blocking_noop(iters: u64) -> Duration {
    let t = Instant::now();
    for i in 0..iters {
        black_box(gort::syscall::blocking(move || black_box(i)));
    }
    t.elapsed()
}

fn hot_paths(c: &mut Criterion) {
    let mut g = c.benchmark_group("gort");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    let cases: [(&str, Case); 5] = [
        ("spawn_join", spawn_join),
        ("chan_send_recv_buffered", chan_buffered),
        ("chan_roundtrip_rendezvous", chan_rendezvous),
        ("yield_now", yield_now),
        ("blocking_noop", blocking_noop),
    ];
    for (name, f) in cases {
        g.bench_function(name, |b| b.iter_custom(|iters| in_goroutine(iters, f)));
    }
    g.finish();
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
