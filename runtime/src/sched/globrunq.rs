//! globrunq — the global run queue (Go's `sched.runq`): Gs spawned or readied
//! off any P, a P's overflow, preempted Gs, and Gs back from a blocking call
//! whose P was handed off (at the front: they go first). It lives under the
//! sched lock with the idle lists; its length is mirrored in
//! `Sched::glob_len` so the spinning protocol and `find_runnable` can look
//! without the lock.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::{sched, Locked, Sched};
use crate::g::GRef;
use crate::p::P;

impl Locked {
    /// Changes the global queue and publishes its new length. SeqCst: the
    /// submitter's store of the spinning protocol (sched/mod.rs header),
    /// read by a spinner that gives up.
    pub(super) fn glob_edit<R>(
        &mut self,
        s: &Sched,
        f: impl FnOnce(&mut VecDeque<GRef>) -> R,
    ) -> R {
        let r = f(&mut self.glob);
        s.glob_len.store(self.glob.len(), Ordering::SeqCst);
        r
    }
}

/// Go's globrunqputbatch.
pub(super) fn glob_runq_put_batch(gs: impl IntoIterator<Item = GRef>) {
    let s = sched();
    s.lock.lock().glob_edit(s, |q| q.extend(gs));
}

/// Puts `g` first in the global queue and counts it urgent: the next
/// `runq_pick` on any P looks at the global queue before its own.
pub(super) fn glob_runq_put_urgent(g: GRef) {
    let s = sched();
    let mut l = s.lock.lock();
    l.glob_edit(s, |q| q.push_front(g));
    // Relaxed: a hint; the queue itself is read under the lock.
    s.glob_urgent.fetch_add(1, Ordering::Relaxed);
}

/// Go's globrunqget: takes a fair share of the global queue (len/GOMAXPROCS
/// plus one, at most `max` if non-zero, at most half the local queue's free
/// space plus one) into `p`'s local queue and returns the first.
#[doc(alias = "globrunqget")]
pub(super) fn glob_runq_get(p: &P, max: usize) -> Option<GRef> {
    let s = sched();
    if s.glob_len.load(Ordering::SeqCst) == 0 {
        return None;
    }
    let mut l = s.lock.lock();
    glob_runq_get_locked(s, &mut l, p, max)
}

/// `glob_runq_get` under the sched lock.
pub(super) fn glob_runq_get_locked(s: &Sched, l: &mut Locked, p: &P, max: usize) -> Option<GRef> {
    let len = l.glob.len();
    if len == 0 {
        return None;
    }
    let mut n = len.min(len / s.gomaxprocs().max(1) + 1);
    if max > 0 {
        n = n.min(max);
    }
    n = n.min(p.runq_free() / 2 + 1).max(1);
    let first = l.glob_edit(s, |q| {
        let first = q.pop_front();
        p.runq_push_batch(q.drain(..n - 1));
        first
    });
    // The urgent Gs are the first ones (`glob_runq_put_urgent`). Relaxed:
    // a hint (above).
    let urgent = s.glob_urgent.load(Ordering::Relaxed);
    if urgent != 0 {
        s.glob_urgent
            .store(urgent.saturating_sub(n), Ordering::Relaxed);
    }
    // Relaxed: statistics only.
    s.global_takes.fetch_add(1, Ordering::Relaxed);
    first
}
