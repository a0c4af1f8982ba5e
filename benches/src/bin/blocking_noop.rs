//! blocking_noop — the cost of `gort::syscall::blocking` itself, around a
//! closure that does nothing: the fast path of Go's entersyscall/exitsyscall
//! (the P is left in Syscall status and taken back with one CAS). The
//! target: ≤ 50 ns per call. Not one of the suite's workloads, so the driver
//! does not run it (its name has no `w<N>_` prefix); run it by hand:
//!
//! ```text
//! GOMAXPROCS=1 target/release/blocking_noop
//! ```
//!
//! One goroutine makes N calls of `blocking(|| black_box(i))`, after a
//! baseline loop of the same closure called directly. Check: every call was
//! counted by the scheduler (`stats().syscalls`) and returned its value.
//! Figures, in the suite's line format: `ns_per_call` (the whole call) and
//! `ns_overhead` (minus the direct loop's time per iteration).

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::Instant;

use gort_benches::{check, report};

const NAME: &str = "blocking_noop";
/// Calls timed.
const N: u64 = 10_000_000;

#[gort::main]
fn main() {
    let p = gort::gomaxprocs();
    let before = gort::stats();
    let (direct, wrapped, sum) = gort::go!(|| {
        let t = Instant::now();
        let mut sum = 0u64;
        for i in 0..N {
            sum = sum.wrapping_add(black_box(i));
        }
        let direct = t.elapsed();
        black_box(sum);

        let t = Instant::now();
        let mut sum = 0u64;
        for i in 0..N {
            sum = sum.wrapping_add(gort::syscall::blocking(|| black_box(i)));
        }
        (direct, t.elapsed(), sum)
    })
    .join()
    .unwrap_or_else(|_| gort_benches::fail(NAME, "the goroutine panicked"));
    let after = gort::stats();

    check(NAME, sum == N * (N - 1) / 2, || {
        format!("sum {sum}, want {}", N * (N - 1) / 2)
    });
    let calls = after.syscalls - before.syscalls;
    check(NAME, calls == N, || {
        format!("{calls} blocking calls counted, want {N}")
    });
    let per = |d: std::time::Duration| d.as_nanos() as f64 / N as f64;
    eprintln!(
        "{NAME}: handoffs during the loop: {}",
        after.handoffs - before.handoffs
    );
    report(NAME, p, per(wrapped), "ns_per_call");
    report(NAME, p, per(wrapped) - per(direct), "ns_overhead");
}
