//! TcpListener — a listening TCP socket, std::net::TcpListener's shape:
//! bind, accept, incoming, local_addr, try_clone. Accepted connections come
//! out non-blocking and close-on-exec in one call (accept4).

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use super::fd::{self, Mode, NetFd};
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
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        fd::each_addr(addr, |a| {
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
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener { fd: NetFd::new(l) })
    }

    /// The local address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same listening socket.
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Waits for the next connection. A connection reset before it was
    /// accepted (`ECONNABORTED`) is skipped, as Go does.
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
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.sock().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.sock().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// The iterator of [`TcpListener::incoming`]: never returns None.
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
