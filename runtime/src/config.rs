//! config — the runtime's knobs, read once at start with Go's names and
//! meanings (`GOMAXPROCS`, `GODEBUG`), plus gort's own (`GORT_STACK_SIZE`,
//! `GORT_TIMESLICE`).
//!
//! A bad value never stops the program: it gets a one-line warning on stderr
//! and the default, as Go's runtime does for GOMAXPROCS.

#![forbid(unsafe_code)]

use std::time::Duration;

use crate::stack::{check_stack_size, DEFAULT_STACK_SIZE};
use crate::sys::cpus;
use crate::throw::warn;

/// Go's `_MaxGomaxprocs`: more Ps than this is taken as a mistake.
///
/// ```
/// assert_eq!(gort::MAX_GOMAXPROCS, 1024);
/// assert!(gort::gomaxprocs() <= gort::debug::MAX_GOMAXPROCS);
/// ```
pub const MAX_GOMAXPROCS: usize = 1024;

/// Settings read from the environment at runtime start.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// Number of Ps.
    pub(crate) gomaxprocs: usize,
    /// Default goroutine stack size, bytes.
    pub(crate) stack_size: usize,
    /// How long a G may run before sysmon asks it to stop (Go's
    /// forcePreemptNS, 10 ms). `GORT_TIMESLICE`, e.g. `1ms`, `500us`.
    pub(crate) timeslice: Duration,
    /// `GODEBUG=asyncpreemptoff=1`: no signal preemption (Go's name).
    pub(crate) async_preempt_off: bool,
    /// GOMAXPROCS came from the environment: no automatic updates.
    pub(crate) gomaxprocs_custom: bool,
    /// `GODEBUG=updatemaxprocs=0` turns off sysmon's updates (Go 1.25).
    pub(crate) update_maxprocs: bool,
    /// `GODEBUG=containermaxprocs=0` ignores the cgroup CPU limit (Go 1.25).
    pub(crate) container_maxprocs: bool,
}

/// Go's forcePreemptNS.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gort::debug::DEFAULT_TIMESLICE, Duration::from_millis(10));
/// ```
pub const DEFAULT_TIMESLICE: Duration = Duration::from_millis(10);
/// The shortest time slice accepted (sysmon's finest tick is 20 µs).
const MIN_TIMESLICE: Duration = Duration::from_micros(100);

impl Config {
    /// Reads the environment, warning about (and replacing) bad values.
    pub(crate) fn from_env() -> Config {
        let godebug = std::env::var("GODEBUG").unwrap_or_default();
        let container_maxprocs = godebug_value(&godebug, "containermaxprocs") != Some("0");
        let default_procs = default_gomaxprocs(container_maxprocs);
        let (gomaxprocs, gomaxprocs_custom) = match std::env::var("GOMAXPROCS") {
            Ok(v) => match parse_gomaxprocs(&v) {
                Ok(n) => (n, true),
                Err(why) => {
                    warn(&format!(
                        "gort: ignoring GOMAXPROCS={v:?} ({why}); using {default_procs}"
                    ));
                    (default_procs, false)
                }
            },
            Err(_) => (default_procs, false),
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
        let timeslice = match std::env::var("GORT_TIMESLICE") {
            Ok(v) => match parse_duration(&v) {
                Ok(d) if d >= MIN_TIMESLICE => d,
                Ok(_) => {
                    warn(&format!(
                        "gort: ignoring GORT_TIMESLICE={v:?} (below {MIN_TIMESLICE:?}); using {DEFAULT_TIMESLICE:?}"
                    ));
                    DEFAULT_TIMESLICE
                }
                Err(why) => {
                    warn(&format!(
                        "gort: ignoring GORT_TIMESLICE={v:?} ({why}); using {DEFAULT_TIMESLICE:?}"
                    ));
                    DEFAULT_TIMESLICE
                }
            },
            Err(_) => DEFAULT_TIMESLICE,
        };
        Config {
            gomaxprocs,
            stack_size,
            timeslice,
            async_preempt_off: godebug_value(&godebug, "asyncpreemptoff") == Some("1"),
            gomaxprocs_custom,
            update_maxprocs: godebug_value(&godebug, "updatemaxprocs") != Some("0"),
            container_maxprocs,
        }
    }
}

/// Go's defaultGOMAXPROCS: the CPUs in the affinity mask, lowered to the
/// cgroup CPU limit rounded up unless `container` is false
/// (`GODEBUG=containermaxprocs=0`). Read at start, and again by sysmon
/// about once a second (sched/maxprocs.rs).
///
/// One difference from Go: Go raises a limit below 2 to 2; gort does not,
/// so a container limited to one CPU runs with one P. Go's floor protects a
/// GC that wants a second thread; gort has no collector, and a P held by a
/// goroutine stuck in a blocking call is handed off by sysmon, so one P is
/// enough.
pub(crate) fn default_gomaxprocs(container: bool) -> usize {
    let cpus = cpus::affinity_cpus();
    let limit = if container {
        cpus::cgroup_cpu_limit()
    } else {
        None
    };
    let procs = match limit {
        Some(l) => cpus.min((l.ceil() as usize).max(1)),
        None => cpus,
    };
    procs.clamp(1, MAX_GOMAXPROCS)
}

/// The value of `key` in a GODEBUG string (`k=v,k=v`; the last one wins, as
/// in Go).
pub(crate) fn godebug_value<'a>(godebug: &'a str, key: &str) -> Option<&'a str> {
    godebug
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
        .next_back()
}

/// Parses a duration: a number with a unit `ns`, `us`, `ms` or `s`.
pub(crate) fn parse_duration(v: &str) -> Result<Duration, String> {
    let t = v.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .ok_or_else(|| "missing a unit (ns, us, ms, s)".to_string())?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| "not a duration like 10ms".to_string())?;
    let secs = match unit {
        "ns" => n / 1e9,
        "us" | "µs" => n / 1e6,
        "ms" => n / 1e3,
        "s" => n,
        _ => return Err(format!("unknown unit {unit:?} (use ns, us, ms, s)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| "out of range".to_string())
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
    fn durations_and_godebug() {
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(
            godebug_value("a=1,asyncpreemptoff=1", "asyncpreemptoff"),
            Some("1")
        );
        assert_eq!(godebug_value("schedtrace=1000", "asyncpreemptoff"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("lots").is_err());
    }
}
