//! allgs — every goroutine slot the runtime has made, readable by diagnostics
//! while the goroutines run: Go's `allgs` (proc.go) and `waitReason`
//! (runtime2.go). Read by the goroutine dump (diag/dump.rs, SIGQUIT) and
//! schedtrace's per-G lines (diag/schedtrace.rs); written by g.rs (spawn,
//! death) and sched/mod.rs (`park`/`ready`).
//!
//! # Why not read the G itself
//! A dump reads Gs that other threads own, and those threads may be freeing
//! and reusing them at that very moment: G slots are recycled per P (g.rs
//! `GSlot`, Go's gfget/gfput), and `GSlot::fill` moves a whole new `G` into
//! the slot with one plain (non-atomic) write. An atomic load racing with that
//! write is a data race, i.e. undefined behaviour, even for fields that are
//! atomics. So the G keeps none of what a dump reads; each slot has a
//! [`GInfo`] beside it instead, made with the slot and never freed, whose
//! every field is an atomic (or behind a lock). A reader racing with the owner
//! can then see an inconsistent mix, never UB, and the mix is ruled out by
//! a seqlock:
//!
//! # The seqlock (`goid` is the sequence word)
//! - The owner of the slot (the M that freed the dead G, then the spawner
//!   that reuses it; g.rs passes the slot between them) clears `goid` to 0
//!   when the G dies ([`GInfo::retire`]). At reuse ([`GInfo::fill`]) it stores
//!   `goid = 0`, a Release fence, every other field, then the new goid with
//!   Release. Goids are never reused (g.rs), so a goid names one G forever.
//! - A reader ([`GInfo::snapshot`]) loads `goid` (Acquire: it sees every
//!   field stored before it), reads the fields, issues an Acquire fence, and
//!   loads `goid` again. If any field read saw a store of a later reuse, the
//!   two fences synchronise and the second load sees that reuse's `goid = 0`
//!   or a later goid: the reader throws the snapshot away. So a snapshot that
//!   passes belongs wholly to one goroutine.
//! - Fields that change while the G lives (the wait reason and since when)
//!   are plain atomics too: a snapshot shows one moment, as Go's dump does.
//! - The name (an `Arc<str>`) sits behind a tiny lock: a reader clones it
//!   under the lock, so a concurrent reuse that drops the old name cannot
//!   free it under the reader. Unnamed spawns (the common case) skip the lock
//!   when the slot had no name either.
//! - The creation site is a `&'static Location`: stored as a pointer, it
//!   stays valid whatever happens to the slot.
//!
//! # Cost
//! The list is appended to only when a fresh slot is allocated (g.rs's
//! `Box` path), which steady-state spawning never takes (slots are reused).
//! Per spawn: a few Relaxed stores and one Release store to the slot's
//! GInfo. Per park: the reason and a coarse clock read (a vDSO call that never
//! enters the kernel). Per ready: one store.

use std::panic::Location;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::lock::Mutex;

/// Why a goroutine waits (Go's `waitReason`, with Go's strings). Passed to
/// `sched::park` by every park site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WaitReason {
    /// Not waiting.
    Zero = 0,
    /// A channel receive (chan/hchan.rs).
    ChanReceive,
    /// A channel send (chan/hchan.rs).
    ChanSend,
    /// A `select!` with cases (chan/select.rs).
    Select,
    /// `select! {}`: forever.
    SelectNoCases,
    /// `gort::time::sleep`.
    Sleep,
    /// `sync::Mutex::lock`.
    SyncMutexLock,
    /// `sync::RwLock::read`.
    SyncRWMutexRLock,
    /// `sync::RwLock::write`.
    SyncRWMutexLock,
    /// `sync::WaitGroup::wait`.
    SyncWaitGroupWait,
    /// `sync::Semaphore::acquire` (Go's runtime semaphore).
    Semacquire,
    /// Waiting for the network poller.
    IoWait,
    /// `JoinHandle::join` (gort's own: Go has no join).
    Join,
    /// `gort::block_on`: a future is pending (gort's own).
    BlockOn,
    /// `sync::Cond::wait`.
    SyncCondWait,
    /// `gort::testing::wait` (Go's synctest.Wait).
    SynctestWait,
    /// A channel receive, in a bubble, on a channel made in that bubble
    /// (testing/bubble.rs: durable, where a plain receive is not).
    SynctestChanReceive,
    /// A channel send, in a bubble, on a channel made in that bubble.
    SynctestChanSend,
    /// A `select!`, in a bubble, whose every channel was made in it.
    SynctestSelect,
    /// `sync::WaitGroup::wait`, in the bubble that added to it.
    SynctestWaitGroupWait,
    /// `JoinHandle::join`, in a bubble, of a goroutine of that bubble.
    SynctestJoin,
}

impl WaitReason {
    /// Go's spelling (runtime2.go `waitReasonStrings`; a durable wait in a
    /// bubble is marked "(durable)", as Go 1.25 does).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::Zero => "",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::SyncMutexLock => "sync.Mutex.Lock",
            WaitReason::SyncRWMutexRLock => "sync.RWMutex.RLock",
            WaitReason::SyncRWMutexLock => "sync.RWMutex.Lock",
            WaitReason::SyncWaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::IoWait => "IO wait",
            WaitReason::Join => "join",
            WaitReason::BlockOn => "block_on",
            WaitReason::SyncCondWait => "sync.Cond.Wait",
            WaitReason::SynctestWait => "synctest.Wait",
            WaitReason::SynctestChanReceive => "chan receive (durable)",
            WaitReason::SynctestChanSend => "chan send (durable)",
            WaitReason::SynctestSelect => "select (durable)",
            WaitReason::SynctestWaitGroupWait => "sync.WaitGroup.Wait (durable)",
            WaitReason::SynctestJoin => "join (durable)",
        }
    }

    /// Durably blocked inside a virtual-time bubble (Go's
    /// `isIdleInSynctest`): only another goroutine of the bubble, or its
    /// clock, can end the wait (testing/bubble.rs). A mutex, I/O, a future,
    /// or a channel, wait group or goroutine of outside the bubble may be
    /// ended from outside.
    pub(crate) fn durable(self) -> bool {
        matches!(
            self,
            WaitReason::SynctestChanReceive
                | WaitReason::SynctestChanSend
                | WaitReason::SynctestSelect
                | WaitReason::SelectNoCases
                | WaitReason::Sleep
                | WaitReason::SynctestWaitGroupWait
                | WaitReason::SynctestJoin
                | WaitReason::SyncCondWait
                | WaitReason::SynctestWait
        )
    }

    /// The reason for a wait on something made in the waiter's own bubble
    /// (`own`: testing/bubble.rs `is_own`): its synctest variant, which is
    /// durable. Reasons without one are returned as they are.
    pub(crate) fn bubbled(self, own: bool) -> WaitReason {
        if !own {
            return self;
        }
        match self {
            WaitReason::ChanReceive => WaitReason::SynctestChanReceive,
            WaitReason::ChanSend => WaitReason::SynctestChanSend,
            WaitReason::Select => WaitReason::SynctestSelect,
            WaitReason::SyncWaitGroupWait => WaitReason::SynctestWaitGroupWait,
            WaitReason::Join => WaitReason::SynctestJoin,
            r => r,
        }
    }

    /// A `select!`'s reason: Go tells `select {}` apart, and a select on
    /// channels all made in the waiter's bubble (`own`).
    pub(crate) fn select(no_cases: bool, own: bool) -> WaitReason {
        if no_cases {
            WaitReason::SelectNoCases
        } else {
            WaitReason::Select.bubbled(own)
        }
    }

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        use WaitReason::*;
        [
            Zero,
            ChanReceive,
            ChanSend,
            Select,
            SelectNoCases,
            Sleep,
            SyncMutexLock,
            SyncRWMutexRLock,
            SyncRWMutexLock,
            SyncWaitGroupWait,
            Semacquire,
            IoWait,
            Join,
            BlockOn,
            SyncCondWait,
            SynctestWait,
            SynctestChanReceive,
            SynctestChanSend,
            SynctestSelect,
            SynctestWaitGroupWait,
            SynctestJoin,
        ]
        .get(usize::from(v))
        .copied()
        .unwrap_or(Zero)
    }
}

/// What diagnostics may read about one G slot (module header). Made with the
/// slot, never freed.
pub(crate) struct GInfo {
    /// The live G's id, or 0 while the slot is free: the seqlock word.
    goid: AtomicU64,
    /// The goroutine that spawned it (0: a plain thread).
    parent: AtomicU64,
    /// `go!`/`spawn`'s caller; points to a `&'static Location<'static>`.
    created_by: AtomicPtr<Location<'static>>,
    /// The slot's address (the `G` a `GRef`/`M::cur_g` points to). Set
    /// once, before the GInfo is published in the list.
    slot: AtomicUsize,
    /// A `WaitReason` while parked, else 0. Written by the G (park), the
    /// waker (ready) and the G again after it resumes.
    wait_reason: AtomicU8,
    /// When it parked: coarse monotonic nanoseconds.
    wait_since: AtomicU64,
    /// Owner-only hint: `name` holds Some (so an unnamed fill must clear it).
    named: AtomicBool,
    /// `Builder::name`'s name; cloned by readers under the lock.
    name: Mutex<Option<Arc<str>>>,
}

/// One goroutine as a dump sees it (a consistent snapshot of its GInfo).
#[derive(Clone, Debug)]
pub(crate) struct GSnap {
    pub(crate) goid: u64,
    pub(crate) parent: u64,
    pub(crate) created_by: &'static Location<'static>,
    pub(crate) name: Option<Arc<str>>,
    /// The slot address, to match `M::cur_g`.
    pub(crate) slot: usize,
    pub(crate) wait_reason: WaitReason,
    /// Coarse monotonic nanoseconds when it parked (meaningful while waiting).
    pub(crate) wait_since: u64,
}

/// Every GInfo ever made (Go's allgs), append-only.
static ALLGS: Mutex<Vec<&'static GInfo>> = Mutex::new(Vec::new());

impl GInfo {
    /// A GInfo for a fresh slot, not yet listed (see [`register`]).
    pub(crate) fn new() -> &'static GInfo {
        crate::slab::leak(GInfo {
            goid: AtomicU64::new(0),
            parent: AtomicU64::new(0),
            created_by: AtomicPtr::new(std::ptr::null_mut()),
            slot: AtomicUsize::new(0),
            wait_reason: AtomicU8::new(0),
            wait_since: AtomicU64::new(0),
            named: AtomicBool::new(false),
            name: Mutex::new(None),
        })
    }

    /// The slot's owner gives it to goroutine `goid` (the seqlock's write
    /// side, module header).
    pub(crate) fn fill(
        &self,
        goid: u64,
        parent: u64,
        created_by: &'static Location<'static>,
        name: Option<&Arc<str>>,
    ) {
        // Relaxed + Release fence: the "odd" half of the seqlock write; the
        // fence orders this store before the field stores below.
        self.goid.store(0, Ordering::Relaxed);
        fence(Ordering::Release);
        // Relaxed below: published by the Release store of `goid`.
        self.parent.store(parent, Ordering::Relaxed);
        let loc = created_by as *const Location<'static> as *mut Location<'static>;
        self.created_by.store(loc, Ordering::Relaxed);
        self.wait_reason.store(0, Ordering::Relaxed);
        // Relaxed: `named` is read and written only by the slot's owner.
        if name.is_some() || self.named.load(Ordering::Relaxed) {
            *self.name.lock() = name.cloned();
            self.named.store(name.is_some(), Ordering::Relaxed);
        }
        // Release: pairs with the Acquire load in `snapshot`.
        self.goid.store(goid, Ordering::Release);
    }

    /// The G died: the slot is free (invisible to dumps) until reused.
    pub(crate) fn retire(&self) {
        // Release: a reader that sees 0 sees nothing later as live.
        self.goid.store(0, Ordering::Release);
    }

    /// The G is about to park for `reason` (called by the G itself).
    pub(crate) fn set_waiting(&self, reason: WaitReason) {
        // Relaxed: a snapshot field (module header).
        self.wait_since.store(coarse_nanos(), Ordering::Relaxed);
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
    }

    /// The G was readied, or resumed after a park.
    pub(crate) fn clear_waiting(&self) {
        // Relaxed: a snapshot field. A load first: after a `ready` already
        // cleared it, the resumed G only reads the line.
        if self.wait_reason.load(Ordering::Relaxed) != 0 {
            self.wait_reason.store(0, Ordering::Relaxed);
        }
    }

    /// The current wait reason (for the trace's park events).
    pub(crate) fn wait_reason(&self) -> WaitReason {
        // Relaxed: a snapshot field.
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// A consistent view of the live G in this slot, or None if the slot is
    /// free or was reused while we read (the seqlock's read side).
    pub(crate) fn snapshot(&self) -> Option<GSnap> {
        for _ in 0..8 {
            // Acquire: pairs with the Release store in `fill`.
            let goid = self.goid.load(Ordering::Acquire);
            if goid == 0 {
                return None;
            }
            // Relaxed loads: validated by the second `goid` load below.
            let parent = self.parent.load(Ordering::Relaxed);
            let loc = self.created_by.load(Ordering::Relaxed);
            let slot = self.slot.load(Ordering::Relaxed);
            let wait_reason = WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed));
            let wait_since = self.wait_since.load(Ordering::Relaxed);
            let name = self.name.lock().clone();
            // Acquire fence: pairs with the Release fence in `fill` (header).
            fence(Ordering::Acquire);
            if self.goid.load(Ordering::Relaxed) != goid || loc.is_null() {
                continue;
            }
            // SAFETY: every non-null value stored in `created_by` comes from
            // a `&'static Location<'static>` (`fill`), valid forever.
            let created_by: &'static Location<'static> = unsafe { &*loc };
            return Some(GSnap {
                goid,
                parent,
                created_by,
                name,
                slot,
                wait_reason,
                wait_since,
            });
        }
        None
    }
}

/// Lists a fresh slot's GInfo (g.rs's `Box` path); `slot` is the G's address.
pub(crate) fn register(info: &'static GInfo, slot: usize) {
    // Relaxed: published to readers by the lock below.
    info.slot.store(slot, Ordering::Relaxed);
    ALLGS.lock().push(info);
}

/// Every GInfo ever listed (a copy: the dump formats without the lock).
pub(crate) fn all() -> Vec<&'static GInfo> {
    ALLGS.lock().clone()
}

/// Snapshots of every live goroutine, by goid.
pub(crate) fn live() -> Vec<GSnap> {
    let mut v: Vec<GSnap> = all().into_iter().filter_map(GInfo::snapshot).collect();
    v.sort_by_key(|s| s.goid);
    v
}

/// The last reading of the coarse clock, ticked by sysmon every round (at
/// most 10 ms apart while any P runs, 100 ms while all idle); 0 until
/// sysmon starts. Relaxed: a timestamp, ordered by nothing.
static COARSE_NOW: AtomicU64 = AtomicU64::new(0);

/// Coarse monotonic time in nanoseconds, for "waiting since": sysmon's
/// last tick of CLOCK_MONOTONIC_COARSE (a few ms of resolution), or the
/// clock itself before sysmon runs. A park reads an atomic, not the clock
/// (the vDSO call was 4% of W3's ping-pong); a stamp is at most one sysmon
/// round old, and dumps print minutes.
pub(crate) fn coarse_nanos() -> u64 {
    match COARSE_NOW.load(Ordering::Relaxed) {
        0 => crate::sys::monotonic_coarse_nanos(),
        t => t,
    }
}

/// sysmon's tick of the coarse clock.
pub(crate) fn tick_coarse_clock() {
    COARSE_NOW.store(crate::sys::monotonic_coarse_nanos(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seqlock_fill_retire_snapshot() {
        let info = GInfo::new();
        register(info, 0x1000);
        assert!(info.snapshot().is_none(), "a fresh slot is free");
        let name: Arc<str> = Arc::from("w");
        info.fill(42, 1, Location::caller(), Some(&name));
        let s = info.snapshot().expect("live");
        assert_eq!((s.goid, s.parent, s.slot), (42, 1, 0x1000));
        assert_eq!(s.name.as_deref(), Some("w"));
        assert_eq!(s.created_by.file(), file!());
        info.set_waiting(WaitReason::ChanReceive);
        assert_eq!(
            info.snapshot().expect("live").wait_reason,
            WaitReason::ChanReceive
        );
        info.clear_waiting();
        info.retire();
        assert!(info.snapshot().is_none());
        info.fill(43, 0, Location::caller(), None);
        let s = info.snapshot().expect("reused");
        assert_eq!(
            (s.goid, s.name, s.wait_reason),
            (43, None, WaitReason::Zero)
        );
    }

    #[test]
    fn reasons_round_trip_with_go_spellings() {
        for v in 0..=WaitReason::SynctestJoin as u8 {
            assert_eq!(WaitReason::from_u8(v) as u8, v);
        }
        assert_eq!(WaitReason::ChanReceive.as_str(), "chan receive");
        assert_eq!(
            WaitReason::ChanReceive.bubbled(true).as_str(),
            "chan receive (durable)"
        );
        assert_eq!(WaitReason::SyncCondWait.as_str(), "sync.Cond.Wait");
        assert_eq!(WaitReason::SyncMutexLock.as_str(), "sync.Mutex.Lock");
        assert_eq!(WaitReason::from_u8(200), WaitReason::Zero);
    }

    #[test]
    fn only_waits_on_the_bubble_own_things_are_durable() {
        use WaitReason::*;
        for r in [ChanReceive, ChanSend, Select, SyncWaitGroupWait, Join] {
            assert!(!r.durable(), "{r:?} of outside the bubble");
            assert!(r.bubbled(true).durable(), "{r:?} of the bubble");
            assert_eq!(r.bubbled(false), r);
        }
        for r in [SyncMutexLock, IoWait, BlockOn, Semacquire] {
            assert!(!r.bubbled(true).durable(), "{r:?}");
        }
        assert!(Sleep.durable() && SyncCondWait.durable() && SynctestWait.durable());
        assert_eq!(WaitReason::select(true, false), SelectNoCases);
        assert_eq!(WaitReason::select(false, true), SynctestSelect);
    }
}
