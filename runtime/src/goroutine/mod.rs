//! goroutine — a goroutine as the program sees it: [`spawn`] and
//! [`Builder`] make one (goroutine/spawn.rs, Go's `go` statement and the panic
//! policy), [`JoinHandle`] waits for its result (goroutine/join.rs), [`LocalKey`] is
//! its goroutine-local storage (goroutine/local.rs), and goroutine/entry.rs is what
//! `#[gort::main]` and `#[gort::test]` call. The goroutine itself, the G,
//! is g.rs.

mod entry;
mod join;
pub(crate) mod local;
pub(crate) mod spawn;

pub use entry::{run_main, run_test};
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use spawn::{spawn, Builder};
