//! A goroutine that used 200 KiB of stack does not leave that memory resident
//! for the next goroutine that runs on the same stack: the stack is shrunk to
//! its top page when it goes back to the pool (stack/mod.rs `GStack::shrink`).
//! Residency is read with mincore(2); the deep goroutine checks its own pages
//! first, so the measurement is known to see them.

mod common;

use std::time::Duration;

use common::with_timeout;

const LIMIT: Duration = Duration::from_secs(60);
const PAGE: usize = 4096;
/// How deep the first goroutine goes.
const DEEP: usize = 200 * 1024;
/// The range checked, below the top page: where the deep goroutine's 200 KiB
/// lay, without its first and last pages.
const CHECK_LO: usize = DEEP - PAGE;
const CHECK_HI: usize = 2 * PAGE;

extern "C" {
    fn mincore(addr: *mut std::ffi::c_void, len: usize, vec: *mut u8) -> i32;
}

/// The top of the current goroutine's stack: its first frames lie in the
/// stack's top page, so the page above this local is the stack's base.
#[inline(never)]
fn stack_base() -> usize {
    let local = 0u8;
    (std::hint::black_box(&local) as *const u8 as usize).next_multiple_of(PAGE)
}

/// Resident pages of `[base - CHECK_LO, base - CHECK_HI)`.
fn resident_below(base: usize) -> usize {
    let (lo, hi) = (base - CHECK_LO, base - CHECK_HI);
    let mut v = vec![0u8; (hi - lo) / PAGE];
    // SAFETY: the range lies inside this goroutine's own stack (below its
    // frames, above its guard: the default stack is 256 KiB), which is mapped;
    // `v` has one byte per page, as mincore writes.
    let r = unsafe { mincore(lo as *mut std::ffi::c_void, hi - lo, v.as_mut_ptr()) };
    assert_eq!(r, 0, "mincore: {}", std::io::Error::last_os_error());
    v.iter().filter(|&&b| b & 1 == 1).count()
}

/// Writes DEEP bytes of stack, then reports how many of them are resident.
#[inline(never)]
fn go_deep(base: usize) -> usize {
    // One array in place (a by-value black_box would copy it: in an
    // unoptimised build that is twice DEEP, past the 256 KiB stack).
    let mut buf = [0u8; DEEP];
    std::hint::black_box(&mut buf).fill(0x5a);
    let n = resident_below(base);
    std::hint::black_box(&buf);
    n
}

#[test]
fn a_deep_goroutine_leaves_the_next_user_of_its_stack_nothing_resident() {
    with_timeout(LIMIT, || {
        // One P, so the next goroutine runs where the deep one ran and takes
        // the stack it left on top of that P's cache (one test per file: the
        // setting is process-wide).
        gort::set_gomaxprocs(1);
        gort::go!(|| {
            let mut same_stack = 0;
            for _ in 0..50 {
                let deep = gort::go!(|| {
                    let base = stack_base();
                    (base, go_deep(base))
                });
                let (base, while_deep) = deep.join().unwrap();
                assert!(
                    while_deep >= (CHECK_LO - CHECK_HI) / PAGE - 2,
                    "mincore should see the deep goroutine's pages: {while_deep}"
                );
                let next = gort::go!(|| {
                    let base = stack_base();
                    (base, resident_below(base))
                });
                let (next_base, left) = next.join().unwrap();
                if next_base != base {
                    continue; // another stack (the G was stolen): try again
                }
                same_stack += 1;
                assert!(
                    left <= 1,
                    "{left} of the deep goroutine's pages are still resident for the next user"
                );
            }
            println!("checked {same_stack} reuses of a deep goroutine's stack");
            assert!(
                same_stack >= 10,
                "only {same_stack} reuses of the same stack"
            );
        })
        .join()
        .unwrap();
    });
}
