//! bridge — goroutines meet async Rust, both ways. A goroutine runs a future
//! to completion with [`block_on`](block_on::block_on), parking only itself
//! while the future is pending (block_on.rs); async code awaits a goroutine
//! (`JoinHandle` is a `Future`, goroutine/join.rs) and talks to goroutines
//! over gort channels (`send_async`, `recv_async`: chan_async.rs). With the
//! `tokio` feature, futures that need tokio's reactor or timers run inside
//! `block_on` unchanged (tokio.rs). docs/ASYNC.md tells the whole story.

pub(crate) mod block_on;
#[cfg(feature = "tokio")]
pub(crate) mod tokio;
pub(crate) mod waker;
