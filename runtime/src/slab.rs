//! slab — memory for the runtime's records that live for ever: a G slot
//! and its diagnostics record (GInfo). Go allocates its Gs from its own heap
//! and never frees them (they are recycled through gFree lists); so do we,
//! bump-allocating from 1 MiB anonymous mappings, one current chunk per
//! thread, never freed.
//!
//! Why not `Box::leak`: a burst of a million fresh goroutines (W1 at P=1,
//! where the spawner runs before any of them) made glibc grow its per-thread
//! heap with an `mprotect` every 128 KiB and fault its pages one by one:
//! `sysmalloc` was 45% of W1's profile. A chunk here is one `mmap` with its
//! pages populated at once, and a record costs a pointer bump.

use std::alloc::Layout;
use std::cell::Cell;

use crate::debug::throw;
use crate::sys;

/// Bytes per chunk.
const CHUNK: usize = 1 << 20;

thread_local! {
    /// This thread's current chunk: (next free byte, end). (0, 0) at first.
    static BUMP: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// Moves `v` into slab memory that is never freed and returns it.
pub(crate) fn leak<T>(v: T) -> &'static mut T {
    let layout = Layout::new::<T>();
    const { assert!(std::mem::size_of::<T>() <= CHUNK / 64) };
    let at = BUMP
        .try_with(|b| {
            let (next, end) = b.get();
            let mut at = next.next_multiple_of(layout.align());
            if next == 0 || at + layout.size() > end {
                let base = sys::mmap_populated(CHUNK).unwrap_or_else(|e| {
                    crate::debug::warn(&format!("runtime: mmap of {CHUNK} bytes: {e}"));
                    throw("runtime: out of memory for goroutine records")
                });
                at = base.next_multiple_of(layout.align());
                b.set((at + layout.size(), base + CHUNK));
            } else {
                b.set((at + layout.size(), end));
            }
            at
        })
        .ok();
    match at {
        Some(at) => {
            let p = at as *mut T;
            // SAFETY: `at..at+size` is aligned for T, inside a live mapping
            // that is never unmapped, and handed out only here, once (the
            // bump moved past it above).
            unsafe { p.write(v) };
            // SAFETY: as above; initialised just now, and never freed.
            unsafe { &mut *p }
        }
        // This thread's TLS is being torn down: plain heap memory will do.
        None => Box::leak(Box::new(v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_distinct_aligned_and_keep_their_values() {
        let mut ps = Vec::new();
        // Enough to cross into a second chunk.
        for i in 0..(CHUNK / 64 + 10) as u64 {
            let r: &'static mut [u64; 8] = leak([i; 8]);
            assert_eq!(r.as_ptr() as usize % std::mem::align_of::<[u64; 8]>(), 0);
            ps.push(r);
        }
        for (i, r) in ps.iter().enumerate() {
            assert_eq!(**r, [i as u64; 8]);
        }
        let mut addrs: Vec<usize> = ps.iter().map(|r| r.as_ptr() as usize).collect();
        addrs.sort_unstable();
        assert!(addrs.windows(2).all(|w| w[1] - w[0] >= 64));
    }
}
