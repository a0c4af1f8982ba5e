//! A goroutine that spins with 1.5 KiB of stack left must be preempted or
//! left alone, never killed. The kernel's signal frame (registers plus the
//! vector state, 1-3 KiB) may not fit there; SIGURG is handled on the M's
//! signal stack, and the switch needs room the handler checks first.
//! Where the frame did not fit, the kernel turned the SIGURG into a SIGSEGV
//! and the request was lost: the M could never be preempted again. So after
//! its deep spin the goroutine spins on, shallow, until a second goroutine
//! sets a flag; at GOMAXPROCS 1 that one runs only if the first is
//! preempted. At GOMAXPROCS 1 and 2.

#[macro_use]
mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stack left at the deepest frame.
const LEFT: usize = 1536;
/// How long the deep goroutine spins there.
const SPIN: Duration = Duration::from_millis(500);

/// Recurses until at most `LEFT` bytes (and more than `LEFT - 512`) remain,
/// then spins. Each level's frame is a few hundred bytes.
#[inline(never)]
fn descend(depth: u64, spins: &AtomicU64) -> u64 {
    let pad = black_box([depth; 16]);
    let left = gort::debug::remaining_stack().expect("on a goroutine");
    if left > LEFT + 256 {
        return descend(depth + 1, spins) ^ pad[3];
    }
    spin_here(left, spins) ^ pad[5]
}

/// The spin: no calls, so the stack stays where it is.
#[inline(never)]
fn spin_here(left: usize, spins: &AtomicU64) -> u64 {
    assert!(left <= LEFT + 256 && left > 512, "left {left}");
    let until = Instant::now() + SPIN;
    let mut x = left as u64;
    while Instant::now() < until {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        spins.fetch_add(1, Ordering::Relaxed);
    }
    x
}

fn body() {
    let spins = Arc::new(AtomicU64::new(0));
    let deep_done = Arc::new(AtomicBool::new(false));
    let flag = Arc::new(AtomicBool::new(false));
    let deep = {
        let (spins, deep_done, flag) = (spins.clone(), deep_done.clone(), flag.clone());
        gort::Builder::new()
            .stack_size(gort::MIN_STACK_SIZE)
            .spawn(move || {
                let x = descend(0, &spins);
                deep_done.store(true, Ordering::Relaxed);
                let mut n = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    n = black_box(n + 1);
                }
                x ^ n
            })
            .expect("spawn")
    };
    let flagger = {
        let (deep_done, flag) = (deep_done.clone(), flag.clone());
        gort::go!(move || {
            while !deep_done.load(Ordering::Relaxed) {
                gort::yield_now();
            }
            flag.store(true, Ordering::Relaxed);
        })
    };
    deep.join().expect("deep goroutine");
    flagger.join().expect("flagger");
    println!(
        "stack-edge: spun {} rounds {LEFT} bytes from the guard; {} preemptions",
        spins.load(Ordering::Relaxed),
        gort::stats().preemptions
    );
}

sliced_children!(
    spin_near_the_guard_p1,
    spin_near_the_guard_p2,
    "stack-edge:",
    body,
    Duration::from_secs(30)
);
