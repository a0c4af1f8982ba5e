//! join — [`JoinHandle`]: waiting for a goroutine's result.
//!
//! The goroutine's entry wrapper (spawn.rs) stores its result — the value, or
//! the panic payload — in a shared packet and wakes the joiner. The handle
//! holds only the packet, never the G, so a finished G is freed at once.
//! `join` parks a goroutine and blocks a plain thread (waiter.rs).

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::thread;

use parking_lot::Mutex;

use crate::waiter::{self, Waiter};

/// The result slot shared by a goroutine and its handle.
pub(crate) struct Packet<T> {
    state: Mutex<PacketState<T>>,
}

struct PacketState<T> {
    /// Set once, by the goroutine, when it finishes.
    result: Option<thread::Result<T>>,
    /// True once `result` was set (it may have been taken since).
    done: bool,
    /// The joiner, if one waits.
    waiter: Option<Waiter>,
}

impl<T> Packet<T> {
    pub(crate) fn new() -> Arc<Packet<T>> {
        Arc::new(Packet {
            state: Mutex::new(PacketState {
                result: None,
                done: false,
                waiter: None,
            }),
        })
    }

    /// Called once by the finishing goroutine.
    pub(crate) fn finish(&self, r: thread::Result<T>) {
        let mut st = self.state.lock();
        st.result = Some(r);
        st.done = true;
        let w = st.waiter.take();
        drop(st);
        if let Some(w) = w {
            w.wake();
        }
    }
}

/// An owned permission to join a goroutine (wait for it and take its result),
/// like `std::thread::JoinHandle`. Dropping it detaches the goroutine.
///
/// ```
/// let h = gort::go!(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    id: u64,
    name: Option<Arc<str>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(packet: Arc<Packet<T>>, id: u64, name: Option<Arc<str>>) -> Self {
        JoinHandle { packet, id, name }
    }

    /// Waits for the goroutine to finish and returns its result, or `Err`
    /// with the panic payload if it panicked (as `std::thread::JoinHandle`).
    /// On a goroutine this parks only the goroutine; on a plain thread it
    /// blocks the thread.
    pub fn join(self) -> thread::Result<T> {
        loop {
            let mut st = self.packet.state.lock();
            if let Some(r) = st.result.take() {
                return r;
            }
            if st.waiter.is_none() {
                st.waiter = Some(Waiter::current());
            }
            drop(st);
            waiter::block();
        }
    }

    /// True once the goroutine has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.packet.state.lock().done
    }

    /// The goroutine's id (as in Go's tracebacks: goroutine 1 is main).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The goroutine's name, if it was given one with `Builder::name`.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
