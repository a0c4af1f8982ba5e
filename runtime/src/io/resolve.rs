//! resolve — host names to addresses for the sockets, without stalling
//! other goroutines: a name goes through getaddrinfo inside
//! `gort::syscall::blocking` (Go's cgo resolver does the same: entersyscall
//! around getaddrinfo), so a slow DNS server blocks only the resolving
//! goroutine's thread while its P runs the others. Addresses (`SocketAddr`,
//! `(IpAddr, u16)`, numeric strings) resolve without a system call.
//!
//! At most [`MAX_LOOKUPS`] lookups are in the kernel at once, others park
//! for a permit (Go bounds its cgo lookups the same way): every slow lookup
//! may hold a thread, and a storm of connects by name must not grow one
//! thread per goroutine.

#![forbid(unsafe_code)]

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::sync::Semaphore;

/// Lookups in the kernel at once.
pub(crate) const MAX_LOOKUPS: usize = 8;

static PERMITS: Semaphore = Semaphore::new(MAX_LOOKUPS);

/// A test hook: extra milliseconds every lookup takes (a slow resolver).
/// Relaxed: a setting read once per lookup.
static DELAY_MS: AtomicU64 = AtomicU64::new(0);

/// Resolves `addr` (module header): on a goroutine as an announced blocking
/// call under a lookup permit; on a plain thread directly.
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    if crate::m::current_g().is_none() {
        return lookup(addr);
    }
    let _permit = PERMITS.acquire();
    crate::syscall::blocking(|| lookup(addr))
}

fn lookup<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let delay = DELAY_MS.load(Ordering::Relaxed);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay));
    }
    addr.to_socket_addrs().map(Iterator::collect)
}

/// std's each_addr: `f` on each address of `addr` until one succeeds; the
/// last error otherwise.
pub(crate) fn each_addr<A: ToSocketAddrs, T>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// The addresses of `host_port` (Go's `net.LookupHost` plus the port; std's
/// `ToSocketAddrs`), resolved without blocking other goroutines (module
/// header).
///
/// ```
/// let addrs: Vec<_> = gort::net::lookup_host("localhost:80").unwrap().collect();
/// assert!(addrs.iter().any(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
pub fn lookup_host<A: ToSocketAddrs>(host_port: A) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    resolve(host_port).map(Vec::into_iter)
}

/// Makes every lookup take `d` longer (tests of a slow resolver); zero
/// turns it off.
#[doc(hidden)]
pub fn set_lookup_delay(d: Duration) {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    DELAY_MS.store(ms, Ordering::Relaxed);
}
