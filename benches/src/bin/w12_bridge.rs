//! W12 bridge (docs/PERFORMANCE.md): a tokio task and a goroutine bounce one
//! integer over two gort channels of capacity 1 — the task with
//! `send_async`/`recv_async`, the goroutine with the blocking `send`/`recv` —
//! R = 100,000 round trips. Check: the final value == R. Figure:
//! `ns_per_roundtrip`. Then `gort::block_on` of an already-ready future,
//! 1,000,000 calls on a goroutine: `ns_per_call`. P: all cores (GOMAXPROCS
//! goroutine Ps and as many tokio workers).

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use gort::chan::bounded;
use gort_benches::{check, fail, procs_from_env, report};

const NAME: &str = "W12";
/// Round trips.
const R: u64 = 100_000;
/// block_on calls.
const CALLS: u64 = 1_000_000;

fn main() {
    let p = procs_from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(p)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(NAME, e));
    let (ping_tx, ping_rx) = bounded::<u64>(1);
    let (pong_tx, pong_rx) = bounded::<u64>(1);

    let start = Instant::now();
    let ponger = gort::go!(move || {
        for v in ping_rx {
            if pong_tx.send(black_box(v) + 1).is_err() {
                break;
            }
        }
    });
    let v = rt.block_on(async move {
        let pinger = tokio::spawn(async move {
            let mut v = 0u64;
            for _ in 0..R {
                ping_tx.send_async(v).await.expect("ponger is alive");
                v = pong_rx.recv_async().await.expect("ponger answers");
            }
            v
        });
        pinger
            .await
            .unwrap_or_else(|_| fail(NAME, "the task panicked"))
    });
    let elapsed = start.elapsed();
    if ponger.join().is_err() {
        fail(NAME, "the goroutine panicked");
    }
    check(NAME, v == R, || format!("final value {v}, want {R}"));
    report(
        NAME,
        p,
        elapsed.as_nanos() as f64 / R as f64,
        "ns_per_roundtrip",
    );

    let per_call = gort::go!(|| {
        let start = Instant::now();
        let mut sum = 0u64;
        for i in 0..CALLS {
            sum += gort::block_on(std::future::ready(black_box(i)));
        }
        check(NAME, sum == CALLS * (CALLS - 1) / 2, || {
            format!("sum {sum}")
        });
        start.elapsed().as_nanos() as f64 / CALLS as f64
    })
    .join()
    .unwrap_or_else(|_| fail(NAME, "the goroutine panicked"));
    report(NAME, p, per_call, "ns_per_call");
}
