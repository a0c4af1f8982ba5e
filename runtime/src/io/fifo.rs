//! fifo — a `gort::fs::File` that is a FIFO (named pipe) or a pipe waits
//! like a socket: the file is switched to non-blocking and its reads and
//! writes park the goroutine in the netpoller (io/fd.rs) until the other
//! end moves, where a regular file's go through a blocking call. Go's
//! os.File does the same (`kind == kindNonBlock` for pipes and FIFOs).
//!
//! The NetFd holds a duplicate of the file's descriptor (one open file
//! description, so the non-blocking flag is shared); giving the file back
//! as a std file turns blocking mode on again.

#![forbid(unsafe_code)]

use std::fmt;
use std::os::fd::AsFd;

use super::fd::NetFd;
use crate::sys;

/// The parking side of a FIFO file.
pub(crate) struct Fifo {
    fd: NetFd<std::fs::File>,
}

impl Fifo {
    /// Some if `f` is a pipe or FIFO (and could be made non-blocking).
    pub(crate) fn detect(f: &std::fs::File) -> Option<Fifo> {
        if !sys::is_fifo(f.as_fd()) {
            return None;
        }
        let dup = f.try_clone().ok()?;
        sys::set_nonblocking(dup.as_fd(), true).ok()?;
        Some(Fifo {
            fd: NetFd::new(dup),
        })
    }

    /// Back to blocking mode, for a std file that leaves gort.
    pub(crate) fn release(self) {
        let _ = sys::set_nonblocking(self.fd.sock().as_fd(), false);
    }
}

impl_parking_read!(Fifo);
impl_parking_write!(Fifo);

impl fmt::Debug for Fifo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fifo")
    }
}
