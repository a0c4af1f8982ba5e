//! loom — the atomics of the lock-free core: std's in a normal build,
//! loom's under `--cfg loom`, so the model tests check the real code rather
//! than a copy (tokio's practice). Code that a model covers imports its
//! atomics from here; everything else uses std's directly.
//!
//! The models run with
//! `RUSTFLAGS="--cfg loom" cargo test -p gort-runtime --release --lib loom`;
//! each lives beside the code it checks, in a `loom_tests` module.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize};
