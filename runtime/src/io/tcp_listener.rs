//! TcpListener — a listening TCP socket, std::net::TcpListener's shape:
//! bind, accept, incoming, local_addr, try_clone. Accepted connections come
//! out non-blocking and close-on-exec in one call (accept4).

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use super::fd::{self, Mode, NetFd};
use super::resolve;
use super::tcp_stream::TcpStream;

/// A TCP socket server, listening for connections, like
/// [`std::net::TcpListener`]; `accept` parks the calling goroutine until a
/// connection arrives (a plain thread blocks).
///
/// ```
/// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let c = gort::go!(move || gort::net::TcpStream::connect(addr).unwrap());
/// let (_s, peer) = l.accept().unwrap();
/// assert_eq!(peer, c.join().unwrap().local_addr().unwrap());
/// ```
pub struct TcpListener {
    fd: NetFd<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that binds) and listens,
    /// with `SO_REUSEADDR` as std sets it. A port in use is `AddrInUse`.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// let err = gort::net::TcpListener::bind(addr).unwrap_err(); // taken
    /// assert_eq!(err.kind(), ErrorKind::AddrInUse);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        resolve::each_addr(addr, |a| {
            let sock = fd::socket(a, libc::SOCK_STREAM)?;
            fd::set_reuseaddr(sock.as_raw_fd())?;
            fd::bind(sock.as_raw_fd(), a)?;
            fd::listen(sock.as_raw_fd())?;
            Ok(TcpListener {
                fd: NetFd::new(std::net::TcpListener::from(sock)),
            })
        })
    }

    /// Adopts a std listener (switching it to non-blocking mode).
    ///
    /// ```
    /// let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = std_l.local_addr().unwrap();
    /// let l = gort::net::TcpListener::from_std(std_l).unwrap();
    /// let c = gort::net::TcpStream::connect(addr).unwrap();
    /// let (_s, peer) = l.accept().unwrap();
    /// assert_eq!(peer, c.local_addr().unwrap());
    /// ```
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { fd: NetFd::new(l) })
    }

    /// The local address (with the port the kernel chose for port 0).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// assert_ne!(addr.port(), 0); // the port the kernel chose
    /// assert!(gort::net::TcpStream::connect(addr).is_ok());
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same listening socket.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// assert_eq!(l2.local_addr().unwrap(), l.local_addr().unwrap());
    /// let c = gort::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    /// let (_s, peer) = l2.accept().unwrap(); // either handle accepts
    /// assert_eq!(peer, c.local_addr().unwrap());
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Waits for the next connection. A connection reset before it was
    /// accepted (`ECONNABORTED`) is skipped, as Go does.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let client = gort::go!(move || {
    ///     let mut c = gort::net::TcpStream::connect(addr).unwrap();
    ///     c.write_all(b"hello").unwrap();
    /// });
    /// let (mut s, _peer) = l.accept().unwrap();
    /// let mut got = String::new();
    /// s.read_to_string(&mut got).unwrap();
    /// assert_eq!(got, "hello");
    /// client.join().unwrap();
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, a) = self.fd.io(Mode::Read, |l| loop {
            match fd::accept(l.as_raw_fd()) {
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                r => return r,
            }
        })?;
        Ok((TcpStream::from_owned(s), a))
    }

    /// An endless iterator of accepted connections (`accept` in a loop).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let addr = l.local_addr().unwrap();
    /// let clients: Vec<_> = (0..2)
    ///     .map(|_| gort::net::TcpStream::connect(addr).unwrap())
    ///     .collect();
    /// let mut peers: Vec<_> = l
    ///     .incoming()
    ///     .take(2)
    ///     .map(|s| s.unwrap().peer_addr().unwrap())
    ///     .collect();
    /// let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    /// peers.sort();
    /// locals.sort();
    /// assert_eq!(peers, locals);
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_ttl(42).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.sock().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_ttl(100).unwrap();
    /// assert_eq!(l.ttl().unwrap(), 100);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.sock().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    ///
    /// ```
    /// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// let err = l.accept().unwrap_err(); // nobody is connecting
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// The iterator of [`TcpListener::incoming`]: never returns None.
///
/// ```
/// use std::io::{Read, Write};
/// let l = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = l.local_addr().unwrap();
/// let client = gort::go!(move || {
///     let mut c = gort::net::TcpStream::connect(addr).unwrap();
///     c.write_all(b"x").unwrap();
/// });
/// let mut incoming: gort::net::Incoming<'_> = l.incoming();
/// let mut s = incoming.next().unwrap().unwrap();
/// let mut b = [0u8; 1];
/// s.read_exact(&mut b).unwrap();
/// assert_eq!(&b, b"x");
/// client.join().unwrap();
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

impl_as_fd!(TcpListener);

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
