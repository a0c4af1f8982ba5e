//! sysmon — the system monitor: a thread with no P that watches the Ps and
//! asks a goroutine that has run too long to stop (preempt.rs). Go's sysmon
//! and retake. Later issues add here: handing off the P of an M stuck in a
//! system call, and polling the network when nobody has.
//!
//! # Rhythm
//! Sleeps 20 µs, doubling while nothing happens, up to half a time slice
//! (at most 10 ms) while any P runs, so a slice overrun is seen within 1.5
//! slices; when it has asked for a preemption that has not happened yet it
//! looks again within 1 ms. When every P is idle it sleeps until `wake` (an
//! M starting) or 100 ms pass.
//!
//! # retake (preemption part)
//! For each running P: if its schedtick moved since the last look, remember
//! the new tick and when it was first seen; if it has not moved for a whole
//! time slice, `preempt_m` the M holding it. The tick identifies the slice,
//! so a late signal cannot stop a later one (preempt.rs).

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::p::PStatus;
use crate::preempt;
use crate::sched::sched;

/// sysmon's shortest sleep (Go: 20 µs).
const MIN_DELAY: Duration = Duration::from_micros(20);
/// sysmon's longest sleep while Ps run (Go: 10 ms).
const MAX_DELAY: Duration = Duration::from_millis(10);
/// How soon to look again after asking for a preemption.
const PREEMPT_RECHECK: Duration = Duration::from_millis(1);
/// How long to sleep when every P is idle, if nothing wakes sysmon first.
const IDLE_SLEEP: Duration = Duration::from_millis(100);

static START: Once = Once::new();
/// True while sysmon sleeps because every P is idle. SeqCst: `wake`'s check
/// must not be reordered before the caller's publication of new work.
static IDLE: AtomicBool = AtomicBool::new(false);
static IDLE_LOCK: Mutex<()> = Mutex::new(());
static IDLE_CV: Condvar = Condvar::new();

/// Starts sysmon (once). Called when the first M is made.
pub(crate) fn start() {
    START.call_once(|| {
        let r = std::thread::Builder::new()
            .name("gort-sysmon".into())
            .spawn(sysmon);
        if let Err(e) = r {
            crate::debug::warn(&format!("gort: cannot start sysmon ({e}): no preemption"));
        }
    });
}

/// Wakes sysmon from its all-idle sleep (called when an M starts).
pub(crate) fn wake() {
    if IDLE.load(Ordering::SeqCst) {
        let _l = IDLE_LOCK.lock();
        IDLE_CV.notify_one();
    }
}

/// Per-P memory of the last look.
#[derive(Clone, Copy)]
struct PWatch {
    tick: u32,
    since: Instant,
}

/// Go's sysmon loop.
fn sysmon() {
    let s = sched();
    preempt::enable(&s.cfg);
    let slice = s.cfg.timeslice;
    let cap = (slice / 2).clamp(MIN_DELAY * 5, MAX_DELAY);
    let mut watch: Vec<Option<PWatch>> = Vec::new();
    let mut delay = MIN_DELAY;
    loop {
        let now = Instant::now();
        let (running, asked) = retake(&mut watch, now, slice);
        if running == 0 {
            idle_sleep();
            delay = MIN_DELAY;
            continue;
        }
        if asked {
            delay = delay.min(PREEMPT_RECHECK);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(cap);
    }
}

/// Sleeps until an M starts or IDLE_SLEEP passes.
fn idle_sleep() {
    let mut l = IDLE_LOCK.lock();
    IDLE.store(true, Ordering::SeqCst);
    let _ = IDLE_CV.wait_for(&mut l, IDLE_SLEEP);
    IDLE.store(false, Ordering::SeqCst);
}

/// Go's retake (preemption part). Returns the number of running Ps and
/// whether a preemption was asked for.
fn retake(watch: &mut Vec<Option<PWatch>>, now: Instant, slice: Duration) -> (usize, bool) {
    let s = sched();
    let mut running = 0;
    let mut asked = false;
    for p in s.all_ps() {
        if watch.len() <= p.id {
            watch.resize(p.id + 1, None);
        }
        if p.status() != PStatus::Running {
            watch[p.id] = None;
            continue;
        }
        running += 1;
        // Relaxed: see P::schedtick.
        let tick = p.schedtick.load(Ordering::Relaxed);
        match watch[p.id] {
            Some(w) if w.tick == tick => {
                if now.duration_since(w.since) >= slice {
                    if let Some(m) = p.holder() {
                        if m.cur_g.load(Ordering::Relaxed).is_null() {
                            continue; // the M is scheduling, not running a G
                        }
                        preempt::preempt_m(m, tick);
                        asked = true;
                    }
                }
            }
            _ => watch[p.id] = Some(PWatch { tick, since: now }),
        }
    }
    (running, asked)
}
