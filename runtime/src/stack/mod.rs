//! stack — goroutine stacks: mmap'd slabs, guard pages, the global pool, the
//! VMA budget, and giving memory back (Go's stackalloc/stackfree/shrinkstack
//! and the scavenger, for stacks that cannot move).
//!
//! A stack is `guard page | usable bytes`, growing down from the top (`base`).
//! Stacks are carved from slabs, each one `MAP_NORESERVE` mapping of about
//! 32 MiB, so the kernel commits a page only when a goroutine first touches it
//! (the stack "grows" without copying: Rust cannot move stacks as Go does).
//! Callers: p/mod.rs (per-P cache: `stack_alloc_batch`/`stack_free_batch`), sched/mod.rs
//! `execute` (binds a stack at a G's first run, [`GStack::shrink`] at its exit),
//! goroutine/spawn.rs ([`stack_admit`]), stack/overflow.rs ([`signal_stack_alloc`]).
//!
//! # Guards and the VMA budget
//! `madvise(MADV_GUARD_INSTALL)` (Linux >= 6.13) marks a guard page without
//! splitting the mapping, so a million stacks cost a few VMAs; a new slab gets
//! all its guards in one batched call. Where the kernel says EINVAL (or
//! `GORT_STACK_GUARD=mprotect` asks for it, to test this path) we fall back to
//! `mprotect(PROT_NONE)` per stack as it is carved, which splits the mapping:
//! two more VMAs per stack, counted against a budget, `vm.max_map_count` minus
//! headroom for the rest of the process. Past it, allocation fails with an
//! error naming the sysctl, and [`stack_admit`] makes `Builder::spawn` fail
//! with it before the G exists (a G binds its stack only at its first run,
//! where an error could only abort). A stack is never handed out unguarded.
//!
//! # Giving memory back
//! - Shrink at exit: a pooled stack keeps only its top page resident. Knowing
//!   whether a dead G went deeper must be cheap: on the reference machine (a
//!   2-core VM) a madvise costs ~1.1 µs, mincore 2-2.6 µs, a batched
//!   process_madvise ~0.6 µs per range, while spawn -> run -> exit of a G on a
//!   pooled stack costs ~0.5 µs in all. So the check is a watermark: a 512-byte
//!   band at the bottom of the kept page holds [`BAND_WORD`] while the stack is
//!   pooled. Frames that cross the band nearly always write in it (return
//!   addresses, saved registers, initialised locals), so [`GStack::shrink`]
//!   finds it changed, madvises `MADV_DONTNEED` everything below the top page
//!   and repaints. A shallow G costs a 64-word compare and no syscall. The
//!   band is skipped only by a frame whose part over it is never written (an
//!   uninitialised buffer such as `[MaybeUninit<u8>; 8192]`), so every
//!   [`SCRUB_EVERY`]th use releases a stack blindly, bounding what such a miss
//!   keeps. Measured on W1 spawn: `shrink` was 2.4% of the profile, ~20 ns per
//!   goroutine, with a blind scrub every 64 uses; every 1024 now.
//! - Trim the pool: stacks in the global pool are *warm* (top page resident,
//!   painted) or *cold* (fully released). When warm stacks are far above those
//!   in use (`warm > 2*in_use + TRIM_FLOOR`), the scavenger thread releases the
//!   excess whole, address-sorted so that neighbours go in one madvise. It
//!   runs at nice 19, so a burst's own exit path is not slowed by it; RSS falls
//!   right after (100,000 parked goroutines: 93% of their RSS back within
//!   0.2 s of the last join). Freeing a resident page costs ~0.8 µs here, so
//!   1M stacks are ~1 s of work that would otherwise sit inside the burst's join.
//!
//! # Rejected
//! - One mmap per stack: one VMA (three with an mprotect guard) per goroutine,
//!   which stops near 32,000 goroutines under the default `vm.max_map_count`.
//! - mincore or an unconditional madvise at every exit: 1-2.6 µs per G, 2-5x
//!   the whole spawn/run/exit cost (above).
//! - A second guard ("tripwire") below the top page, removed by the SIGSEGV
//!   handler on first touch: exact and free for shallow Gs, but a syscall that
//!   writes into an untouched stack buffer (`read` into a `MaybeUninit` array,
//!   as `std::io::copy` does) would fail with EFAULT instead of faulting.
//! - MADV_FREE: cheap, but RSS does not fall until the machine is short of memory.
//! - Mapping and guarding the next slab ahead of need on the nice-19 scavenger
//!   thread: W5 got slower (5.8-6.6 s vs 5.4-5.8 s), most likely because the
//!   guard install holds mmap_lock for reading and, preempted there, stalls
//!   the Ms' mmap/mprotect behind it.

use std::collections::HashMap;
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::lock::{Condvar, Mutex};
use corosensei::stack::{Stack, StackPointer};

use crate::sys;

pub(crate) mod overflow;

/// Page size we lay stacks out in. Linux x86_64/aarch64 (4 KiB pages; a 16 or
/// 64 KiB-page aarch64 kernel rounds mmap itself and this stays a multiple).
pub(crate) const PAGE: usize = 4096;
/// Size of the guard below each stack (stack/overflow.rs matches faults against it).
pub(crate) const GUARD: usize = PAGE;
/// Bytes at the top of a pooled stack that stay resident: a goroutine's first
/// frames (corosensei's, the entry wrapper's, a park) fit in one page, and W5
/// (a million parked goroutines) needs them to.
const KEEP: usize = PAGE;
/// The watermark band: the lowest bytes of the kept page (module header).
const BAND: usize = 512;
/// What the band holds while the stack is pooled ("gortSTK!").
const BAND_WORD: u64 = u64::from_le_bytes(*b"gortSTK!");
/// Every this many uses a stack is released below its top page whatever the
/// band says (bounds a missed deep use; module header). At 64 the blind
/// madvise was ~17 ns of every goroutine's life (W2: `shrink` 4.5% of the
/// profile); a missed deep use is rare (an unwritten buffer across the band),
/// so it may wait for 1024 uses.
const SCRUB_EVERY: u32 = 1024;
/// The pool may hold this many warm stacks beyond twice those in use.
const TRIM_FLOOR: usize = 256;
/// Ranges the scavenger releases per madvise call (see `trim_once`).
const TRIM_RANGES_PER_CALL: usize = 64;
/// The smallest stack a goroutine may ask for: enough for the panic machinery
/// (formatting, the panic hook) on top of a modest user frame.
///
/// ```
/// let small = gort::Builder::new().stack_size(gort::MIN_STACK_SIZE);
/// assert_eq!(small.spawn(|| "fits").unwrap().join().unwrap(), "fits");
/// let too_small = gort::Builder::new().stack_size(gort::MIN_STACK_SIZE - 1);
/// assert!(too_small.spawn(|| ()).is_err());
/// ```
pub const MIN_STACK_SIZE: usize = 64 * 1024;
/// The default stack size (virtual; pages are committed on first touch).
///
/// ```
/// assert_eq!(gort::DEFAULT_STACK_SIZE, 256 * 1024);
/// let h = gort::Builder::new()
///     .stack_size(gort::DEFAULT_STACK_SIZE)
///     .spawn(|| gort::debug::remaining_stack().unwrap())
///     .unwrap();
/// assert!(h.join().unwrap() < gort::DEFAULT_STACK_SIZE);
/// ```
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// The largest stack size accepted (1 GiB), to catch typos early.
///
/// ```
/// let too_big = gort::Builder::new().stack_size(gort::MAX_STACK_SIZE + 1).spawn(|| ());
/// assert!(too_big.is_err());
/// ```
pub const MAX_STACK_SIZE: usize = 1 << 30;
/// Target virtual size of one slab.
const SLAB_BYTES: usize = 32 << 20;
/// Size of an M's signal stack (stack/overflow.rs), guard excluded. The overflow
/// report needs little; the rest covers a chained handler and the kernel's
/// signal frame (a few KiB with AVX-512 state). Committed as touched.
const SIGNAL_STACK_SIZE: usize = 64 * 1024;
/// VMAs left to the rest of the process (thread stacks, heap arenas, libraries)
/// when stacks use mprotect guards: the larger of this and an eighth of the limit.
const VMA_HEADROOM_MIN: usize = 4096;
/// VMAs one mprotect guard adds (it splits a mapping in three).
const VMAS_PER_MPROTECT_GUARD: usize = 2;
/// Stacks per P that `stack_admit` assumes may sit in P caches (p/mod.rs keeps at
/// most 64, plus a refill of 16), unavailable to other Ps.
const ADMIT_SLACK_PER_P: usize = 80;

/// How guards are installed; decided once, by [`guard_mode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GuardMode {
    /// `MADV_GUARD_INSTALL`: no VMA per guard.
    Madvise = 1,
    /// `mprotect(PROT_NONE)`: two VMAs per guard, under the budget.
    Mprotect = 2,
}

/// 0 until probed, then a GuardMode. Relaxed: a one-way latch, and racing
/// probes reach the same answer.
static GUARD_MODE: AtomicU8 = AtomicU8::new(0);
/// VMAs created for stacks (slabs, mprotect guards, signal stacks). Relaxed:
/// a counter checked against the budget with one RMW (`vma_reserve`).
static VMAS_USED: AtomicUsize = AtomicUsize::new(0);
/// Stacks carved so far, all sizes. Relaxed: read by `stack_admit` as an estimate.
static STACKS_CARVED: AtomicUsize = AtomicUsize::new(0);

/// An owned goroutine stack. Invariant: `[limit, limit+GUARD)` is a guard
/// page, `[limit+GUARD, base)` is usable, mapped read-write, and owned by this
/// value alone. Outside the pool's cold list, the band is painted or a G runs
/// on the stack.
#[derive(Debug)]
pub(crate) struct GStack {
    base: usize,
    limit: usize,
    /// Uses since this stack was last released below its top page.
    uses: u32,
}

impl GStack {
    /// Usable bytes (excluding the guard).
    pub(crate) fn size(&self) -> usize {
        self.base - self.limit - GUARD
    }

    /// One past the highest usable byte.
    pub(crate) fn top(&self) -> usize {
        self.base
    }

    /// The guard page's range, for the overflow report.
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.limit, self.limit + GUARD)
    }

    /// The band's words. The band lies in the usable range, page-aligned.
    fn band(&mut self) -> &mut [u64] {
        let at = self.base - KEEP;
        // SAFETY: `[at, at+BAND)` is inside the usable range, mapped read-write
        // (struct invariant), aligned for u64, and no G runs on this stack
        // while its owner holds `&mut self`; so we have the only reference.
        unsafe { std::slice::from_raw_parts_mut(at as *mut u64, BAND / 8) }
    }

    /// Paints the watermark band (commits the top page, which the next G
    /// touches anyway).
    fn paint(&mut self) {
        self.band().fill(BAND_WORD);
    }

    /// Go's shrinkstack for a stack whose G has exited (sched/execute.rs `execute`,
    /// before it goes back to the pool): if the G went below the top page, or
    /// every SCRUB_EVERY uses, give everything below the top page back to the
    /// kernel. No syscall for a shallow G (module header).
    #[doc(alias = "shrinkstack")]
    pub(crate) fn shrink(&mut self) {
        self.uses += 1;
        // An OR of differences, not `any`: no early exit, so it vectorises.
        let deep = self.band().iter().fold(0, |d, &w| d | (w ^ BAND_WORD)) != 0;
        if deep || self.uses >= SCRUB_EVERY {
            let (lo, hi) = (self.limit + GUARD, self.base - KEEP);
            // SAFETY: the range is this stack's usable memory below the kept
            // page; the G that used it has exited, so nothing refers to it.
            // An error only leaves the pages resident (memory, not safety).
            let _ = unsafe { sys::madvise(lo, hi - lo, libc::MADV_DONTNEED) };
            self.uses = 0;
        }
        if deep {
            self.paint();
        }
    }
}

// SAFETY: the invariant on GStack: a guard page below at least MIN_STACK_SIZE
// (>= corosensei's MIN_STACK_SIZE) usable bytes; base and limit are
// page-aligned, hence STACK_ALIGNMENT-aligned.
unsafe impl Stack for GStack {
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.base).expect("stack base is never null")
    }
    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.limit).expect("stack limit is never null")
    }
}

/// Rounds a requested size up to whole pages and checks the bounds; the
/// error says the limit.
pub(crate) fn check_stack_size(size: usize) -> io::Result<usize> {
    if size < MIN_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gort: stack size {size} is below the minimum of {MIN_STACK_SIZE} bytes"),
        ));
    }
    if size > MAX_STACK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("gort: stack size {size} is above the maximum of {MAX_STACK_SIZE} bytes"),
        ));
    }
    Ok(size.div_ceil(PAGE) * PAGE)
}

// ---------------------------------------------------------------------------
// Guard mode and the VMA budget.

/// How this process installs guards: probed once on a scratch mapping (so
/// the answer is known before the first spawn), or forced to mprotect by
/// `GORT_STACK_GUARD=mprotect`.
fn guard_mode() -> GuardMode {
    // Relaxed: see GUARD_MODE.
    match GUARD_MODE.load(Ordering::Relaxed) {
        1 => return GuardMode::Madvise,
        2 => return GuardMode::Mprotect,
        _ => {}
    }
    let forced = match std::env::var("GORT_STACK_GUARD") {
        Ok(v) if v == "mprotect" => true,
        Ok(v) => {
            crate::throw::warn(&format!(
                "gort: ignoring GORT_STACK_GUARD={v:?} (the only value is \"mprotect\")"
            ));
            false
        }
        Err(_) => false,
    };
    let mode = if forced || !probe_guard_install() {
        GuardMode::Mprotect
    } else {
        GuardMode::Madvise
    };
    GUARD_MODE.store(mode as u8, Ordering::Relaxed);
    mode
}

/// True if this kernel takes MADV_GUARD_INSTALL (tried on a scratch page).
fn probe_guard_install() -> bool {
    let Ok(at) = sys::mmap_reserve(2 * PAGE) else {
        return false;
    };
    // SAFETY: `at` is a fresh mapping of ours that nothing refers to.
    let ok = unsafe { sys::madvise(at, PAGE, sys::MADV_GUARD_INSTALL) }.is_ok();
    // SAFETY: as above; dropped here and never used again.
    let _ = unsafe { sys::munmap(at, 2 * PAGE) };
    ok
}

/// VMAs stacks may use: `vm.max_map_count` minus headroom (read once).
fn vma_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        let limit = max_map_count();
        limit.saturating_sub(VMA_HEADROOM_MIN.max(limit / 8))
    })
}

/// The sysctl, or Linux's default when /proc cannot tell.
fn max_map_count() -> usize {
    const LINUX_DEFAULT: usize = 65530;
    sys::max_map_count().unwrap_or(LINUX_DEFAULT)
}

/// Counts `n` more VMAs against the budget, or fails naming the sysctl.
fn vma_reserve(n: usize) -> io::Result<()> {
    let budget = vma_budget();
    // Relaxed: a counter; the RMW makes concurrent reservations exact.
    VMAS_USED
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
            (used + n <= budget).then_some(used + n)
        })
        .map(|_| ())
        .map_err(|_| vma_budget_error())
}

/// Gives back VMAs reserved for something that was then not created.
fn vma_unreserve(n: usize) {
    // Relaxed: see vma_reserve.
    VMAS_USED.fetch_sub(n, Ordering::Relaxed);
}

/// The error for an exhausted VMA budget.
fn vma_budget_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "gort: out of memory mappings for goroutine stack guards: without \
             MADV_GUARD_INSTALL (Linux >= 6.13) each guard page costs {VMAS_PER_MPROTECT_GUARD} \
             mappings, and the {} that vm.max_map_count = {} leaves for stacks are used up; \
             raise the sysctl vm.max_map_count (e.g. sysctl -w vm.max_map_count=1048576) \
             or run on Linux >= 6.13",
            vma_budget(),
            max_map_count(),
        ),
    )
}

/// Spawn-time check (Builder::spawn): fails if this goroutine could not get a
/// guarded stack at its first run. Free unless guards use mprotect; then it
/// compares the live goroutines with the stacks that exist plus those the
/// budget still allows, less what P caches may strand (an estimate: if it
/// errs, `execute` still refuses to run a G unguarded, and aborts).
pub(crate) fn stack_admit(live: usize, procs: usize) -> io::Result<()> {
    if guard_mode() != GuardMode::Mprotect {
        return Ok(());
    }
    // Relaxed: estimates (doc above).
    let used = VMAS_USED.load(Ordering::Relaxed);
    let more = vma_budget().saturating_sub(used) / VMAS_PER_MPROTECT_GUARD;
    let capacity = STACKS_CARVED.load(Ordering::Relaxed) + more;
    if live + 1 + procs * ADMIT_SLACK_PER_P > capacity {
        return Err(vma_budget_error());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The pool.

/// A slab being carved: the next free address and the end.
#[derive(Clone, Copy, Default)]
struct Carve {
    next: usize,
    end: usize,
}

/// Stacks of one size.
#[derive(Default)]
struct Class {
    /// Free, top page resident, band painted. Taken first.
    warm: Vec<GStack>,
    /// Free and fully released (trimmed); painted when taken.
    cold: Vec<GStack>,
    /// Taken out by the scavenger, on their way to `cold` or back to `warm`.
    trimming: usize,
    /// Stacks of this size ever carved.
    carved: usize,
    /// The slab being carved, and slabs mapped while it lasted (two threads
    /// that found it used up at once each map one).
    slab: Carve,
    spare: Vec<Carve>,
}

impl Class {
    /// Stacks held by Gs or P caches.
    fn in_use(&self) -> usize {
        self.carved - self.warm.len() - self.cold.len() - self.trimming
    }

    /// True when warm stacks are far above those in use (module header).
    fn wants_trim(&self) -> bool {
        self.warm.len() > 2 * self.in_use() + TRIM_FLOOR
    }
}

/// The global pool, by stack size.
static POOL: Mutex<Option<HashMap<usize, Class>>> = Mutex::new(None);

/// Goroutine stack bytes (guards included): (held by goroutines or cached
/// by Ps, carved in all). For `gort::metrics`.
pub(crate) fn stack_bytes() -> (usize, usize) {
    let pool = POOL.lock();
    let Some(classes) = pool.as_ref() else {
        return (0, 0);
    };
    classes.iter().fold((0, 0), |(used, all), (size, c)| {
        let span = size + GUARD;
        let free = c.warm.len() + c.cold.len() + c.trimming;
        (
            used + c.carved.saturating_sub(free) * span,
            all + c.carved * span,
        )
    })
}

/// The pool's class of `size`-byte stacks, made on first use.
fn class_of(pool: &mut Option<HashMap<usize, Class>>, size: usize) -> &mut Class {
    pool.get_or_insert_with(HashMap::new)
        .entry(size)
        .or_default()
}

/// Takes up to `n` (at least one) free stacks of `size` bytes into `out`:
/// warm ones first, else cold ones, else newly carved ones. Go's stackalloc
/// for the P cache's refill. Fails only if a stack cannot be mapped or
/// guarded (VMA budget, or the kernel refuses). Page faults (painting) and
/// syscalls (mapping a slab, mprotect guards) happen without the pool lock.
#[doc(alias = "stackalloc")]
pub(crate) fn stack_alloc_batch(size: usize, n: usize, out: &mut Vec<GStack>) -> io::Result<()> {
    let n = n.max(1);
    let mode = guard_mode();
    let (mut fresh, carved) = loop {
        let mut pool = POOL.lock();
        let class = class_of(&mut pool, size);
        if !class.warm.is_empty() {
            let take = class.warm.len().min(n);
            out.extend(class.warm.drain(class.warm.len() - take..));
            return Ok(());
        }
        if !class.cold.is_empty() {
            let take = class.cold.len().min(n);
            break (class.cold.drain(class.cold.len() - take..).collect(), false);
        }
        if class.slab.next == class.slab.end {
            if let Some(c) = class.spare.pop() {
                class.slab = c;
            }
        }
        if class.slab.next < class.slab.end {
            break (carve(class, size, n, mode)?, true);
        }
        drop(pool);
        let slab = map_slab(size, mode)?;
        class_of(&mut POOL.lock(), size).spare.push(slab);
    };
    if carved && mode == GuardMode::Mprotect {
        let guards: Vec<usize> = fresh.iter().map(|s| s.limit).collect();
        if let Err(e) = install_guards(&guards, mode) {
            let mut pool = POOL.lock();
            let class = class_of(&mut pool, size);
            class.carved -= fresh.len();
            // Relaxed: see STACKS_CARVED.
            STACKS_CARVED.fetch_sub(fresh.len(), Ordering::Relaxed);
            // The address range is dropped: it has no guard, so it never
            // becomes a stack.
            return Err(e);
        }
    }
    for s in &mut fresh {
        s.uses = 0;
        s.paint();
    }
    out.append(&mut fresh);
    Ok(())
}

/// Maps a slab for stacks of `size`. With guard advice, installs every
/// stack's guard now, in one batched call (mmap_lock taken once per slab, not
/// per refill: the guard installs otherwise queue behind malloc's mprotects);
/// mprotect guards wait until each stack is carved, to spend the VMA budget
/// only on stacks in use.
fn map_slab(size: usize, mode: GuardMode) -> io::Result<Carve> {
    let span = size + GUARD;
    let count = (SLAB_BYTES / span).max(1);
    vma_reserve(1)?;
    let start = match sys::mmap_reserve(span * count) {
        Ok(a) => a,
        Err(e) => {
            vma_unreserve(1);
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "gort: cannot map {} bytes of goroutine stacks: {e}",
                    span * count
                ),
            ));
        }
    };
    if mode == GuardMode::Madvise {
        let guards: Vec<usize> = (0..count).map(|i| start + i * span).collect();
        if let Err(e) = install_guards(&guards, mode) {
            // SAFETY: the slab was mapped above and handed to no one.
            let _ = unsafe { sys::munmap(start, span * count) };
            vma_unreserve(1);
            return Err(e);
        }
    }
    Ok(Carve {
        next: start,
        end: start + span * count,
    })
}

/// Carves up to `n` new stacks of `size` from the class's slab, which has
/// room (caller holds the pool lock). In mprotect mode, reserves their guards'
/// VMAs first, carving only as many as the budget allows; the caller then
/// installs those guards without the lock.
fn carve(class: &mut Class, size: usize, n: usize, mode: GuardMode) -> io::Result<Vec<GStack>> {
    let span = size + GUARD;
    let mut k = n.min((class.slab.end - class.slab.next) / span);
    if mode == GuardMode::Mprotect {
        while k > 0 && vma_reserve(k * VMAS_PER_MPROTECT_GUARD).is_err() {
            k /= 2;
        }
        if k == 0 {
            return Err(vma_budget_error());
        }
    }
    let mut v = Vec::with_capacity(k);
    for _ in 0..k {
        let limit = class.slab.next;
        class.slab.next += span;
        v.push(GStack {
            base: limit + span,
            limit,
            uses: 0,
        });
    }
    class.carved += k;
    // Relaxed: see STACKS_CARVED.
    STACKS_CARVED.fetch_add(k, Ordering::Relaxed);
    Ok(v)
}

/// Makes each page at `guards` a guard page (one batched call with guard
/// advice; one mprotect each otherwise, VMAs already reserved).
fn install_guards(guards: &[usize], mode: GuardMode) -> io::Result<()> {
    let r = match mode {
        GuardMode::Madvise => {
            let ranges: Vec<(usize, usize)> = guards.iter().map(|&g| (g, GUARD)).collect();
            // SAFETY: each range is the guard page of a stack not yet handed
            // to anyone; making it fault breaks no reference.
            unsafe { sys::madvise_ranges(&ranges, sys::MADV_GUARD_INSTALL) }
        }
        GuardMode::Mprotect => guards.iter().try_for_each(|&g| {
            // SAFETY: as above.
            unsafe { sys::mprotect_none(g, GUARD) }
        }),
    };
    r.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "gort: cannot install a stack guard page ({e}); raise the sysctl \
                 vm.max_map_count or run on Linux >= 6.13 (MADV_GUARD_INSTALL)"
            ),
        )
    })
}

/// Returns stacks to the global pool (Go's stackfree, from a P cache's spill,
/// a non-default size, or a retired P). Wakes the scavenger when the pool is
/// far above what is in use.
#[doc(alias = "stackfree")]
pub(crate) fn stack_free_batch(stacks: impl IntoIterator<Item = GStack>) {
    let mut pool = POOL.lock();
    let classes = pool.get_or_insert_with(HashMap::new);
    let mut trim = false;
    for s in stacks {
        let class = classes.entry(s.size()).or_default();
        class.warm.push(s);
        trim |= class.wants_trim();
    }
    drop(pool);
    if trim {
        scavenger_wake();
    }
}

// ---------------------------------------------------------------------------
// The scavenger (Go's bgscavenge): trims warm stacks in the background.

/// The scavenger's wake-up: a flag under a lock, and its condvar.
struct Scavenger {
    pending: Mutex<bool>,
    cv: Condvar,
}

static SCAVENGER: OnceLock<Scavenger> = OnceLock::new();
/// True while a wake-up is pending or a trim runs; spares the exit path a
/// futex call per spill. Relaxed: a hint; the flag under `pending` decides.
static SCAVENGE_ASKED: AtomicBool = AtomicBool::new(false);

/// Asks the scavenger to trim; starts it the first time.
fn scavenger_wake() {
    // Relaxed: see SCAVENGE_ASKED.
    if SCAVENGE_ASKED.swap(true, Ordering::Relaxed) {
        return;
    }
    let sc = SCAVENGER.get_or_init(|| {
        let r = std::thread::Builder::new()
            .name("gort-scavenge".into())
            .spawn(bg_scavenge);
        if let Err(e) = r {
            crate::throw::warn(&format!("gort: cannot start the stack scavenger: {e}"));
        }
        Scavenger {
            pending: Mutex::new(false),
            cv: Condvar::new(),
        }
    });
    *sc.pending.lock() = true;
    sc.cv.notify_one();
}

/// The scavenger thread: waits for a wake-up, trims until no class wants it.
fn bg_scavenge() {
    sys::lower_thread_priority();
    let sc = loop {
        if let Some(sc) = SCAVENGER.get() {
            break sc;
        }
        std::thread::yield_now();
    };
    loop {
        let mut p = sc.pending.lock();
        while !*p {
            sc.cv.wait(&mut p);
        }
        *p = false;
        drop(p);
        while trim_once() {}
        // Relaxed: see SCAVENGE_ASKED. A free that saw `true` just before
        // this store skipped its wake-up, so look once more.
        SCAVENGE_ASKED.store(false, Ordering::Relaxed);
        while trim_once() {}
    }
}

/// Trims one class that wants it: keeps `in_use + TRIM_FLOOR/2` warm stacks,
/// releases the rest whole (neighbours merged into one range) and files them
/// as cold. Returns false if no class wanted trimming.
fn trim_once() -> bool {
    let mut pool = POOL.lock();
    let Some(classes) = pool.as_mut() else {
        return false;
    };
    let Some((&size, class)) = classes.iter_mut().find(|(_, c)| c.wants_trim()) else {
        return false;
    };
    let keep = class.in_use() + TRIM_FLOOR / 2;
    let mut all = std::mem::take(&mut class.warm);
    class.trimming = all.len();
    drop(pool);

    all.sort_unstable_by_key(|s| s.base);
    let victims = all.split_off(keep.min(all.len()));
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for s in &victims {
        let (lo, hi) = (s.limit + GUARD, s.base);
        match ranges.last_mut() {
            // Adjacent stacks: one range, across the upper one's guard page
            // (guard markers survive MADV_DONTNEED; mprotect'd pages have no
            // contents to drop).
            Some((at, len)) if *at + *len + GUARD == lo => *len = hi - *at,
            _ => ranges.push((lo, hi - lo)),
        }
    }
    // A few ranges per call: each call holds mmap_lock for reading, and this
    // thread runs at nice 19, so a long call preempted midway would hold up
    // an M's mmap or mprotect (malloc growing its heap) behind it.
    for chunk in ranges.chunks(TRIM_RANGES_PER_CALL) {
        // SAFETY: every range is the usable memory of free stacks we hold
        // (taken out of the pool above), plus guard pages between neighbours;
        // no G runs on them. An error only leaves pages resident.
        let _ = unsafe { sys::madvise_ranges(chunk, libc::MADV_DONTNEED) };
    }

    let mut pool = POOL.lock();
    let class = class_of(&mut pool, size);
    class.trimming = 0;
    class.warm.append(&mut all);
    class.cold.extend(victims);
    true
}

// ---------------------------------------------------------------------------
// Signal stacks.

/// A guarded stack for an M's signal handlers (stack/overflow.rs): returns the
/// usable range `(low, size)`. Never freed: an M that retires (the idle-M
/// bound, sched/handoff.rs) leaves its few pages mapped, a small cost for Ms
/// that retire rarely.
pub(crate) fn signal_stack_alloc() -> io::Result<(usize, usize)> {
    let mode = guard_mode();
    let vmas = 1 + if mode == GuardMode::Mprotect {
        VMAS_PER_MPROTECT_GUARD
    } else {
        0
    };
    vma_reserve(vmas)?;
    let at = match sys::mmap_reserve(GUARD + SIGNAL_STACK_SIZE) {
        Ok(a) => a,
        Err(e) => {
            vma_unreserve(vmas);
            return Err(e);
        }
    };
    install_guards(&[at], mode)?;
    Ok((at + GUARD, SIGNAL_STACK_SIZE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_and_rounded() {
        assert!(check_stack_size(4096).is_err());
        let e = check_stack_size(1000).unwrap_err();
        assert!(e.to_string().contains(&MIN_STACK_SIZE.to_string()));
        assert_eq!(
            check_stack_size(MIN_STACK_SIZE + 1).unwrap(),
            MIN_STACK_SIZE + PAGE
        );
        assert!(check_stack_size(MAX_STACK_SIZE + 1).is_err());
    }

    #[test]
    fn stacks_are_distinct_and_reused() {
        let mut v = Vec::new();
        for _ in 0..4 {
            stack_alloc_batch(MIN_STACK_SIZE, 1, &mut v).unwrap();
        }
        let mut bases: Vec<usize> = v.iter().map(|s| s.base).collect();
        bases.sort();
        bases.dedup();
        assert_eq!(bases.len(), 4);
        assert!(v.iter().all(|s| s.size() == MIN_STACK_SIZE));
        stack_free_batch(v);
        let mut w = Vec::new();
        stack_alloc_batch(MIN_STACK_SIZE, 8, &mut w).unwrap();
        assert!(!w.is_empty() && w.iter().all(|s| bases.contains(&s.base)));
        stack_free_batch(w);
    }

    /// Resident pages of `[lo, hi)`, by mincore.
    fn resident(lo: usize, hi: usize) -> usize {
        let mut v = vec![0u8; (hi - lo) / PAGE];
        // SAFETY: the range is mapped (a stack of ours) and `v` has one byte
        // per page.
        let r = unsafe { libc::mincore(lo as *mut libc::c_void, hi - lo, v.as_mut_ptr()) };
        assert_eq!(r, 0);
        v.iter().filter(|&&b| b & 1 == 1).count()
    }

    #[test]
    fn shrink_releases_a_deep_stack_and_keeps_a_shallow_one() {
        const SIZE: usize = 128 * 1024;
        let mut v = Vec::new();
        stack_alloc_batch(SIZE, 1, &mut v).unwrap();
        let mut s = v.pop().unwrap();
        let (lo, top) = (s.limit + GUARD, s.base - KEEP);
        // Shallow use: frames in the top page only.
        // SAFETY: inside the usable range of a stack we own.
        unsafe { ((s.base - 64) as *mut u64).write(7) };
        s.shrink();
        assert_eq!(resident(s.base - KEEP, s.base), 1, "top page kept");
        // Deep use: 100 KiB written, through the band.
        // SAFETY: as above.
        unsafe { std::ptr::write_bytes((s.base - 100 * 1024) as *mut u8, 0, 100 * 1024 - 64) };
        assert!(resident(lo, top) >= 20);
        s.shrink();
        assert_eq!(resident(lo, top), 0, "deep pages released");
        assert_eq!(resident(s.base - KEEP, s.base), 1, "top page kept");
        assert!(s.band().iter().all(|&w| w == BAND_WORD), "repainted");
        stack_free_batch([s]);
    }

    #[test]
    fn budget_error_names_the_sysctl() {
        let e = vma_budget_error();
        assert_eq!(e.kind(), io::ErrorKind::OutOfMemory);
        assert!(e.to_string().contains("vm.max_map_count"), "{e}");
        assert!(vma_budget() < max_map_count());
        assert!(vma_budget() >= max_map_count() / 2);
    }

    #[test]
    fn madvise_ranges_takes_many_ranges() {
        let at = sys::mmap_reserve(8 * PAGE).unwrap();
        let ranges: Vec<(usize, usize)> = (0..4).map(|i| (at + 2 * i * PAGE, PAGE)).collect();
        // SAFETY: a fresh mapping of ours that nothing refers to.
        unsafe { sys::madvise_ranges(&ranges, libc::MADV_DONTNEED) }.unwrap();
        // SAFETY: as above; unmapped and never used again.
        unsafe { sys::munmap(at, 8 * PAGE) }.unwrap();
    }
}
