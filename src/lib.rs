//! # gort — Go's runtime model, in Rust
//!
//! Goroutines are stackful coroutines on mmap'd, guarded stacks, scheduled by
//! Go's G/M/P model: GOMAXPROCS processors (P), each with a local run queue
//! and a `runnext` slot, OS threads (M) created on demand and reused, a global
//! queue checked every 61st tick, and idle Ps stealing half of a busy P's queue.
//!
//! ```
//! let handles: Vec<_> = (0..1000u64).map(|i| gort::go!(move || i)).collect();
//! let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
//! assert_eq!(sum, 499_500);
//! ```
//!
//! `#[gort::main]` runs `main` as goroutine 1; `#[gort::test]` runs a test as a
//! goroutine. Everything also works from plain threads (it then blocks them).

pub use gort_macros::{main, test};
pub use gort_runtime::*;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// docs/TESTING.md's examples, compiled as doctests.
#[doc = include_str!("../docs/TESTING.md")]
#[cfg(doctest)]
pub struct TestingDoctests;

/// docs/ASYNC.md's examples, compiled and run as doctests.
#[doc = include_str!("../docs/ASYNC.md")]
#[cfg(doctest)]
pub struct AsyncDoctests;
