//! trace_clock — the trace's timestamps. Events are stamped with the CPU's
//! tick counter (Go's cputicks: `rdtsc`, or aarch64's virtual counter),
//! which costs a third of a `clock_gettime`, where the CPU promises it
//! runs at a constant rate through sleep states (x86_64's `constant_tsc`
//! and `nonstop_tsc`; aarch64's counter always does); elsewhere with the
//! monotonic clock. Ticks become nanoseconds only when events are written
//! ([`Converter`]), from the rate measured between the clock's origin and
//! that moment, as Go's trace does with its frequency estimate.

#![forbid(unsafe_code)]

use std::sync::OnceLock;
use std::time::Instant;

/// The origin of both clocks: an instant and the ticks read right after.
struct Origin {
    at: Instant,
    ticks: u64,
    /// Ticks are steady (see the header); else they are nanoseconds.
    steady: bool,
}

static ORIGIN: OnceLock<Origin> = OnceLock::new();

fn origin() -> &'static Origin {
    ORIGIN.get_or_init(|| {
        let steady = ticks_are_steady();
        Origin {
            at: Instant::now(),
            ticks: if steady { crate::sys::cputicks() } else { 0 },
            steady,
        }
    })
}

/// True where the tick counter runs at a constant rate in every state.
fn ticks_are_steady() -> bool {
    if cfg!(target_arch = "aarch64") {
        return true;
    }
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return false;
    };
    let flags = info
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default();
    let has = |f: &str| flags.split_whitespace().any(|w| w == f);
    has("constant_tsc") && has("nonstop_tsc")
}

/// Nanoseconds since the origin.
pub(super) fn now_ns() -> u64 {
    origin().at.elapsed().as_nanos() as u64
}

/// A timestamp for an event: ticks (or nanoseconds, see the header).
#[inline]
pub(super) fn ticks() -> u64 {
    let o = origin();
    if o.steady {
        crate::sys::cputicks()
    } else {
        now_ns()
    }
}

/// Turns event timestamps into nanoseconds since the origin, with the
/// rate measured from the origin to the converter's making.
#[derive(Clone, Copy, Debug)]
pub(super) struct Converter {
    t0: u64,
    /// Nanoseconds per tick; None when timestamps are nanoseconds already.
    ns_per_tick: Option<f64>,
}

impl Converter {
    /// A converter measured now.
    pub(super) fn now() -> Converter {
        let o = origin();
        if !o.steady {
            return Converter {
                t0: 0,
                ns_per_tick: None,
            };
        }
        let ns = o.at.elapsed().as_nanos() as f64;
        let ticks = crate::sys::cputicks().wrapping_sub(o.ticks);
        Converter {
            t0: o.ticks,
            // Until the first tick has passed there is nothing to convert.
            ns_per_tick: Some(if ticks == 0 { 1.0 } else { ns / ticks as f64 }),
        }
    }

    /// `t` (from [`ticks`]) in nanoseconds since the origin.
    pub(super) fn ns(&self, t: u64) -> u64 {
        match self.ns_per_tick {
            None => t,
            Some(r) => (t.saturating_sub(self.t0) as f64 * r) as u64,
        }
    }

    /// A span of `ns` nanoseconds in ticks.
    pub(super) fn ticks_in(&self, ns: u64) -> u64 {
        match self.ns_per_tick {
            None => ns,
            Some(r) => (ns as f64 / r) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_to_the_monotonic_clock() {
        // The ticks' span lies inside the clock's (read outside them) and
        // covers the sleep; the rate's own error is allowed a quarter.
        let a_ns = now_ns();
        let a = ticks();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = ticks();
        let b_ns = now_ns();
        let c = Converter::now();
        let span = c.ns(b) - c.ns(a);
        assert!(span >= 15_000_000, "a 20 ms sleep converted to {span} ns");
        assert!(
            span <= (b_ns - a_ns) * 5 / 4,
            "{span} ns > the clock's {} ns",
            b_ns - a_ns
        );
        assert!(c.ticks_in(1_000_000) > 0);
    }
}
