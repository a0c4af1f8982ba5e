//! io — goroutines waiting on the outside world without holding a thread.
//! For users: [`pipe`] (Go's `os.Pipe`) and [`copy`] (`io.Copy`, with
//! splice(2) where a pipe is involved); sockets are in `gort::net`, files in
//! `gort::fs` (also reachable here as [`net`] and [`fs`]).
//!
//! Underneath: the netpoller (io/netpoll.rs, Go's netpoll_epoll.go) parks a
//! goroutine on a descriptor until epoll says it is ready; the sockets
//! (fd.rs, the one file of raw socket calls, under tcp_listener.rs,
//! tcp_stream.rs, udp_socket.rs, unix.rs) and the pipes (pipe.rs) wait
//! there; files (io/fs.rs) go through a blocking call instead, since epoll
//! cannot wait on a regular file.

// No `forbid(unsafe_code)` here: it would cover fd.rs, the one file of this
// folder that makes raw socket calls. The others forbid it themselves.

/// `AsRawFd` and `AsFd` for socket types whose `fd` field is a
/// [`fd::NetFd`]: the descriptor of the std socket inside. Defined before
/// the `mod` lines so that every socket file can use it.
macro_rules! impl_as_fd {
    ($($t:ty),+ $(,)?) => {$(
        impl ::std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> ::std::os::fd::RawFd {
                ::std::os::fd::AsRawFd::as_raw_fd(self.fd.sock())
            }
        }

        impl ::std::os::fd::AsFd for $t {
            fn as_fd(&self) -> ::std::os::fd::BorrowedFd<'_> {
                ::std::os::fd::AsFd::as_fd(self.fd.sock())
            }
        }
    )+};
}

/// `Read` for `&T` and `T`, where `T`'s `fd` field is a [`fd::NetFd`] over
/// something `&S: Read`: each call is tried and, on `EAGAIN`, parks until
/// the fd is readable (io/fd.rs). Sockets, pipes and FIFOs share it.
macro_rules! impl_parking_read {
    ($($t:ty),+ $(,)?) => {$(
        impl ::std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                self.fd.io($crate::io::fd::Mode::Read, |mut s| ::std::io::Read::read(&mut s, buf))
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                self.fd.io($crate::io::fd::Mode::Read, |mut s| {
                    ::std::io::Read::read_vectored(&mut s, bufs)
                })
            }
        }

        impl ::std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> ::std::io::Result<usize> {
                ::std::io::Read::read(&mut &*self, buf)
            }

            fn read_vectored(
                &mut self,
                bufs: &mut [::std::io::IoSliceMut<'_>],
            ) -> ::std::io::Result<usize> {
                ::std::io::Read::read_vectored(&mut &*self, bufs)
            }
        }
    )+};
}

/// `Write` for `&T` and `T`, as [`impl_parking_read`] (parks while the fd
/// is not writable); `flush` does nothing (no user-space buffer).
macro_rules! impl_parking_write {
    ($($t:ty),+ $(,)?) => {$(
        impl ::std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                self.fd.io($crate::io::fd::Mode::Write, |mut s| ::std::io::Write::write(&mut s, buf))
            }

            fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
                self.fd.io($crate::io::fd::Mode::Write, |mut s| {
                    ::std::io::Write::write_vectored(&mut s, bufs)
                })
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }

        impl ::std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> ::std::io::Result<usize> {
                ::std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[::std::io::IoSlice<'_>]) -> ::std::io::Result<usize> {
                ::std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> ::std::io::Result<()> {
                Ok(())
            }
        }
    )+};
}

mod copy;
pub(crate) mod fd;
mod fifo;
pub mod fs;
pub mod net;
pub(crate) mod netpoll;
mod pipe;
pub(crate) mod resolve;
mod tcp_listener;
mod tcp_stream;
mod udp_socket;
mod unix;

pub use copy::copy;
pub use pipe::{pipe, PipeReader, PipeWriter};
