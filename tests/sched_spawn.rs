//! Spawning and joining through the public API: many goroutines, nesting,
//! joins from goroutines and from plain threads, the Builder's checks, panics.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::with_timeout;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn hundred_thousand_goroutines_spawned_and_joined() {
    with_timeout(LIMIT, || {
        let hs: Vec<_> = (0..100_000u64).map(|i| gort::go!(move || i * 3)).collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i as u64 * 3);
        }
    });
}

/// Each level spawns `fanout` children and sums their results.
fn tree(depth: u32, fanout: u64) -> u64 {
    if depth == 0 {
        return 1;
    }
    let hs: Vec<_> = (0..fanout)
        .map(|_| gort::go!(move || tree(depth - 1, fanout)))
        .collect();
    hs.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn nested_spawns_four_deep() {
    with_timeout(LIMIT, || {
        for _ in 0..5 {
            let leaves = gort::go!(|| tree(4, 6)).join().unwrap();
            assert_eq!(leaves, 6u64.pow(4));
        }
    });
}

#[test]
fn join_from_plain_threads() {
    with_timeout(LIMIT, || {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let hs: Vec<_> = (0..500u64)
                        .map(|i| gort::go!(move || t * 1000 + i))
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
                })
            })
            .collect();
        let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let want: u64 = (0..4u64)
            .map(|t| (0..500).map(|i| t * 1000 + i).sum::<u64>())
            .sum();
        assert_eq!(total, want);
    });
}

/// goroutine/join.rs's oneshot, raced: each goroutine finishes while its joiner (a
/// goroutine or a plain thread) is just registering, many times over. Every
/// result arrives once, intact (a heap value: a lost or doubled take would
/// show as a wrong sum or a crash), and no join hangs.
#[test]
fn joins_racing_completion_lose_nothing() {
    with_timeout(LIMIT, || {
        for round in 0..20u64 {
            let threads: Vec<_> = (0..2u64)
                .map(|t| {
                    std::thread::spawn(move || {
                        (0..200u64)
                            .map(|i| gort::go!(move || vec![round, t, i]))
                            .map(|h| h.join().unwrap().iter().sum::<u64>())
                            .sum::<u64>()
                    })
                })
                .collect();
            let from_g = gort::go!(move || {
                (0..400u64)
                    .map(|i| gort::go!(move || vec![round, i]))
                    .map(|h| h.join().unwrap().iter().sum::<u64>())
                    .sum::<u64>()
            })
            .join()
            .unwrap();
            let from_threads: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            let want_t: u64 = (0..2u64)
                .map(|t| (0..200u64).map(|i| round + t + i).sum::<u64>())
                .sum();
            let want_g: u64 = (0..400u64).map(|i| round + i).sum();
            assert_eq!((from_threads, from_g), (want_t, want_g), "round {round}");
        }
    });
}

#[gort::test]
fn gort_test_runs_on_a_goroutine() {
    // Joining parks this goroutine; many joins in a row must all complete.
    let counter = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let c = counter.clone();
        gort::go!(move || c.fetch_add(1, Ordering::SeqCst))
            .join()
            .unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 1000);
}

#[gort::test]
fn gort_test_may_return_a_result() -> Result<(), String> {
    let v = gort::go!(|| 7).join().map_err(|_| "panicked".to_string())?;
    if v == 7 {
        Ok(())
    } else {
        Err(format!("got {v}"))
    }
}

#[test]
fn a_panicking_goroutine_is_err_and_the_runtime_keeps_working() {
    with_timeout(LIMIT, || {
        for round in 0..50 {
            let h = gort::Builder::new()
                .name(format!("doomed-{round}"))
                .spawn(move || -> u32 { panic!("boom {round}") })
                .unwrap();
            let err = h.join().unwrap_err();
            let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
            assert_eq!(msg, format!("boom {round}"));
            assert_eq!(gort::go!(move || round + 1).join().unwrap(), round + 1);
        }
    });
}

#[test]
#[should_panic(expected = "inside a gort test")]
fn gort_test_panics_fail_the_test() {
    gort::__private::run_test(|| panic!("inside a gort test"));
}

#[test]
fn builder_rejects_small_and_huge_stacks_with_the_limit() {
    let e = gort::Builder::new()
        .stack_size(1024)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        e.to_string().contains(&gort::MIN_STACK_SIZE.to_string()),
        "{e}"
    );
    let e = gort::Builder::new()
        .stack_size(1 << 40)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn custom_stack_size_allows_deep_recursion() {
    fn depth(n: u64) -> u64 {
        // About 1 KiB of stack per frame.
        let buf = std::hint::black_box([n as u8; 1000]);
        if n == 0 {
            buf[0] as u64
        } else {
            depth(n - 1) + std::hint::black_box(buf[1]) as u64 / 255
        }
    }
    with_timeout(LIMIT, || {
        let h = gort::Builder::new()
            .stack_size(16 << 20)
            .spawn(|| depth(8_000))
            .unwrap();
        h.join().unwrap();
    });
}

#[test]
fn names_ids_and_num_goroutine() {
    with_timeout(LIMIT, || {
        let h = gort::Builder::new().name("named").spawn(|| 5).unwrap();
        assert_eq!(h.name(), Some("named"));
        assert!(h.id() >= 1);
        assert_eq!(h.join().unwrap(), 5);
        // A goroutine that waits for its joiner to release it is counted live.
        let inner = gort::go!(|| 1);
        let outer = gort::go!(move || inner.join().unwrap() + 1);
        assert_eq!(outer.join().unwrap(), 2);
        assert!(gort::num_goroutine() < 1_000_000);
    });
}
