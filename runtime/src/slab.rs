//! slab — memory for the runtime's records that live for ever: a G slot
//! and its diagnostics record (GInfo). Go allocates its Gs from its own heap
//! and never frees them (they are recycled through gFree lists); so do we,
//! bump-allocating from 1 MiB anonymous mappings, one current chunk for the
//! process under a lock, never freed. (A chunk per thread would strand the
//! rest of a populated MiB with every thread that spawns once and exits.)
//!
//! Why not `Box::leak`: a burst of a million fresh goroutines (W1 at P=1,
//! where the spawner runs before any of them) made glibc grow its per-thread
//! heap with an `mprotect` every 4 KiB and fault its pages one by one:
//! `sysmalloc` was 45% of W1's profile. A chunk here is one `mmap` with its
//! pages populated at once, and a record costs a pointer bump. Fresh slots
//! are the slow path anyway: a spawn reuses a freed slot when its P has one.

use std::alloc::Layout;

use crate::lock::Mutex;

use crate::sys;
use crate::throw::throw;

/// Bytes per chunk.
const CHUNK: usize = 1 << 20;

/// The current chunk: (next free byte, end). (0, 0) at first.
static BUMP: Mutex<(usize, usize)> = Mutex::new((0, 0));

/// Moves `v` into slab memory that is never freed and returns it.
pub(crate) fn leak<T>(v: T) -> &'static mut T {
    let layout = Layout::new::<T>();
    const { assert!(std::mem::size_of::<T>() <= CHUNK / 64) };
    let at = {
        let mut b = BUMP.lock();
        let (next, end) = *b;
        let mut at = next.next_multiple_of(layout.align());
        if next == 0 || at + layout.size() > end {
            let base = sys::mmap_populated(CHUNK).unwrap_or_else(|e| {
                crate::throw::warn(&format!("runtime: mmap of {CHUNK} bytes: {e}"));
                throw("runtime: out of memory for goroutine records")
            });
            at = base.next_multiple_of(layout.align());
            *b = (at + layout.size(), base + CHUNK);
        } else {
            *b = (at + layout.size(), end);
        }
        at
    };
    let p = at as *mut T;
    // SAFETY: `at..at+size` is aligned for T, inside a live mapping that is
    // never unmapped, and handed out only here, once (the bump moved past it
    // under the lock).
    unsafe { p.write(v) };
    // SAFETY: as above; initialised just now, and never freed.
    unsafe { &mut *p }
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
