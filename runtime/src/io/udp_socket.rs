//! UdpSocket — a UDP socket, std::net::UdpSocket's shape: bind, send_to /
//! recv_from, connect + send / recv, peek, timeouts, broadcast, try_clone.
//! A std socket in non-blocking mode underneath; the waiting is io/fd.rs's.

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::Duration;

use super::fd::{self, Mode, NetFd};
use super::resolve;

/// A UDP socket, like [`std::net::UdpSocket`]; a receive with nothing
/// queued parks the calling goroutine (a plain thread blocks).
///
/// ```
/// use gort::net::UdpSocket;
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let to = b.local_addr().unwrap();
/// let got = gort::go!(move || {
///     let mut buf = [0u8; 16];
///     let (n, _) = b.recv_from(&mut buf).unwrap();
///     buf[..n].to_vec()
/// });
/// a.send_to(b"ping", to).unwrap();
/// assert_eq!(got.join().unwrap(), b"ping");
/// ```
pub struct UdpSocket {
    fd: NetFd<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that binds).
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = s.local_addr().unwrap();
    /// assert!(addr.ip().is_loopback() && addr.port() != 0);
    /// let err = UdpSocket::bind(addr).unwrap_err(); // taken
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        resolve::each_addr(addr, |a| {
            let sock = fd::socket(a, libc::SOCK_DGRAM)?;
            fd::bind(sock.as_raw_fd(), a)?;
            Ok(UdpSocket {
                fd: NetFd::new(std::net::UdpSocket::from(sock)),
            })
        })
    }

    /// Adopts a std socket (switching it to non-blocking mode).
    ///
    /// ```
    /// let std_s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = std_s.local_addr().unwrap();
    /// let s = gort::net::UdpSocket::from_std(std_s).unwrap();
    /// s.send_to(b"self", addr).unwrap();
    /// let mut buf = [0u8; 8];
    /// let (n, from) = s.recv_from(&mut buf).unwrap();
    /// assert_eq!((&buf[..n], from), (&b"self"[..], addr));
    /// ```
    pub fn from_std(s: std::net::UdpSocket) -> io::Result<UdpSocket> {
        s.set_nonblocking(true)?;
        Ok(UdpSocket { fd: NetFd::new(s) })
    }

    /// Receives one datagram and its sender's address.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.send_to(b"hello", b.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 16];
    /// let (n, from) = b.recv_from(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"hello");
    /// assert_eq!(from, a.local_addr().unwrap());
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Mode::Read, |s| s.recv_from(buf))
    }

    /// Like `recv_from`, leaving the datagram queued.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.send_to(b"peek", b.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 8];
    /// let (n, from) = b.peek_from(&mut buf).unwrap();
    /// assert_eq!((&buf[..n], from), (&b"peek"[..], a.local_addr().unwrap()));
    /// let mut again = [0u8; 8];
    /// assert_eq!(b.recv_from(&mut again).unwrap().0, n); // it was still queued
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.io(Mode::Read, |s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr` (its first address, as std).
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(a.send_to(b"four", b.local_addr().unwrap()).unwrap(), 4);
    /// let mut buf = [0u8; 8];
    /// assert_eq!(b.recv(&mut buf).unwrap(), 4);
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = resolve::resolve(addr)?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.fd.io(Mode::Write, |s| s.send_to(buf, to))
    }

    /// Sets the default destination and the only accepted source.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// a.send(b"hi").unwrap(); // to the connected address
    /// let mut buf = [0u8; 2];
    /// b.recv_from(&mut buf).unwrap();
    /// assert_eq!(&buf, b"hi");
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        resolve::each_addr(addr, |a| self.fd.sock().connect(a))
    }

    /// Sends to the connected address.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.send(b"abc").unwrap(), 3);
    /// let mut buf = [0u8; 8];
    /// let (n, from) = b.recv_from(&mut buf).unwrap();
    /// assert_eq!((&buf[..n], from), (&b"abc"[..], a.local_addr().unwrap()));
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| s.send(buf))
    }

    /// Receives from the connected address.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// b.send_to(b"pong", a.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = a.recv(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"pong");
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.recv(buf))
    }

    /// Like `recv`, leaving the datagram queued.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// b.send_to(b"look", a.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 8];
    /// let n = a.peek(&mut buf).unwrap();
    /// assert_eq!(&buf[..n], b"look");
    /// assert_eq!(a.recv(&mut buf).unwrap(), n); // still queued
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |s| s.peek(buf))
    }

    /// The connected address.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(a.peer_addr().is_err()); // not connected
    /// a.connect(b.local_addr().unwrap()).unwrap();
    /// assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().peer_addr()
    }

    /// The local address.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let addr = s.local_addr().unwrap();
    /// assert!(addr.ip().is_loopback());
    /// assert_ne!(addr.port(), 0); // the port the kernel chose
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same socket; timeouts are shared.
    ///
    /// ```
    /// use gort::net::UdpSocket;
    /// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let a2 = a.try_clone().unwrap();
    /// assert_eq!(a2.local_addr().unwrap(), a.local_addr().unwrap());
    /// b.send_to(b"x", a.local_addr().unwrap()).unwrap();
    /// let mut buf = [0u8; 1];
    /// assert_eq!(a2.recv(&mut buf).unwrap(), 1); // the same socket
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Receives fail with `WouldBlock` once they have waited `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    /// let err = s.recv(&mut [0u8; 4]).unwrap_err(); // nothing arrives
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(s.set_read_timeout(Some(Duration::ZERO)).is_err());
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }

    /// Sends fail with `WouldBlock` once they have waited `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_secs(1)));
    /// s.set_write_timeout(None).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Write, dur)
    }

    /// The read timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), None); // wait forever
    /// s.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
    /// assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(250)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Read))
    }

    /// The write timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), None);
    /// s.set_write_timeout(Some(Duration::from_millis(300))).unwrap();
    /// assert_eq!(s.write_timeout().unwrap(), Some(Duration::from_millis(300)));
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Write))
    }

    /// Sets `SO_BROADCAST`.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_broadcast(true).unwrap();
    /// assert!(s.broadcast().unwrap());
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd.sock().set_broadcast(on)
    }

    /// The `SO_BROADCAST` setting.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(!s.broadcast().unwrap()); // off by default
    /// s.set_broadcast(true).unwrap();
    /// assert!(s.broadcast().unwrap());
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.fd.sock().broadcast()
    }

    /// Sets `IP_TTL`.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_ttl(42).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 42);
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.sock().set_ttl(ttl)
    }

    /// The `IP_TTL` setting.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_ttl(9).unwrap();
    /// assert_eq!(s.ttl().unwrap(), 9);
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.sock().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// assert!(s.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, operations that would wait return `WouldBlock` instead.
    ///
    /// ```
    /// let s = gort::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// s.set_nonblocking(true).unwrap();
    /// let err = s.recv(&mut [0u8; 4]).unwrap_err(); // nothing queued
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl_as_fd!(UdpSocket);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(a) = self.local_addr() {
            d.field("addr", &a);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
