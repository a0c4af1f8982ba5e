//! unix — Unix-domain stream sockets, std::os::unix::net's shape:
//! `UnixListener` (bind, accept, incoming) and `UnixStream` (connect, pair,
//! Read/Write, shutdown, timeouts). The same waiting as TCP (io/fd.rs).
//! `connect` runs in `syscall::blocking`: a Unix connect completes at once
//! unless the listener's backlog is full, and then it should block only its
//! thread. Writes use `send(MSG_NOSIGNAL)` (std's use `write`, which can
//! raise SIGPIPE).

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::{self as unet, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::fd::{self, Mode, NetFd};

/// A Unix-domain socket server, like [`std::os::unix::net::UnixListener`].
///
/// ```
/// use std::io::{Read, Write};
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let l = gort::net::UnixListener::bind(&path).unwrap();
/// let p = path.clone();
/// gort::go!(move || {
///     let mut c = gort::net::UnixStream::connect(&p).unwrap();
///     c.write_all(b"hi").unwrap();
/// });
/// let (mut s, _) = l.accept().unwrap();
/// let mut got = String::new();
/// s.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    fd: NetFd<unet::UnixListener>,
}

impl UnixListener {
    /// Binds to the path `path` and listens.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ubind-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// assert!(gort::net::UnixListener::bind(&path).is_err()); // the path is taken
    /// drop(l);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        let l = unet::UnixListener::bind(path)?;
        l.set_nonblocking(true)?;
        Ok(UnixListener { fd: NetFd::new(l) })
    }

    /// Waits for the next connection.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let path = std::env::temp_dir().join(format!("gort-doc-uaccept-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// let mut c = gort::net::UnixStream::connect(&path).unwrap();
    /// let (mut s, _) = l.accept().unwrap();
    /// c.write_all(b"ok").unwrap();
    /// let mut buf = [0u8; 2];
    /// s.read_exact(&mut buf).unwrap();
    /// assert_eq!(&buf, b"ok");
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.fd.io(Mode::Read, |l| l.accept())?;
        s.set_nonblocking(true)?;
        Ok((UnixStream { fd: NetFd::new(s) }, a))
    }

    /// An endless iterator of accepted connections.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-uincoming-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// let _c1 = gort::net::UnixStream::connect(&path).unwrap();
    /// let _c2 = gort::net::UnixStream::connect(&path).unwrap();
    /// let accepted = l.incoming().take(2).filter(|s| s.is_ok()).count();
    /// assert_eq!(accepted, 2);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(move || self.accept().map(|(s, _)| s))
    }

    /// The local address.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ulladdr-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// assert_eq!(l.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// A new handle to the same listening socket.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ulclone-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// let l2 = l.try_clone().unwrap();
    /// let _c = gort::net::UnixStream::connect(&path).unwrap();
    /// assert!(l2.accept().is_ok()); // either handle accepts
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ulerr-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// assert!(l.take_error().unwrap().is_none());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, `accept` returns `WouldBlock` instead of waiting.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-ulnb-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// l.set_nonblocking(true).unwrap();
    /// let err = l.accept().unwrap_err(); // nobody is connecting
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// A Unix-domain stream, like [`std::os::unix::net::UnixStream`].
///
/// ```
/// use std::io::{Read, Write};
/// let (mut a, mut b) = gort::net::UnixStream::pair().unwrap();
/// let h = gort::go!(move || {
///     let mut buf = [0u8; 4];
///     b.read_exact(&mut buf).unwrap();
///     buf
/// });
/// a.write_all(b"ping").unwrap();
/// assert_eq!(&h.join().unwrap(), b"ping");
/// ```
pub struct UnixStream {
    fd: NetFd<unet::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-uconnect-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// let c = gort::net::UnixStream::connect(&path).unwrap();
    /// let (_s, _) = l.accept().unwrap();
    /// assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// assert!(gort::net::UnixStream::connect(path.with_extension("missing")).is_err());
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let s = crate::sched::syscall::blocking(|| unet::UnixStream::connect(path))?;
        s.set_nonblocking(true)?;
        Ok(UnixStream { fd: NetFd::new(s) })
    }

    /// A connected pair of unnamed sockets.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let (mut a, mut b) = gort::net::UnixStream::pair().unwrap();
    /// a.write_all(b"one").unwrap();
    /// b.write_all(b"two").unwrap();
    /// let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
    /// b.read_exact(&mut x).unwrap();
    /// a.read_exact(&mut y).unwrap();
    /// assert_eq!((&x, &y), (b"one", b"two"));
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = unet::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            UnixStream { fd: NetFd::new(a) },
            UnixStream { fd: NetFd::new(b) },
        ))
    }

    /// The local address.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("gort-doc-uladdr-{}.sock", std::process::id()));
    /// let _ = std::fs::remove_file(&path);
    ///
    /// let l = gort::net::UnixListener::bind(&path).unwrap();
    /// let c = gort::net::UnixStream::connect(&path).unwrap();
    /// let (s, _) = l.accept().unwrap();
    /// assert_eq!(s.local_addr().unwrap().as_pathname(), Some(path.as_path()));
    /// assert!(c.local_addr().unwrap().is_unnamed()); // the client did not bind
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().local_addr()
    }

    /// The peer's address.
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert!(a.peer_addr().unwrap().is_unnamed()); // a pair has no paths
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.sock().peer_addr()
    }

    /// Shuts down the read half, the write half or both.
    ///
    /// ```
    /// use std::io::Read;
    /// use gort::net::Shutdown;
    /// let (a, mut b) = gort::net::UnixStream::pair().unwrap();
    /// a.shutdown(Shutdown::Write).unwrap();
    /// let mut rest = Vec::new();
    /// assert_eq!(b.read_to_end(&mut rest).unwrap(), 0); // end of file at once
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.sock().shutdown(how)
    }

    /// A new handle to the same connection; timeouts are shared.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// let (mut a, b) = gort::net::UnixStream::pair().unwrap();
    /// let mut b2 = b.try_clone().unwrap();
    /// a.write_all(b"z").unwrap();
    /// let mut one = [0u8; 1];
    /// b2.read_exact(&mut one).unwrap();
    /// assert_eq!(&one, b"z");
    /// b.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    /// assert_eq!(b2.read_timeout().unwrap(), Some(Duration::from_secs(3))); // shared
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            fd: self.fd.cloned(self.fd.sock().try_clone()?),
        })
    }

    /// Reads fail with `WouldBlock` once they have waited `dur`.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    /// let (_a, mut b) = gort::net::UnixStream::pair().unwrap();
    /// b.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    /// let err = b.read(&mut [0u8; 1]).unwrap_err(); // _a sends nothing
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// assert!(b.set_read_timeout(Some(Duration::ZERO)).is_err());
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Read, dur)
    }

    /// Writes fail with `WouldBlock` once they have waited `dur`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// a.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(2)));
    /// a.set_write_timeout(None).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.fd.set_timeout(Mode::Write, dur)
    }

    /// The read timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), None); // wait forever
    /// a.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
    /// assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_millis(250)));
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Read))
    }

    /// The write timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), None);
    /// a.set_write_timeout(Some(Duration::from_millis(300))).unwrap();
    /// assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_millis(300)));
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.timeout(Mode::Write))
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// ```
    /// let (a, _b) = gort::net::UnixStream::pair().unwrap();
    /// assert!(a.take_error().unwrap().is_none());
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.sock().take_error()
    }

    /// With `true`, operations that would wait return `WouldBlock` instead.
    ///
    /// ```
    /// use std::io::Read;
    /// let (_a, mut b) = gort::net::UnixStream::pair().unwrap();
    /// b.set_nonblocking(true).unwrap();
    /// let err = b.read(&mut [0u8; 8]).unwrap_err(); // nothing sent yet
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.io(Mode::Read, |mut s| s.read(buf))
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.io(Mode::Write, |s| fd::send(s.as_raw_fd(), buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl_as_fd!(UnixListener, UnixStream);

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
