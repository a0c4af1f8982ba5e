//! maxprocs — GOMAXPROCS's updates while the program runs, Go 1.25's rules
//! (proc.go sysmonUpdateGOMAXPROCS): sysmon recomputes the default
//! (config.rs `default_gomaxprocs`: the CPUs in the affinity mask, lowered
//! to the cgroup CPU limit) about once a second and applies a change.
//!
//! As in Go: a `GOMAXPROCS` environment variable or a `set_gomaxprocs(n)`
//! call makes the value custom and stops the updates;
//! `set_default_gomaxprocs()` goes back to automatic; `GODEBUG=
//! updatemaxprocs=0` turns the updates off and `containermaxprocs=0` the
//! cgroup limit.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{default_gomaxprocs, Config};

/// How often sysmon recomputes the default (Go: 1 s).
const UPDATE_EVERY: Duration = Duration::from_secs(1);

/// The value was chosen by the program (environment or `set_gomaxprocs`):
/// no automatic updates. Relaxed: a flag with no data behind it.
static CUSTOM: AtomicBool = AtomicBool::new(false);

/// Records whether the starting value was custom.
pub(crate) fn init(cfg: &Config) {
    CUSTOM.store(cfg.gomaxprocs_custom, Ordering::Relaxed);
}

/// Marks the value as chosen by the program (a `set_gomaxprocs(n)` call).
pub(crate) fn set_custom(custom: bool) {
    CUSTOM.store(custom, Ordering::Relaxed);
}

/// sysmon's check (Go's sysmonUpdateGOMAXPROCS): at most once per
/// UPDATE_EVERY, apply a changed default unless the value is custom.
pub(crate) fn sysmon_update(cfg: &Config, last: &mut Instant, now: Instant) {
    if !cfg.update_maxprocs || now.duration_since(*last) < UPDATE_EVERY {
        return;
    }
    *last = now;
    if CUSTOM.load(Ordering::Relaxed) {
        return;
    }
    let want = default_gomaxprocs(cfg.container_maxprocs);
    if want != super::sched().gomaxprocs() {
        super::set_gomaxprocs(want);
    }
}
