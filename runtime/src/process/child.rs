//! child — [`Child`], a running child process whose `wait` parks the
//! goroutine: a pidfd (pidfd_open(2), Linux 5.3+) polls readable when the
//! process exits, so the wait sits in the netpoller like a socket read,
//! and `try_wait` (waitpid with WNOHANG) then reaps it. Where pidfds are
//! missing the wait is a blocking call (`gort::syscall::blocking`): only
//! the waiting goroutine's thread waits. Its pipes are gort pipes
//! (io/pipe.rs).
//!
//! Zombies are always reaped: a `Child` dropped before its exit was
//! collected leaves a goroutine behind that waits for it, parked in the
//! netpoller, and reaps it (Go leaves that to the program).

#![forbid(unsafe_code)]

use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::context::Context;
use crate::io::fd::{Mode, NetFd};
use crate::io::{PipeReader, PipeWriter};

/// The child's stdin: a gort pipe end (writes park).
pub type ChildStdin = PipeWriter;
/// The child's stdout: a gort pipe end (reads park).
pub type ChildStdout = PipeReader;
/// The child's stderr: a gort pipe end (reads park).
pub type ChildStderr = PipeReader;

/// A child process, as [`std::process::Child`]: its pipes are public
/// fields, [`wait`](Child::wait) collects its exit status.
///
/// ```
/// use gort::process::Command;
/// let mut child = Command::new("true").spawn().unwrap();
/// assert!(child.wait().unwrap().success());
/// ```
pub struct Child {
    /// Some until `Drop` hands it to a reaper.
    inner: Option<std::process::Child>,
    /// Readable once the process exited; None where pidfds are missing.
    pidfd: Option<NetFd<OwnedFd>>,
    /// The exit status once collected.
    status: Option<ExitStatus>,
    /// Its stdin, if piped.
    pub stdin: Option<ChildStdin>,
    /// Its stdout, if piped.
    pub stdout: Option<ChildStdout>,
    /// Its stderr, if piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Takes over a std child: its pipes become gort pipes, and a pidfd is
    /// opened for it.
    pub(crate) fn from_std(mut inner: std::process::Child) -> io::Result<Child> {
        let stdin = inner
            .stdin
            .take()
            .map(|p| PipeWriter::from_owned(OwnedFd::from(p)));
        let stdout = inner
            .stdout
            .take()
            .map(|p| PipeReader::from_owned(OwnedFd::from(p)));
        let stderr = inner
            .stderr
            .take()
            .map(|p| PipeReader::from_owned(OwnedFd::from(p)));
        let pidfd = crate::sys::pidfd_open(inner.id()).ok().map(NetFd::new);
        Ok(Child {
            inner: Some(inner),
            pidfd,
            status: None,
            stdin: stdin.transpose()?,
            stdout: stdout.transpose()?,
            stderr: stderr.transpose()?,
        })
    }

    /// The OS process id.
    ///
    /// ```
    /// let mut c = gort::process::Command::new("true").spawn().unwrap();
    /// assert!(c.id() > 0);
    /// c.wait().unwrap();
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.as_ref().map_or(0, std::process::Child::id)
    }

    fn proc(&mut self) -> &mut std::process::Child {
        self.inner
            .as_mut()
            .expect("Child: the process is there until drop")
    }

    /// Sends SIGKILL (std's `kill`; Go's `Process.Kill`). An exited child is
    /// fine (Ok), as in std.
    ///
    /// ```
    /// let mut c = gort::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// c.kill().unwrap();
    /// assert!(!c.wait().unwrap().success());
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.proc().kill()
    }

    /// Waits for the child to exit and returns its status, closing its
    /// stdin first (as std does). The goroutine parks; a plain thread
    /// blocks.
    ///
    /// ```
    /// let mut c = gort::process::Command::new("sh").args(["-c", "exit 3"]).spawn().unwrap();
    /// assert_eq!(c.wait().unwrap().code(), Some(3));
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        Ok(self
            .wait_until(None)?
            .expect("a wait without a deadline ends with a status"))
    }

    /// Waits at most `d`: the status if the child exited, None if it is
    /// still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut c = gort::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// assert!(c.wait_timeout(Duration::from_millis(10)).unwrap().is_none());
    /// c.kill().unwrap();
    /// assert!(c.wait_timeout(Duration::from_secs(60)).unwrap().is_some());
    /// ```
    pub fn wait_timeout(&mut self, d: Duration) -> io::Result<Option<ExitStatus>> {
        self.wait_until(Some(crate::time::real_deadline_after(d)))
    }

    /// Waits for the child to exit; if `ctx` is done first, kills it
    /// (SIGKILL, as Go's `exec.CommandContext`) and reaps it. Returns the
    /// exit status either way: `ctx.err()` tells whether it was cut short.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (ctx, _cancel) = gort::context::background().with_timeout(Duration::from_millis(10));
    /// let mut c = gort::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// let st = c.wait_context(&ctx).unwrap();
    /// assert!(!st.success() && ctx.err().is_some());
    /// ```
    pub fn wait_context(&mut self, ctx: &Context) -> io::Result<ExitStatus> {
        let killer = self.killer()?;
        let stop = crate::context::after_func(ctx, killer);
        let r = self.wait();
        stop.stop();
        r
    }

    /// Something that sends SIGKILL to this child from any goroutine,
    /// through a duplicate of its pidfd (or, without one, by pid while it
    /// is not yet reaped).
    fn killer(&self) -> io::Result<impl Fn() + Send + Sync + 'static> {
        let pidfd = match &self.pidfd {
            Some(fd) => Some(fd.sock().try_clone()?),
            None => None,
        };
        let pid = self.id();
        Ok(move || match &pidfd {
            Some(fd) => {
                let _ = crate::sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
            }
            None => {
                if let Ok(pid) = i32::try_from(pid) {
                    let pid = nix::unistd::Pid::from_raw(pid);
                    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                }
            }
        })
    }

    /// The status if the child has exited (reaping it), else None; never
    /// waits.
    ///
    /// ```
    /// let mut c = gort::process::Command::new("sleep").arg("60").spawn().unwrap();
    /// assert!(c.try_wait().unwrap().is_none());
    /// c.kill().unwrap();
    /// c.wait().unwrap();
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.proc().try_wait()?;
        }
        Ok(self.status)
    }

    /// Waits until the child exits or `deadline` passes (None at the
    /// deadline).
    fn wait_until(&mut self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        drop(self.stdin.take());
        if let Some(st) = self.status {
            return Ok(Some(st));
        }
        let Child { inner, pidfd, .. } = self;
        let inner = inner
            .as_mut()
            .expect("Child: the process is there until drop");
        let r = match pidfd {
            Some(fd) => fd.io_until(Mode::Read, deadline, |_| {
                inner.try_wait()?.ok_or(io::ErrorKind::WouldBlock.into())
            }),
            None => wait_without_pidfd(inner, deadline),
        };
        match r {
            Ok(st) => {
                self.status = Some(st);
                Ok(Some(st))
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Where pidfds are missing: a blocking wait (announced, so only this
/// goroutine's thread waits), or with a deadline a poll every millisecond.
fn wait_without_pidfd(
    inner: &mut std::process::Child,
    deadline: Option<Instant>,
) -> io::Result<ExitStatus> {
    let Some(deadline) = deadline else {
        return crate::syscall::blocking(|| inner.wait());
    };
    loop {
        if let Some(st) = inner.try_wait()? {
            return Ok(st);
        }
        if Instant::now() >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        crate::time::sleep(Duration::from_millis(1));
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() || !matches!(self.try_wait(), Ok(None)) {
            return;
        }
        // Still running: a goroutine waits for it and reaps it.
        let (inner, pidfd) = (self.inner.take(), self.pidfd.take());
        crate::goroutine::Builder::new()
            .name("gort-reaper")
            // Outside any virtual-time bubble: its wait is real.
            .spawn_in(None, move || {
                let mut c = Child {
                    inner,
                    pidfd,
                    status: None,
                    stdin: None,
                    stdout: None,
                    stderr: None,
                };
                let _ = c.wait();
            })
            .ok();
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}
