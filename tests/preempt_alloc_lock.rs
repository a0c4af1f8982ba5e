//! A program's own `#[global_allocator]` is user code with a lock in it: a
//! preemption must never suspend a goroutine that holds that lock, or the
//! scheduler (which allocates) would wait for it on the same thread. This
//! test binary's allocator is a spin lock around the system allocator;
//! goroutines allocate in a loop, preempted every millisecond, at
//! GOMAXPROCS 1 and 2. Each must reach its quota, and a plain watcher thread
//! fails the run if no allocation completes for 10 s.

#[macro_use]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A spin lock around the system allocator, as small allocators (talc,
/// linked-list heaps in embedded code) build theirs. The spinning and the
/// lock's bookkeeping are this crate's code: user code, to the runtime.
struct SpinAlloc {
    locked: AtomicBool,
}

/// Allocations completed (the watcher's progress measure).
static ALLOCS: AtomicU64 = AtomicU64::new(0);

impl SpinAlloc {
    #[inline(never)]
    fn lock(&self) {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Spin, then give the CPU up now and then: a pure spin lock
            // crawls when the OS deschedules the holder on a loaded machine
            // (76 s instead of 2 beside a second test suite).
            spins += 1;
            if spins & 127 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        // Some work inside the critical section, so preemption requests land
        // here as well as in the spinning.
        let mut x = 0u64;
        for i in 0..black_box(64u64) {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        black_box(x);
    }

    #[inline(never)]
    fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

// SAFETY: every call is forwarded to System under the lock; the lock adds
// no requirement of its own.
unsafe impl GlobalAlloc for SpinAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.lock();
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        self.unlock();
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.lock();
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        self.unlock();
    }
}

#[global_allocator]
static GLOBAL: SpinAlloc = SpinAlloc {
    locked: AtomicBool::new(false),
};

/// Goroutines allocating, and how many rounds each must finish.
const WORKERS: usize = 8;
const ROUNDS: u64 = 1_000;

/// One round: a few hundred allocations of assorted sizes.
fn round(seed: u64) -> u64 {
    let mut v: Vec<Box<[u64]>> = Vec::new();
    let mut acc = seed;
    for i in 0..200u64 {
        let n = ((seed ^ i) % 48 + 1) as usize;
        v.push(vec![i; n].into_boxed_slice());
        if i % 3 == 0 {
            let s = format!("{acc:x}");
            acc = acc.wrapping_add(s.len() as u64);
        }
    }
    v.iter().fold(acc, |a, b| a.wrapping_mul(31) ^ b[0])
}

fn body() {
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut last = (ALLOCS.load(Ordering::Relaxed), Instant::now());
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let n = ALLOCS.load(Ordering::Relaxed);
                if n != last.0 {
                    last = (n, Instant::now());
                } else if last.1.elapsed() > Duration::from_secs(10) {
                    eprintln!("no allocation progress for 10 s: the allocator's lock holder was suspended");
                    std::process::abort();
                }
            }
        })
    };
    let t = Instant::now();
    let hs: Vec<_> = (0..WORKERS as u64)
        .map(|w| {
            gort::go!(move || {
                let mut acc = 0u64;
                for r in 0..ROUNDS {
                    acc ^= round(w * ROUNDS + r);
                }
                acc
            })
        })
        .collect();
    for h in hs {
        h.join().expect("worker");
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let st = gort::stats();
    println!(
        "alloc-lock: {} allocations, {} preemptions in {:.1?}",
        ALLOCS.load(Ordering::Relaxed),
        st.preemptions,
        t.elapsed()
    );
}

sliced_children!(
    spin_locked_allocator_p1,
    spin_locked_allocator_p2,
    "alloc-lock:",
    body,
    Duration::from_secs(120)
);
