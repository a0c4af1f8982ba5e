//! alloc_probe — never suspend a goroutine that holds the allocator's lock.
//!
//! A program may bring its own `#[global_allocator]` written in Rust (talc,
//! dlmalloc, a spin lock around a heap). Its code is the program's code, and
//! the compiler inlines its entry point into the functions that allocate:
//! no symbol and no frame tells the SIGURG handler that a goroutine is
//! inside it. Suspended there, the goroutine would keep the allocator's lock
//! while the scheduler, on the same thread and on others, allocates (a new
//! M's thread, queue growth, timers): everything waits for a goroutine that
//! nobody can run.
//!
//! So before a preemption switches a goroutine out (sched/preempt.rs, in the
//! trampoline's callback), it asks this module's thread to allocate and free
//! a few bytes, and waits at most [`PATIENCE`]. The interrupted goroutine is
//! paused meanwhile: if it held the allocator's lock, the probe cannot
//! finish, the wait times out and the goroutine is left alone (it runs on,
//! sysmon asks again a millisecond later). If the probe finishes, the
//! goroutine held no lock the probe needed, and, paused, it takes none
//! before it is switched out. The proof covers allocators with one lock (or
//! locks any thread's allocation may need); an allocator that shards its
//! locks by thread is not covered (docs/CAVEATS.md).
//!
//! The probe runs only in programs with their own allocator (sched/symtab.rs
//! finds std's default shim otherwise): the system allocator is C code,
//! where no preemption lands.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::sys;

/// How long a preemption waits for the probe. A paused goroutine that holds
/// the lock costs this much; one that does not costs a wake-up of the probe
/// thread (microseconds).
const PATIENCE: Duration = Duration::from_millis(1);

/// True once the probe thread runs: preemptions must wait for it.
static ON: AtomicBool = AtomicBool::new(false);
/// The last probe asked for (a generation number; the futex word).
static ASKED: AtomicU32 = AtomicU32::new(0);
/// The last probe done.
static DONE: AtomicU32 = AtomicU32::new(0);

/// Starts the probe thread (once, from sched/preempt.rs `enable`, before sysmon
/// sends any preemption request).
pub(crate) fn start() {
    let r = std::thread::Builder::new()
        .name("gort-allocprobe".into())
        .stack_size(64 * 1024)
        .spawn(serve);
    match r {
        // Release: pairs with the Acquire in allocator_free.
        Ok(_) => ON.store(true, Ordering::Release),
        Err(e) => crate::throw::warn(&format!(
            "gort: cannot start the allocator probe ({e}): goroutines inside the \
             program's allocator may be preempted"
        )),
    }
}

/// The probe thread: serve each request with one allocation.
fn serve() {
    loop {
        // Acquire: the request's generation, published by allocator_free.
        let asked = ASKED.load(Ordering::Acquire);
        if asked == DONE.load(Ordering::Relaxed) {
            sys::futex_wait(&ASKED, asked);
            continue;
        }
        drop(std::hint::black_box(Box::new(asked)));
        // Release: the allocation completed before the answer.
        DONE.store(asked, Ordering::Release);
    }
}

/// True if the allocator can be entered while the calling goroutine stays
/// paused: it holds none of its locks (module header). Always true without
/// a program allocator.
pub(crate) fn allocator_free() -> bool {
    // Acquire: pairs with start's Release.
    if !ON.load(Ordering::Acquire) {
        return true;
    }
    let gen = ASKED.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
    sys::futex_wake(&ASKED);
    let deadline = Instant::now() + PATIENCE;
    loop {
        for _ in 0..64 {
            // Acquire: pairs with serve's Release. Generations wrap: "done"
            // means DONE reached `gen` or passed it.
            let done = DONE.load(Ordering::Acquire);
            if done.wrapping_sub(gen) as i32 >= 0 {
                return true;
            }
            std::hint::spin_loop();
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::yield_now();
    }
}
