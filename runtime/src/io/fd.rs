//! fd — what every gort socket shares: [`NetFd`], a non-blocking socket with
//! its poll descriptor and timeouts, and the retry loop of Go's
//! internal/poll.FD (try the call; on `EAGAIN` wait for the fd and try
//! again). Plus the few raw socket calls std does not expose: a socket born
//! non-blocking, bind/listen with our backlog, a connect that does not wait,
//! accept4, send with `MSG_NOSIGNAL`, and the sockaddr conversions they need.
//! This is the only file of net/ with `unsafe` code.

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub(crate) use crate::io::netpoll::Mode;
use crate::io::netpoll::{self, PollDesc};
use crate::time::real_deadline_after;

/// A listener's backlog (the kernel caps it at `net.core.somaxconn`).
pub(crate) const LISTEN_BACKLOG: libc::c_int = 4096;

/// Settings shared by a socket and the handles `try_clone` made of it (std
/// keeps them in the kernel's socket, which clones share).
#[derive(Default)]
struct Shared {
    /// Read timeout in nanoseconds, 0 for none. Relaxed: a setting, read
    /// once per operation; no other memory hangs on it.
    read_ns: AtomicU64,
    /// Write timeout, likewise.
    write_ns: AtomicU64,
    /// `set_nonblocking(true)`: return `WouldBlock` instead of waiting.
    /// Relaxed, as above.
    nonblocking: AtomicBool,
}

/// A non-blocking socket `S` (a std socket type) and its poll state. The
/// PollDesc is taken on the first wait by a goroutine and given back (the fd
/// removed from epoll) before the socket is closed: `Drop` runs before the
/// fields are dropped.
pub(crate) struct NetFd<S: AsRawFd> {
    sock: S,
    pd: OnceLock<&'static PollDesc>,
    shared: Arc<Shared>,
}

impl<S: AsRawFd> NetFd<S> {
    /// Wraps `sock`, which must already be in non-blocking mode.
    pub(crate) fn new(sock: S) -> NetFd<S> {
        NetFd {
            sock,
            pd: OnceLock::new(),
            shared: Arc::default(),
        }
    }

    /// A handle on a duplicate of this socket (`try_clone`): its own fd and
    /// poll state, the same settings.
    pub(crate) fn cloned(&self, sock: S) -> NetFd<S> {
        NetFd {
            sock,
            pd: OnceLock::new(),
            shared: self.shared.clone(),
        }
    }

    /// The std socket.
    pub(crate) fn sock(&self) -> &S {
        &self.sock
    }

    fn timeout_cell(&self, mode: Mode) -> &AtomicU64 {
        match mode {
            Mode::Read => &self.shared.read_ns,
            Mode::Write => &self.shared.write_ns,
        }
    }

    /// std's `set_read_timeout` / `set_write_timeout`: `Some(0)` is an error.
    pub(crate) fn set_timeout(&self, mode: Mode, t: Option<Duration>) -> io::Result<()> {
        let ns = match t {
            Some(d) if d.is_zero() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "cannot set a 0 duration timeout",
                ))
            }
            Some(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            None => 0,
        };
        // Relaxed: see `Shared`.
        self.timeout_cell(mode).store(ns, Ordering::Relaxed);
        Ok(())
    }

    /// The timeout set for `mode`.
    pub(crate) fn timeout(&self, mode: Mode) -> Option<Duration> {
        // Relaxed: see `Shared`.
        match self.timeout_cell(mode).load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// std's `set_nonblocking`: operations return `WouldBlock` instead of
    /// waiting (the fd itself is always non-blocking).
    pub(crate) fn set_nonblocking(&self, on: bool) {
        // Relaxed: see `Shared`.
        self.shared.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Runs `op` until it does not fail with `WouldBlock` (or `Interrupted`),
    /// waiting for `mode` in between, within the timeout set for `mode`
    /// (measured from the first wait). On a timeout: `EAGAIN`, as std.
    #[inline]
    pub(crate) fn io<R>(&self, mode: Mode, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.run(mode, Until::Timeout, op)
    }

    /// Runs `op` until it does not fail with `WouldBlock`, waiting for
    /// `mode` in between, until `deadline`; then `TimedOut` (connect).
    pub(crate) fn io_until<R>(
        &self,
        mode: Mode,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.run(mode, Until::At(deadline), op)
    }

    /// Go's internal/poll.FD loop: snapshot the fd's event count, try `op`,
    /// and on `WouldBlock` wait for an event after that snapshot.
    #[inline]
    fn run<R>(
        &self,
        mode: Mode,
        until: Until,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        // A goroutine parks in the netpoller; a plain thread (or a goroutine
        // without a netpoller) blocks its thread in poll(2).
        let g = crate::m::current_g().filter(|_| netpoll::available());
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            // The fd's poll state exists once a goroutine has waited on it;
            // its event count before the attempt tells `wait` whether an
            // event came after the attempt looked.
            let tick = g.and(self.pd.get()).map(|pd| pd.tick(mode));
            match op(&self.sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
            // Relaxed: see `Shared`.
            if self.shared.nonblocking.load(Ordering::Relaxed) {
                return Err(io::Error::from_raw_os_error(libc::EAGAIN));
            }
            let d = *deadline.get_or_insert_with(|| match until {
                Until::Timeout => self.timeout(mode).map(real_deadline_after),
                Until::At(d) => d,
            });
            if d.is_some_and(|d| Instant::now() >= d) {
                return Err(match until {
                    Until::Timeout => io::Error::from_raw_os_error(libc::EAGAIN),
                    Until::At(_) => io::Error::new(io::ErrorKind::TimedOut, "connection timed out"),
                });
            }
            let fd = self.sock.as_raw_fd();
            match g {
                Some(g) => {
                    let pd = *self.pd.get_or_init(|| PollDesc::alloc(fd));
                    pd.wait(g, mode, d, tick)?;
                }
                // No epoll: a goroutine blocks its thread, handing its P off.
                None if crate::m::current_g().is_some() => {
                    crate::sched::syscall::blocking(|| poll_fd(fd, mode, d))?
                }
                None => poll_fd(fd, mode, d)?,
            }
        }
    }
}

/// When an operation gives up waiting.
#[derive(Clone, Copy)]
enum Until {
    /// The socket's timeout for the direction, from the first wait; then
    /// `EAGAIN` (std's rule for read and write timeouts).
    Timeout,
    /// A fixed deadline; then `TimedOut` (std's `connect_timeout`).
    At(Option<Instant>),
}

impl<S: AsRawFd> Drop for NetFd<S> {
    fn drop(&mut self) {
        if let Some(pd) = self.pd.get() {
            // Before `sock` closes the fd (fields drop after this).
            pd.free();
        }
    }
}

/// Blocks the thread until `fd` is ready for `mode`, `deadline` passes, or a
/// signal interrupts (all three just return: the caller retries).
fn poll_fd(fd: RawFd, mode: Mode, deadline: Option<Instant>) -> io::Result<()> {
    let events = match mode {
        Mode::Read => libc::POLLIN,
        Mode::Write => libc::POLLOUT,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = match deadline {
        None => -1,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            // Round up, so a wake-up is never before the deadline.
            let ms = left.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    };
    // SAFETY: `pfd` is one valid pollfd, and we pass a count of 1.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A new non-blocking, close-on-exec socket of type `ty` for `addr`'s family.
pub(crate) fn socket(addr: &SocketAddr, ty: libc::c_int) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain system call with integer arguments.
    let fd =
        cvt(unsafe { libc::socket(family, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `socket` returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)`, as std does for listeners.
pub(crate) fn set_reuseaddr(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` is a readable c_int and we pass its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `bind(fd, addr)`.
pub(crate) fn bind(fd: RawFd, addr: &SocketAddr) -> io::Result<()> {
    let (sa, len) = to_sockaddr(addr);
    // SAFETY: `sa` holds a valid sockaddr of `len` bytes.
    cvt(unsafe { libc::bind(fd, (&sa as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(())
}

/// `listen(fd, LISTEN_BACKLOG)`.
pub(crate) fn listen(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain system call with integer arguments.
    cvt(unsafe { libc::listen(fd, LISTEN_BACKLOG) })?;
    Ok(())
}

/// Starts a connect on a non-blocking socket: true if it completed at once,
/// false if it is in progress (wait for writability, then [`so_error`]).
pub(crate) fn connect_start(fd: RawFd, addr: &SocketAddr) -> io::Result<bool> {
    let (sa, len) = to_sockaddr(addr);
    // SAFETY: `sa` holds a valid sockaddr of `len` bytes.
    let r = unsafe { libc::connect(fd, (&sa as *const libc::sockaddr_storage).cast(), len) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // An interrupted non-blocking connect goes on asynchronously.
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok(false),
        _ => Err(e),
    }
}

/// The pending error of a socket (`SO_ERROR`), if any.
pub(crate) fn so_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are writable and `len` is err's size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the new connection and its
/// peer's address.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let mut sa = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `sa` is a writable sockaddr_storage and `len` its size; the
    // kernel writes at most `len` bytes and updates `len`.
    let nfd = cvt(unsafe {
        libc::accept4(
            fd,
            sa.as_mut_ptr().cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `accept4` returned a new fd that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(nfd) };
    // SAFETY: all-zero is a valid sockaddr_storage and the kernel filled
    // `len` bytes of it.
    let sa = unsafe { sa.assume_init() };
    Ok((owned, from_sockaddr(&sa, len)?))
}

/// `send(fd, buf, MSG_NOSIGNAL)`: a write that never raises SIGPIPE.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is readable for `buf.len()` bytes.
    let r = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// A `SocketAddr` as a C sockaddr.
fn to_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for every
            // sockaddr type; the cast reinterprets its first bytes.
            let sin = unsafe {
                &mut *(&mut sa as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut sa as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (sa, len as libc::socklen_t)
}

/// A C sockaddr (of `len` bytes) as a `SocketAddr`.
fn from_sockaddr(sa: &libc::sockaddr_storage, len: libc::socklen_t) -> io::Result<SocketAddr> {
    let len = len as usize;
    match sa.ss_family as libc::c_int {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family and length say the storage holds a
            // sockaddr_in; the storage is aligned for it.
            let sin =
                unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for a sockaddr_in6.
            let sin6 =
                unsafe { &*(sa as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "invalid socket address",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_round_trips() {
        for a in [
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap(),
            "[::1]:443".parse().unwrap(),
            SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 7, 3)),
        ] {
            let (sa, len) = to_sockaddr(&a);
            assert_eq!(from_sockaddr(&sa, len).unwrap(), a);
        }
    }

    #[test]
    fn zero_timeout_is_refused_like_std() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = NetFd::new(l);
        assert!(fd.set_timeout(Mode::Read, Some(Duration::ZERO)).is_err());
        fd.set_timeout(Mode::Read, Some(Duration::from_millis(5)))
            .unwrap();
        assert_eq!(fd.timeout(Mode::Read), Some(Duration::from_millis(5)));
        assert_eq!(fd.timeout(Mode::Write), None);
    }
}
