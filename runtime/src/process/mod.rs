//! process — Go's os/exec for goroutines: [`Command`] is shaped like
//! `std::process::Command` (the same builder methods), and the [`Child`] it
//! spawns waits by parking the goroutine (process/child.rs): a pidfd in the
//! netpoller, no thread per child. Its stdin, stdout and stderr are gort
//! pipes that park too, so a goroutine per child can stream its output.
//!
//! ```
//! use gort::process::Command;
//!
//! let out = Command::new("sh").args(["-c", "echo hello; echo oops >&2; exit 2"]).output().unwrap();
//! assert_eq!(out.stdout, b"hello\n");
//! assert_eq!(out.stderr, b"oops\n");
//! assert_eq!(out.status.code(), Some(2));
//! ```
//!
//! Spawning calls std's spawn directly, not as an announced blocking call:
//! it returns in well under a millisecond (posix_spawn / vfork), and
//! announcing every spawn would let sysmon hand the P to a new thread each
//! time one is slow, growing threads with a burst of spawns.

#![forbid(unsafe_code)]

mod child;

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read};
use std::path::Path;
pub use std::process::{ExitStatus, Output, Stdio};

pub use child::{Child, ChildStderr, ChildStdin, ChildStdout};

/// A process to run, as [`std::process::Command`] (whose builder methods
/// it has, under the same names), spawning a [`Child`] that goroutines can
/// wait on without holding a thread (Go's `exec.Cmd`).
///
/// ```
/// use gort::process::Command;
/// let status = Command::new("sh").arg("-c").arg("exit 0").status().unwrap();
/// assert!(status.success());
/// ```
pub struct Command {
    std: std::process::Command,
    /// Which stdio the caller chose, so `output` keeps std's defaults for
    /// the others.
    set: [bool; 3],
}

/// Builder methods passed straight to std's.
macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(where $($g:ident: $b:path),+)?;)+) => {$(
        $(#[$doc])*
        pub fn $name$(<$($g: $b),+>)?(&mut self, $($arg: $ty),*) -> &mut Command {
            self.std.$name($($arg),*);
            self
        }
    )+};
}

impl Command {
    /// A command for the program `program` (looked up in PATH when it has
    /// no slash), inheriting the environment and working directory.
    ///
    /// ```
    /// let c = gort::process::Command::new("ls");
    /// assert_eq!(c.get_program(), "ls");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            std: std::process::Command::new(program),
            set: [false; 3],
        }
    }

    forward! {
        /// Adds an argument.
        fn arg(arg: S) where S: AsRef<OsStr>;
        /// Sets an environment variable for the child.
        fn env(key: K, val: V) where K: AsRef<OsStr>, V: AsRef<OsStr>;
        /// Removes an environment variable for the child.
        fn env_remove(key: K) where K: AsRef<OsStr>;
        /// Sets the child's working directory.
        fn current_dir(dir: P) where P: AsRef<Path>;
    }

    /// Adds arguments.
    ///
    /// ```
    /// let mut c = gort::process::Command::new("echo");
    /// c.args(["a", "b"]);
    /// assert_eq!(c.get_args().count(), 2);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Starts the child with an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// The child's stdin (`Stdio::piped()` gives [`Child::stdin`]).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.set[0] = true;
        self.std.stdin(cfg);
        self
    }

    /// The child's stdout (`Stdio::piped()` gives [`Child::stdout`]).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.set[1] = true;
        self.std.stdout(cfg);
        self
    }

    /// The child's stderr (`Stdio::piped()` gives [`Child::stderr`]).
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.set[2] = true;
        self.std.stderr(cfg);
        self
    }

    /// Puts the child in process group `pgroup` (0: a new group of its
    /// own, Go's `SysProcAttr.Setpgid`), so a terminal's Ctrl-C reaches
    /// only the parent, and a signal to the group reaches the child's own
    /// children too (std's `CommandExt::process_group`).
    ///
    /// ```
    /// let st = gort::process::Command::new("true").process_group(0).status().unwrap();
    /// assert!(st.success());
    /// ```
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(&mut self.std, pgroup);
        self
    }

    /// The program's name as given.
    pub fn get_program(&self) -> &OsStr {
        self.std.get_program()
    }

    /// The arguments given.
    pub fn get_args(&self) -> std::process::CommandArgs<'_> {
        self.std.get_args()
    }

    /// The std command inside, for what this type does not forward
    /// (`std::os::unix::process::CommandExt`: uid, process_group, pre_exec…).
    ///
    /// ```
    /// use std::os::unix::process::CommandExt;
    /// let mut c = gort::process::Command::new("true");
    /// c.as_std_mut().process_group(0);
    /// assert!(c.status().unwrap().success());
    /// ```
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// Starts the child (stdio inherited unless set).
    ///
    /// ```
    /// use std::io::Read;
    /// use gort::process::{Command, Stdio};
    /// let mut c = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
    /// let mut s = String::new();
    /// c.stdout.take().unwrap().read_to_string(&mut s).unwrap();
    /// assert_eq!(s, "hi\n");
    /// assert!(c.wait().unwrap().success());
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        Child::from_std(self.std.spawn()?)
    }

    /// Runs the child to its end and returns its status (stdio inherited
    /// unless set).
    ///
    /// ```
    /// let st = gort::process::Command::new("false").status().unwrap();
    /// assert_eq!(st.code(), Some(1));
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }

    /// Runs the child to its end, collecting its stdout and stderr (piped
    /// unless set; stdin is null unless set, as std's `output`). Both are
    /// read at once, stderr by a goroutine of its own, so a child that
    /// fills one pipe while the other is read does not deadlock.
    ///
    /// ```
    /// let out = gort::process::Command::new("echo").arg("hi").output().unwrap();
    /// assert_eq!(out.stdout, b"hi\n");
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        let defaults = [Stdio::null, Stdio::piped, Stdio::piped];
        for (i, make) in defaults.into_iter().enumerate() {
            if !self.set[i] {
                match i {
                    0 => self.std.stdin(make()),
                    1 => self.std.stdout(make()),
                    _ => self.std.stderr(make()),
                };
            }
        }
        let mut child = self.spawn()?;
        let err_reader = child
            .stderr
            .take()
            .map(|e| crate::goroutine::spawn(move || read_all(e)));
        let stdout = child
            .stdout
            .take()
            .map(read_all)
            .transpose()?
            .unwrap_or_default();
        let stderr = match err_reader {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => Vec::new(),
        };
        let status = child.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Everything `r` yields until end of file.
fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

impl From<std::process::Command> for Command {
    /// Wraps a std command (stdio choices made on it are kept by `spawn`
    /// and `status`; `output` treats them as unset).
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            set: [false; 3],
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.std, f)
    }
}
