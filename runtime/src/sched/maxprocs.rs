//! maxprocs — the default GOMAXPROCS and its updates while the program
//! runs, Go 1.25's rules (runtime/cgroup_linux.go, proc.go
//! sysmonUpdateGOMAXPROCS): the default is the smaller of the CPUs in the
//! affinity mask and the cgroup CPU limit rounded up (cgroup v2 `cpu.max`,
//! v1 `cpu.cfs_quota_us / cpu.cfs_period_us`, the most limiting of the
//! process's cgroup and its ancestors). sysmon recomputes it about once a
//! second and applies a change.
//!
//! As in Go: a `GOMAXPROCS` environment variable or a `set_gomaxprocs(n)`
//! call makes the value custom and stops the updates;
//! `set_default_gomaxprocs()` goes back to automatic; `GODEBUG=
//! updatemaxprocs=0` turns the updates off and `containermaxprocs=0` the
//! cgroup limit.
//!
//! # One difference from Go
//! Go rounds a limit below 2 up to 2; gort does not: a container limited
//! to one CPU runs with one P. Go's floor protects a GC that wants a
//! second thread; gort has no collector, and a P held by a goroutine stuck
//! in a blocking call is handed off by sysmon, so one P is enough.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::{Config, MAX_GOMAXPROCS};

/// How often sysmon recomputes the default (Go: 1 s).
const UPDATE_EVERY: Duration = Duration::from_secs(1);

/// The value was chosen by the program (environment or `set_gomaxprocs`):
/// no automatic updates. Relaxed: a flag with no data behind it.
static CUSTOM: AtomicBool = AtomicBool::new(false);

/// Records whether the starting value was custom.
pub(crate) fn init(cfg: &Config) {
    CUSTOM.store(cfg.gomaxprocs_custom, Ordering::Relaxed);
}

/// Marks the value as chosen by the program (a `set_gomaxprocs(n)` call).
pub(crate) fn set_custom(custom: bool) {
    CUSTOM.store(custom, Ordering::Relaxed);
}

/// Go's defaultGOMAXPROCS: CPUs in the affinity mask, lowered to the
/// cgroup limit rounded up unless `containermaxprocs=0`.
pub(crate) fn default_gomaxprocs(container: bool) -> usize {
    let cpus = affinity_cpus();
    let limit = if container { cgroup_cpu_limit() } else { None };
    let procs = match limit {
        Some(l) => cpus.min((l.ceil() as usize).max(1)),
        None => cpus,
    };
    procs.clamp(1, MAX_GOMAXPROCS)
}

/// CPUs this process may run on.
fn affinity_cpus() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => 1,
    }
}

/// sysmon's check (Go's sysmonUpdateGOMAXPROCS): at most once per
/// UPDATE_EVERY, apply a changed default unless the value is custom.
pub(crate) fn sysmon_update(cfg: &Config, last: &mut Instant, now: Instant) {
    if !cfg.update_maxprocs || now.duration_since(*last) < UPDATE_EVERY {
        return;
    }
    *last = now;
    if CUSTOM.load(Ordering::Relaxed) {
        return;
    }
    let want = default_gomaxprocs(cfg.container_maxprocs);
    if want != super::sched().gomaxprocs() {
        super::set_gomaxprocs(want);
    }
}

/// The CPU limit of this process's cgroup (quota / period, the smallest
/// along its ancestors), None if unlimited or unknown.
pub(crate) fn cgroup_cpu_limit() -> Option<f64> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (dir, mount, v1) = locate(&cgroups, &mountinfo)?;
    let mut best: Option<f64> = None;
    let mut at = Some(dir.as_path());
    while let Some(d) = at.filter(|d| d.starts_with(&mount)) {
        let l = if v1 { read_v1(d) } else { read_v2(d) };
        best = match (best, l) {
            (Some(b), Some(l)) => Some(b.min(l)),
            (b, l) => b.or(l),
        };
        at = d.parent();
    }
    best
}

/// The directory of this process's CPU cgroup, its controller's mount
/// point, and whether it is cgroup v1. A v1 `cpu` controller wins over v2
/// (hybrid hierarchies).
fn locate(cgroups: &str, mountinfo: &str) -> Option<(PathBuf, PathBuf, bool)> {
    let v1 = cgroups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        ctrls.split(',').any(|c| c == "cpu").then_some(path)
    });
    let (path, is_v1) = match v1 {
        Some(p) => (p, true),
        None => (cgroups.lines().find_map(|l| l.strip_prefix("0::"))?, false),
    };
    let (root, mount) = mountinfo.lines().find_map(|l| mount_of(l, is_v1))?;
    let rel = path.strip_prefix(root).unwrap_or(path);
    let dir = Path::new(mount).join(rel.trim_start_matches('/'));
    Some((dir, PathBuf::from(mount), is_v1))
}

/// (root, mount point) if the mountinfo line `l` mounts the cgroup
/// hierarchy we want (v1 with the `cpu` controller, or v2).
fn mount_of(l: &str, v1: bool) -> Option<(&str, &str)> {
    let (pre, post) = l.split_once(" - ")?;
    let mut pf = pre.split(' ');
    let (root, mount) = (pf.nth(3)?, pf.next()?);
    let mut qf = post.split(' ');
    let (fstype, _src, opts) = (qf.next()?, qf.next()?, qf.next().unwrap_or(""));
    let ok = if v1 {
        fstype == "cgroup" && opts.split(',').any(|o| o == "cpu")
    } else {
        fstype == "cgroup2"
    };
    ok.then_some((root, mount))
}

/// cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us (-1: no limit).
fn read_v1(dir: &Path) -> Option<f64> {
    let quota: i64 = read_num(&dir.join("cpu.cfs_quota_us"))?;
    let period: i64 = read_num(&dir.join("cpu.cfs_period_us"))?;
    (quota > 0 && period > 0).then(|| quota as f64 / period as f64)
}

/// cgroup v2: cpu.max, "max PERIOD" or "QUOTA PERIOD".
fn read_v2(dir: &Path) -> Option<f64> {
    let s = std::fs::read_to_string(dir.join("cpu.max")).ok()?;
    let mut f = s.split_whitespace();
    let (quota, period) = (f.next()?, f.next()?);
    let (q, p): (f64, f64) = (quota.parse().ok()?, period.parse().ok()?);
    (q > 0.0 && p > 0.0).then_some(q / p)
}

fn read_num(path: &Path) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_v1_cpu_cgroup_under_its_mount() {
        let cg = "12:memory:/a\n4:cpu,cpuacct:/docker/abc\n0::/\n";
        let mi =
            "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n\
                  31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let (dir, mount, v1) = locate(cg, mi).unwrap();
        assert!(v1);
        assert_eq!(mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(dir, Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/abc"));
    }

    #[test]
    fn finds_a_v2_cgroup_and_strips_the_mount_root() {
        let cg = "0::/kubepods/pod1/c1\n";
        let mi = "40 30 0:35 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let (dir, _, v1) = locate(cg, mi).unwrap();
        assert!(!v1);
        assert_eq!(dir, Path::new("/sys/fs/cgroup/pod1/c1"));
    }
}
