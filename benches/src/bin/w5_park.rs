//! W5 park-1M (docs/PERFORMANCE.md): N = 1,000,000 goroutines each block on a
//! receive from one shared unbuffered channel; once all N are in (counted),
//! read the peak RSS, then drop the sender (Go's close) to release them all,
//! and wait for them (a WaitGroup, like Go's version). Figures:
//! `bytes_per_task` = (VmHWM after - VmHWM before) / N and `ms_total`. P:
//! all cores. Runs under the default vm.max_map_count (65530).

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

use gort::chan::bounded;
use gort::sync::WaitGroup;
use gort_benches::{check, fail, report, vm_hwm_bytes};

const NAME: &str = "W5";
/// Goroutines parked at once.
const N: u64 = 1_000_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let (tx, rx) = bounded::<()>(0);
    let arrived = Arc::new(AtomicU64::new(0));
    let released = Arc::new(AtomicU64::new(0));
    let wg = WaitGroup::new();
    wg.add(N as isize);
    let before = vm_hwm_bytes().unwrap_or_else(|e| fail(NAME, e));

    let start = Instant::now();
    for _ in 0..N {
        let (rx, arrived, released, wg) =
            (rx.clone(), arrived.clone(), released.clone(), wg.clone());
        gort::go!(move || {
            arrived.fetch_add(1, SeqCst);
            // Parks until the sender is dropped.
            if rx.recv().is_err() {
                released.fetch_add(1, SeqCst);
            }
            wg.done();
        });
    }
    drop(rx);
    // Count them in: every goroutine has started (its stack is touched) and
    // none can finish before the sender goes.
    while arrived.load(SeqCst) < N {
        gort::yield_now();
    }
    let peak = vm_hwm_bytes().unwrap_or_else(|e| fail(NAME, e));
    drop(tx);
    wg.wait();
    let elapsed = start.elapsed();

    let released = released.load(SeqCst);
    check(NAME, released == N, || {
        format!("{released} of {N} released")
    });
    report(
        NAME,
        p,
        peak.saturating_sub(before) as f64 / N as f64,
        "bytes_per_task",
    );
    report(NAME, p, elapsed.as_secs_f64() * 1e3, "ms_total");
}
