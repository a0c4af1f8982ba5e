//! cpus — how many CPUs this process may use: the CPUs in its affinity
//! mask, and its cgroup's CPU limit (cgroup v2 `cpu.max`, v1
//! `cpu.cfs_quota_us / cpu.cfs_period_us`, the most limiting of the
//! process's cgroup and its ancestors), as Go 1.25 reads them
//! (runtime/cgroup_linux.go). config.rs turns them into the default
//! GOMAXPROCS.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

/// CPUs this process may run on.
pub(crate) fn affinity_cpus() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count()
            .max(1),
        Err(_) => 1,
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
