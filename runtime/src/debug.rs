//! debug — the runtime's knobs, read once at start with Go's names and
//! meanings (`GOMAXPROCS`, `GODEBUG`), plus gort's own (`GORT_STACK_SIZE`), and
//! `throw`, the non-allocating fatal error for broken runtime invariants.
//!
//! A bad value never stops the program: it gets a one-line warning on stderr
//! and the default, as Go's runtime does for GOMAXPROCS.

#![forbid(unsafe_code)]

use std::io::Write;

use crate::stack::{check_stack_size, DEFAULT_STACK_SIZE};

/// Go's `_MaxGomaxprocs`: more Ps than this is taken as a mistake.
pub const MAX_GOMAXPROCS: usize = 1024;

/// Settings read from the environment at runtime start.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Number of Ps.
    pub(crate) gomaxprocs: usize,
    /// Default goroutine stack size, bytes.
    pub(crate) stack_size: usize,
}

impl Config {
    /// Reads the environment, warning about (and replacing) bad values.
    pub(crate) fn from_env() -> Config {
        let default_procs = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_GOMAXPROCS);
        let gomaxprocs = match std::env::var("GOMAXPROCS") {
            Ok(v) => match parse_gomaxprocs(&v) {
                Ok(n) => n,
                Err(why) => {
                    warn(&format!(
                        "gort: ignoring GOMAXPROCS={v:?} ({why}); using {default_procs}"
                    ));
                    default_procs
                }
            },
            Err(_) => default_procs,
        };
        let stack_size = match std::env::var("GORT_STACK_SIZE") {
            Ok(v) => {
                match parse_size(&v).and_then(|n| check_stack_size(n).map_err(|e| e.to_string())) {
                    Ok(n) => n,
                    Err(why) => {
                        warn(&format!(
                        "gort: ignoring GORT_STACK_SIZE={v:?} ({why}); using {DEFAULT_STACK_SIZE}"
                    ));
                        DEFAULT_STACK_SIZE
                    }
                }
            }
            Err(_) => DEFAULT_STACK_SIZE,
        };
        Config {
            gomaxprocs,
            stack_size,
        }
    }
}

/// Parses a GOMAXPROCS value: a whole number in 1..=MAX_GOMAXPROCS.
pub(crate) fn parse_gomaxprocs(v: &str) -> Result<usize, String> {
    let n: i64 = v.trim().parse().map_err(|_| "not a number".to_string())?;
    if n < 1 {
        return Err("must be at least 1".into());
    }
    if n as u64 > MAX_GOMAXPROCS as u64 {
        return Err(format!("above the maximum of {MAX_GOMAXPROCS}"));
    }
    Ok(n as usize)
}

/// Parses a size with an optional k/K, m/M, g/G suffix (powers of 1024).
pub(crate) fn parse_size(v: &str) -> Result<usize, String> {
    let t = v.trim();
    let (digits, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1usize << 10),
        Some((i, 'm' | 'M')) => (&t[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&t[..i], 1 << 30),
        _ => (t, 1),
    };
    let n: usize = digits
        .trim()
        .parse()
        .map_err(|_| "not a size (bytes, or with a K/M/G suffix)".to_string())?;
    n.checked_mul(mult).ok_or_else(|| "too large".to_string())
}

/// Writes one warning line to stderr, ignoring write errors.
pub(crate) fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// A broken runtime invariant: write the message without allocating, abort.
/// Go's `throw`. Never returns and never unwinds through scheduler frames.
pub(crate) fn throw(msg: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(b"fatal error: ");
    let _ = err.write_all(msg.as_bytes());
    let _ = err.write_all(b"\n");
    drop(err);
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gomaxprocs_values() {
        assert_eq!(parse_gomaxprocs("4"), Ok(4));
        assert_eq!(parse_gomaxprocs(" 1 "), Ok(1));
        assert!(parse_gomaxprocs("0").is_err());
        assert!(parse_gomaxprocs("-3").is_err());
        assert!(parse_gomaxprocs("abc").is_err());
        assert!(parse_gomaxprocs("100000").is_err());
        assert!(parse_gomaxprocs("99999999999999999999999").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
    }
}
