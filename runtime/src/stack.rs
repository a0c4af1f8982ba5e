//! stack — goroutine stacks: mmap'd slabs, guard pages, and the pools.
//!
//! A stack is `guard page | usable bytes`, growing down from the top. Stacks are
//! carved from slabs, each one large `MAP_NORESERVE` mapping, so the kernel
//! commits a page only when a goroutine first touches it (the stack "grows"
//! without copying: Rust cannot move stacks as Go does).
//!
//! Guards: `madvise(MADV_GUARD_INSTALL)` (Linux >= 6.13) marks the guard page
//! without splitting the mapping, so a million stacks cost a few VMAs. Where the
//! kernel says EINVAL we fall back to `mprotect(PROT_NONE)`, which splits the
//! VMA per stack (bounded by `vm.max_map_count`). A stack is never handed out
//! without a guard.
//!
//! Reuse: a finished G gives its stack to its P's cache (p.rs), which spills
//! half to the global pool here when full and refills from it when empty. Stacks
//! are never unmapped; a finished G never makes a syscall on the hot path.
//!
//! # Rejected
//! One mmap per stack: one VMA (or three with an mprotect guard) per goroutine,
//! which stops near 32,000 goroutines under the default `vm.max_map_count`.

use std::collections::HashMap;
use std::io;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU8, Ordering};

use corosensei::stack::{Stack, StackPointer};
use parking_lot::Mutex;

/// Page size we lay stacks out in. Linux x86_64/aarch64 (4 KiB pages; a 16 or
/// 64 KiB-page aarch64 kernel rounds mmap itself and this stays a multiple).
pub(crate) const PAGE: usize = 4096;
/// Size of the guard below each stack.
const GUARD: usize = PAGE;
/// The smallest stack a goroutine may ask for: enough for the panic machinery
/// (formatting, the panic hook) on top of a modest user frame.
pub const MIN_STACK_SIZE: usize = 64 * 1024;
/// The default stack size (virtual; pages are committed on first touch).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// The largest stack size accepted (1 GiB), to catch typos early.
pub const MAX_STACK_SIZE: usize = 1 << 30;
/// Target virtual size of one slab.
const SLAB_BYTES: usize = 32 << 20;
/// `MADV_GUARD_INSTALL` (Linux 6.13); not yet in the libc crate.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How guards are installed; decided at the first stack.
const GUARD_UNKNOWN: u8 = 0;
const GUARD_MADVISE: u8 = 1;
const GUARD_MPROTECT: u8 = 2;
/// Relaxed: a one-way latch; both values give a correct guard.
static GUARD_MODE: AtomicU8 = AtomicU8::new(GUARD_UNKNOWN);

/// An owned goroutine stack. Invariant: `[limit, limit+GUARD)` is a guard
/// page, `[limit+GUARD, base)` is usable, mapped read-write, and owned by this
/// value alone.
#[derive(Debug)]
pub(crate) struct GStack {
    base: usize,
    limit: usize,
}

impl GStack {
    /// Usable bytes (excluding the guard).
    pub(crate) fn size(&self) -> usize {
        self.base - self.limit - GUARD
    }

    /// The guard page's range, for the overflow report.
    #[allow(dead_code)]
    pub(crate) fn guard(&self) -> (usize, usize) {
        (self.limit, self.limit + GUARD)
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
/// error says the minimum.
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

/// A slab being carved: the next free address and the end.
struct Carve {
    next: usize,
    end: usize,
}

/// The global pool: free stacks by size, and the slab being carved per size.
struct Pool {
    free: HashMap<usize, Vec<GStack>>,
    carve: HashMap<usize, Carve>,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

/// Takes up to `n` free stacks of `size` from the global pool into `out`,
/// carving new ones if the pool is short. At least one is returned or an error.
pub(crate) fn stack_alloc_batch(size: usize, n: usize, out: &mut Vec<GStack>) -> io::Result<()> {
    let mut guard = POOL.lock();
    let pool = guard.get_or_insert_with(|| Pool {
        free: HashMap::new(),
        carve: HashMap::new(),
    });
    if let Some(list) = pool.free.get_mut(&size) {
        let take = list.len().min(n);
        out.extend(list.drain(list.len() - take..));
        if take > 0 {
            return Ok(());
        }
    }
    let span = size + GUARD;
    let carve = pool.carve.entry(size).or_insert(Carve { next: 0, end: 0 });
    if carve.next == carve.end {
        let count = (SLAB_BYTES / span).max(1);
        let start = map_slab(span * count)?;
        *carve = Carve {
            next: start,
            end: start + span * count,
        };
    }
    let limit = carve.next;
    carve.next += span;
    install_guard(limit)?;
    out.push(GStack {
        base: limit + span,
        limit,
    });
    Ok(())
}

/// Returns stacks to the global pool.
pub(crate) fn stack_free_batch(stacks: impl IntoIterator<Item = GStack>) {
    let mut guard = POOL.lock();
    let pool = guard.get_or_insert_with(|| Pool {
        free: HashMap::new(),
        carve: HashMap::new(),
    });
    for s in stacks {
        pool.free.entry(s.size()).or_default().push(s);
    }
}

/// Reserves `bytes` of address space, read-write, committed on first touch.
fn map_slab(bytes: usize) -> io::Result<usize> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choice
    // touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("gort: cannot map {bytes} bytes of goroutine stacks: {e}"),
        ));
    }
    Ok(p as usize)
}

/// Makes `[at, at+GUARD)` a guard page, by madvise or, where the kernel lacks
/// MADV_GUARD_INSTALL, by mprotect.
fn install_guard(at: usize) -> io::Result<()> {
    // Relaxed: see GUARD_MODE.
    if GUARD_MODE.load(Ordering::Relaxed) != GUARD_MPROTECT {
        // SAFETY: `at` is a page-aligned page inside a slab we mapped and
        // still own; guard advice changes only that page's access.
        let r = unsafe { libc::madvise(at as *mut libc::c_void, GUARD, MADV_GUARD_INSTALL) };
        if r == 0 {
            GUARD_MODE.store(GUARD_MADVISE, Ordering::Relaxed);
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::new(
                e.kind(),
                format!("gort: cannot install a stack guard page: {e}"),
            ));
        }
        GUARD_MODE.store(GUARD_MPROTECT, Ordering::Relaxed);
    }
    // SAFETY: as above; PROT_NONE on our own page.
    let r = unsafe { libc::mprotect(at as *mut libc::c_void, GUARD, libc::PROT_NONE) };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!(
                "gort: cannot install a stack guard page ({e}); \
                 raise the sysctl vm.max_map_count or use a kernel with MADV_GUARD_INSTALL"
            ),
        ));
    }
    Ok(())
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
        assert!(w.len() >= 1 && w.iter().all(|s| bases.contains(&s.base)));
        stack_free_batch(w);
    }
}
