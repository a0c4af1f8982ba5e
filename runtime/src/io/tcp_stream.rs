//! TcpStream — a TCP connection, std::net::TcpStream's shape: connect
//! (+ connect_timeout), Read/Write for the stream and for `&TcpStream`,
//! shutdown, timeouts, nodelay, try_clone. A std stream in non-blocking mode
//! underneath; the waiting is io/fd.rs's.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use super::fd::{self, Mode, NetFd};
use super::resolve;

/// A TCP connection between a local and a remote socket, like
/// [`std::net::TcpStream`]; blocking operations park the calling goroutine
/// (or block a plain thread). See the module docs of [`crate::io::net`].
///
/// ```
/// use std::io::{Read, Write};
/// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// gort::go!(move || {
///     let (mut s, _) = l.accept().unwrap();
///     s.write_all(b"hi").unwrap();
/// });
/// let mut c = gort::net::TcpStream::connect(addr).unwrap();
/// let mut got = String::new();
/// c.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
/// ```
pub struct TcpStream {
    fd: NetFd<std::net::TcpStream>,
}

impl TcpStream {
    /// A stream on a connected, non-blocking socket.
    pub(crate) fn from_owned(fd: OwnedFd) -> TcpStream {
        TcpStream {
            fd: NetFd::new(std::net::TcpStream::from(fd)),
        }
    }

    /// Opens a TCP connection to `addr`, trying each address it resolves to
    /// in turn (std's rule); the last error if none accepts. A closed port is
    /// `ConnectionRefused` at once.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let c = gort::net::TcpStream::connect(addr).unwrap();
    /// assert_eq!(c.peer_addr().unwrap(), addr);
    /// drop((c, l)); // nobody listens there any more
    /// let err = gort::net::TcpStream::connect(addr).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        resolve::each_addr(addr, |a| connect_addr(a, None))
    }

    /// Opens a TCP connection to `addr`, failing with `TimedOut` if it takes
    /// longer than `timeout` (a zero timeout is an error, as in std).
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let c = gort::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    /// assert_eq!(c.peer_addr().unwrap(), addr);
    /// let err = gort::net::TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        connect_addr(addr, Some(crate::time::real_deadline_after(timeout)))
    }

    /// Adopts a std stream (switching it to non-blocking mode).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let std_c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let c = gort::net::TcpStream::from_std(std_c).unwrap();
    /// let (_s, peer) = l.accept().unwrap();
    /// assert_eq!(c.local_addr().unwrap(), peer);
    /// ```
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        Ok(TcpStream { fd: NetFd::new(s) })
    }

    /// The remote address.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let c = gort::net::TcpStream::connect(addr).unwrap();
    /// assert_eq!(c.peer_addr().unwrap(), addr);
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, peer) = l.accept().unwrap();
    /// assert_eq!(c.local_addr().unwrap(), peer);
    /// assert_eq!(s.local_addr().unwrap(), l.local_addr().unwrap());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// Shuts down the read half, the write half or both (a goroutine blocked
    /// reading this connection, through another handle, sees end of file).
    ///
    /// ```
    /// use std::io::Read;
    /// use gort::net::Shutdown;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (mut s, _) = l.accept().unwrap();
    /// c.shutdown(Shutdown::Write).unwrap();
    /// let mut buf = Vec::new();
    /// assert_eq!(s.read_to_end(&mut buf).unwrap(), 0); // end of file at once
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.sock().shutdown(how)
    }

    /// A new handle to the same connection (a duplicated fd). Timeouts and
    /// the non-blocking setting are shared, as they are for std's clones.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// let mut s2 = s.try_clone().unwrap();
    /// c.write_all(b"ab").unwrap();
    /// let mut buf = [0u8; 2];
    /// s2.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"ab");
    /// s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s2.read_timeout().unwrap(), Some(Duration::from_secs(1))); // shared
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Reads fail with `WouldBlock` (`EAGAIN`, std's Unix rule) once they
    /// have waited `dur`; None waits forever. `Some(0)` is an error.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (_s, _) = l.accept().unwrap(); // open, and silent
    /// c.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    /// let err = c.read(&mut [0u8; 1]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(c.set_read_timeout(Some(Duration::ZERO)).is_err());
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }

    /// Writes fail with `WouldBlock` once they have waited `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    /// assert_eq!(c.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    /// c.set_write_timeout(None).unwrap();
    /// assert_eq!(c.write_timeout().unwrap(), None);
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Write, dur)
    }

    /// The read timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(c.read_timeout().unwrap(), None); // wait forever
    /// c.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
    /// assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(250)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Read))
    }

    /// The write timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert_eq!(c.write_timeout().unwrap(), None);
    /// c.set_write_timeout(Some(Duration::from_millis(300))).unwrap();
    /// assert_eq!(c.write_timeout().unwrap(), Some(Duration::from_millis(300)));
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Write))
    }

    /// Receives data without removing it from the queue (waits like `read`).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (mut s, _) = l.accept().unwrap();
    /// c.write_all(b"hey").unwrap();
    /// let mut buf = [0u8; 3];
    /// assert_eq!(s.peek(&mut buf).unwrap(), 3);
    /// let mut again = [0u8; 3];
    /// s.read_exact(&mut again).unwrap(); // still queued
    /// assert_eq!(buf, again);
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (Nagle's algorithm off when true).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_nodelay(true).unwrap();
    /// assert!(c.nodelay().unwrap());
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.fd.sock().set_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` setting.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(!c.nodelay().unwrap()); // Nagle's algorithm is on by default
    /// c.set_nodelay(true).unwrap();
    /// assert!(c.nodelay().unwrap());
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.fd.sock().nodelay()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_ttl(33).unwrap();
    /// assert_eq!(c.ttl().unwrap(), 33);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.sock().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// c.set_ttl(17).unwrap();
    /// assert_eq!(c.ttl().unwrap(), 17);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.sock().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// assert!(c.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, operations that would wait return `WouldBlock` instead.
    ///
    /// ```
    /// use std::io::Read;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let mut c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (_s, _) = l.accept().unwrap();
    /// c.set_nonblocking(true).unwrap();
    /// let err = c.read(&mut [0u8; 8]).unwrap_err(); // nothing sent yet
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// Connects one address: start, then wait for writability until connected,
/// refused, or `deadline`.
fn connect_addr(addr: &SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
    let s = TcpStream::from_owned(fd::socket(addr, libc::SOCK_STREAM)?);
    let raw = s.as_raw_fd();
    if fd::connect_start(raw, addr)? {
        return Ok(s);
    }
    // In progress: the socket turns writable when the handshake ends, with
    // SO_ERROR set if it failed (refused, unreachable).
    s.fd.io_until(Mode::Write, deadline, |sock| {
        if let Some(e) = fd::so_error(raw)? {
            return Err(e);
        }
        match sock.peer_addr() {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
                Err(io::ErrorKind::WouldBlock.into())
            }
            Err(e) => Err(e),
        }
    })?;
    Ok(s)
}

// std's write (used inside) sends with `MSG_NOSIGNAL`: no SIGPIPE on a
// reset peer.
impl_parking_read!(TcpStream);
impl_parking_write!(TcpStream);
impl_as_fd!(TcpStream);

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        if let Ok(a) = self.peer_addr() {
            d.field("peer", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
