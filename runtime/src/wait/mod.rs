//! wait — how anything waits. A [`waiter::Waiter`] is "who is waiting": a
//! parked goroutine or a blocked thread, woken exactly once (wait/waiter.rs). A
//! sudog is one waiting party in a channel's or a sync primitive's queue,
//! claimed once by whoever completes the operation (wait/sudog.rs, Go's sudog and
//! waitq).

pub(crate) mod sudog;
pub(crate) mod waiter;
