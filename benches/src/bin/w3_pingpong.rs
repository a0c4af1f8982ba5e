//! W3 pingpong (docs/PERFORMANCE.md): two goroutines bounce one integer over two
//! unbuffered (rendezvous) channels, R = 1,000,000 round trips. Check: the
//! final value == R. Figure: `ns_per_roundtrip`. P: both (the driver sets
//! GOMAXPROCS; run by hand, the line's `p=` says what P was used).
//!
//! Each receive parks its goroutine and each send readies the other into the
//! sender's `runnext` (Go's handoff), so the pair runs back to back on one P.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use gort::chan::bounded;
use gort_benches::{check, fail, report};

const NAME: &str = "W3";
/// Round trips.
const R: u64 = 1_000_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let _flight = gort_benches::flight_recorder_from_env();
    let (ping_tx, ping_rx) = bounded::<u64>(0);
    let (pong_tx, pong_rx) = bounded::<u64>(0);

    let start = Instant::now();
    let ponger = gort::go!(move || {
        for v in ping_rx {
            if pong_tx.send(black_box(v) + 1).is_err() {
                break;
            }
        }
    });
    let pinger = gort::go!(move || {
        let mut v = 0u64;
        for _ in 0..R {
            ping_tx.send(v).expect("ponger is alive");
            v = pong_rx.recv().expect("ponger answers");
        }
        v
    });
    let v = pinger.join();
    let pong = ponger.join();
    let elapsed = start.elapsed();

    let (Ok(v), Ok(())) = (v, pong) else {
        fail(NAME, "a task panicked")
    };
    check(NAME, v == R, || format!("final value {v}, want {R}"));
    report(
        NAME,
        p,
        elapsed.as_nanos() as f64 / R as f64,
        "ns_per_roundtrip",
    );
}
