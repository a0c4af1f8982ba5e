//! waker — what `block_on` hands a future to wake it, and how a wake reaches
//! a parked goroutine.
//!
//! [`Signal`] is one `block_on` call's wake-up flag, shared with every
//! waker the future keeps. It is the park/ready handshake of g.rs seen from
//! a future: a goroutine that finds its future pending parks, and the first
//! wake after that readies it — once, however many wakers fire, from
//! whatever thread (a plain thread, another runtime's worker, a goroutine).
//! A wake before the park is kept and consumed by the next `wait`, which
//! then does not park. The wakers own the signal (an
//! `Arc`), so one that outlives its goroutine stays harmless. A wake after `block_on` has returned finds nobody
//! parked and only sets the flag.
//!
//! [`LocalWaker`] is the waker `poll` gets: it lives in `block_on`'s frame,
//! so a future that completes at once, or wakes itself while it is polled,
//! costs no allocation. Only a clone (a future that keeps the waker for
//! later) makes the shared `Signal`, once per `block_on`, and gets a waker
//! that owns it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::g::GRef;
use crate::loom::thread::{self, Thread};
use crate::loom::{AtomicBool, AtomicU8};
use crate::m;
use crate::sched::{self, deadlock, WaitReason};

/// `Signal::state`: no wake since the last `wait`.
const EMPTY: u8 = 0;
/// A wake arrived; the next `wait` returns at once.
const NOTIFIED: u8 = 1;
/// The owner is parked (or about to be) and the next wake readies it.
const PARKED: u8 = 2;

/// Who runs the `block_on`.
#[derive(Clone)]
pub(crate) enum Owner {
    /// A goroutine: it parks and is readied.
    G(GRef),
    /// A plain thread: it parks and is unparked (and may wake spuriously).
    Thread(Thread),
}

impl Owner {
    /// The caller.
    pub(crate) fn current() -> Owner {
        match m::current_g() {
            Some(g) => Owner::G(g),
            None => Owner::Thread(thread::current()),
        }
    }
}

/// One `block_on` call's wake-up flag (module header).
///
/// Invariant: `state` is PARKED only between the owner's CAS in `wait` and
/// the one `notify` that swaps it to NOTIFIED; that notify, alone, wakes the
/// owner.
pub(crate) struct Signal {
    state: AtomicU8,
    owner: Owner,
}

impl Signal {
    pub(crate) fn new(owner: Owner) -> Signal {
        Signal {
            state: AtomicU8::new(EMPTY),
            owner,
        }
    }

    /// A wake: any number of times, from any thread.
    pub(crate) fn notify(&self) {
        // AcqRel: Release publishes what the waker's caller did before the
        // wake (the future's progress) to the owner's Acquire in `wait`;
        // Acquire orders this swap after the owner's PARKED.
        if self.state.swap(NOTIFIED, Ordering::AcqRel) == PARKED {
            match &self.owner {
                Owner::G(g) => sched::ready(*g),
                Owner::Thread(t) => t.unpark(),
            }
        }
    }

    /// Blocks the owner until a wake since its last `wait`, and consumes it.
    pub(crate) fn wait(&self) {
        // AcqRel: a failed CAS reads NOTIFIED with Acquire; a successful one
        // publishes PARKED to the notifier that will swap it.
        let parked = self
            .state
            .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if parked {
            match self.owner {
                // Exactly one ready comes: the notify that sees PARKED. A
                // waker is out there (a clone made this signal), maybe on a
                // thread the deadlock check cannot see: count it.
                Owner::G(_) => {
                    deadlock::external_add();
                    sched::park(WaitReason::BlockOn);
                    deadlock::external_done();
                }
                Owner::Thread(_) => {
                    while self.state.load(Ordering::Acquire) == PARKED {
                        thread::park();
                    }
                }
            }
        }
        // NOTIFIED now. A swap, not a store: its Acquire reads the latest
        // notify's Release, so the next poll sees what that wake published.
        self.state.swap(EMPTY, Ordering::AcqRel);
    }
}

static SIGNAL_VTABLE: RawWakerVTable =
    RawWakerVTable::new(signal_clone, signal_wake, signal_wake_by_ref, signal_drop);

/// # Safety
/// `p` is the data of a live waker made by `local_clone` (an `Arc<Signal>`).
unsafe fn signal_clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Arc::into_raw` and the waker being cloned holds
    // its count, so the Arc is alive; the new waker gets a count of its own.
    unsafe { Arc::increment_strong_count(p.cast::<Signal>()) };
    RawWaker::new(p, &SIGNAL_VTABLE)
}

/// # Safety
/// As `signal_clone`; the waker is consumed.
unsafe fn signal_wake(p: *const ()) {
    // SAFETY: the consumed waker's count is taken back into an Arc and
    // dropped after the wake.
    let s = unsafe { Arc::from_raw(p.cast::<Signal>()) };
    s.notify();
}

/// # Safety
/// As `signal_clone`.
unsafe fn signal_wake_by_ref(p: *const ()) {
    // SAFETY: the waker holds a count for as long as this borrow.
    let s = unsafe { &*p.cast::<Signal>() };
    s.notify();
}

/// # Safety
/// As `signal_clone`; the waker is consumed.
unsafe fn signal_drop(p: *const ()) {
    // SAFETY: gives back the dropped waker's count.
    drop(unsafe { Arc::from_raw(p.cast::<Signal>()) });
}

/// The waker `block_on` polls with, in its own frame (module header).
pub(crate) struct LocalWaker {
    owner: Owner,
    /// Woken by reference while a poll ran.
    woken: AtomicBool,
    /// The shared signal, made by the first clone.
    shared: OnceLock<Arc<Signal>>,
}

impl LocalWaker {
    pub(crate) fn new(owner: Owner) -> LocalWaker {
        LocalWaker {
            owner,
            woken: AtomicBool::new(false),
            shared: OnceLock::new(),
        }
    }

    /// A waker borrowing `self`, for one `poll`: the caller must not let it
    /// (it cannot, through `Context`) outlive `self`.
    pub(crate) fn as_waker(&self) -> std::mem::ManuallyDrop<Waker> {
        let raw = RawWaker::new((self as *const LocalWaker).cast(), &LOCAL_VTABLE);
        // SAFETY: LOCAL_VTABLE treats the data as a `&LocalWaker`, which the
        // caller keeps alive while the waker is in use; dropping the waker
        // is a no-op (ManuallyDrop: it is never dropped anyway).
        std::mem::ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }

    /// True (once) if the future woke itself during the last poll.
    pub(crate) fn take_woken(&self) -> bool {
        // Acquire: pairs with the waker's Release (a wake from a thread the
        // poll lent the waker to).
        self.woken.swap(false, Ordering::Acquire)
    }

    /// The shared signal, if a clone made it.
    pub(crate) fn shared(&self) -> Option<&Arc<Signal>> {
        self.shared.get()
    }
}

static LOCAL_VTABLE: RawWakerVTable =
    RawWakerVTable::new(local_clone, local_wake, local_wake_by_ref, local_drop);

/// # Safety
/// `p` is the data of a waker made by `LocalWaker::as_waker`, whose
/// `LocalWaker` is alive (a poll is running).
unsafe fn local_clone(p: *const ()) -> RawWaker {
    // SAFETY: see the function's contract.
    let l = unsafe { &*p.cast::<LocalWaker>() };
    let s = l
        .shared
        .get_or_init(|| Arc::new(Signal::new(l.owner.clone())));
    RawWaker::new(Arc::into_raw(s.clone()).cast(), &SIGNAL_VTABLE)
}

/// # Safety
/// As `local_clone`. (A borrowed waker is never consumed through
/// `Context`; if it were, this wakes by reference.)
unsafe fn local_wake(p: *const ()) {
    // SAFETY: as `local_clone`.
    unsafe { local_wake_by_ref(p) }
}

/// # Safety
/// As `local_clone`.
unsafe fn local_wake_by_ref(p: *const ()) {
    // SAFETY: as `local_clone`.
    let l = unsafe { &*p.cast::<LocalWaker>() };
    // Release: pairs with `take_woken`.
    l.woken.store(true, Ordering::Release);
}

/// Nothing to release: the data is borrowed.
unsafe fn local_drop(_: *const ()) {}

/// Model checks of `notify` racing `wait` (runtime/src/loom.rs), with a
/// plain thread as the owner. Each fails on the mutation named: `notify`'s
/// swap Relaxed (the owner runs on without the waker's data); `wait`
/// parking with a plain store instead of the CAS (a wake before the park is
/// lost: loom reports the deadlock); `wait` consuming the wake with a
/// Relaxed swap (the second wake's data is missed).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::loom::AtomicUsize;

    #[test]
    fn loom_notify_races_wait() {
        loom::model(|| {
            let s = Arc::new(Signal::new(Owner::Thread(thread::current())));
            let data = Arc::new(AtomicUsize::new(0));
            let (s2, d2) = (s.clone(), data.clone());
            // The owner never joins: a join would meet a stray unpark.
            loom::thread::spawn(move || {
                d2.store(1, Ordering::Relaxed);
                s2.notify();
                s2.notify();
            });
            s.wait();
            assert_eq!(data.load(Ordering::Relaxed), 1, "woken without the data");
        });
    }

    #[test]
    fn loom_two_wakes_two_waits() {
        loom::model(|| {
            let s = Arc::new(Signal::new(Owner::Thread(thread::current())));
            let data = Arc::new(AtomicUsize::new(0));
            let (s2, d2) = (s.clone(), data.clone());
            loom::thread::spawn(move || {
                for i in 1..=2 {
                    d2.store(i, Ordering::Relaxed);
                    s2.notify();
                }
            });
            while data.load(Ordering::Relaxed) < 2 {
                s.wait();
            }
        });
    }
}
