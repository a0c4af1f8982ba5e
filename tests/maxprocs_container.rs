//! Container-aware GOMAXPROCS (Go 1.25), for real on this machine's cgroup
//! v1 `cpu` controller: a child process placed in a cgroup limited to one
//! CPU starts with GOMAXPROCS 1 and follows a quota change to two CPUs
//! (sysmon looks about once a second); an explicit `GOMAXPROCS` wins and is
//! not updated; `GODEBUG=containermaxprocs=0` ignores the limit; `taskset
//! -c 0` gives 1. Skipped, with the reason printed, where no writable cpu
//! controller (or no taskset) exists.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::is_child;

const CHILD: &str = "child_reports_gomaxprocs";
/// How long the child reports before it gives up waiting for a change.
const REPORT_FOR: Duration = Duration::from_secs(20);

/// In the child: prints `procs=N` now and at every change, until it has
/// seen `GORT_TEST_WANT` or REPORT_FOR passed. A goroutine sleeping in a
/// loop keeps the scheduler (and so sysmon) awake, as a real program's
/// would.
#[test]
fn child_reports_gomaxprocs() {
    if !is_child(CHILD) {
        return;
    }
    let want: usize = std::env::var("GORT_TEST_WANT").map_or(0, |v| v.parse().unwrap());
    gort::go!(move || {
        let start = Instant::now();
        let mut last = gort::gomaxprocs();
        println!("procs={last}");
        while last != want && start.elapsed() < REPORT_FOR {
            gort::time::sleep(Duration::from_millis(20));
            let now = gort::gomaxprocs();
            if now != last {
                println!("procs={now}");
                last = now;
            }
        }
    })
    .join()
    .unwrap();
}

/// The cgroup v1 cpu controller's mount point, if it is mounted writable
/// (probed with a cgroup named after the calling test's `tag`, so tests
/// running side by side do not collide).
fn cpu_controller(tag: &str) -> Result<PathBuf, String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mount = mi
        .lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut q = post.split(' ');
            let (fstype, _, opts) = (q.next()?, q.next()?, q.next()?);
            let cpu = fstype == "cgroup" && opts.split(',').any(|o| o == "cpu");
            let mount_point = pre.split(' ').nth(4)?;
            cpu.then(|| PathBuf::from(mount_point))
        })
        .ok_or("no cgroup v1 cpu controller mounted")?;
    let probe = mount.join(format!("gort-probe-{}-{tag}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("{}: {e}", mount.display()))?;
    std::fs::remove_dir(&probe).map_err(|e| e.to_string())?;
    Ok(mount)
}

/// A cgroup limited to `cpus` CPUs, removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(mount: &Path, tag: &str, cpus: u32) -> Cgroup {
        let dir = mount.join(format!("gort-test-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir(&dir);
        std::fs::create_dir(&dir).unwrap();
        let cg = Cgroup(dir);
        std::fs::write(cg.0.join("cpu.cfs_period_us"), "100000").unwrap();
        cg.set_cpus(cpus);
        cg
    }

    fn set_cpus(&self, cpus: u32) {
        std::fs::write(
            self.0.join("cpu.cfs_quota_us"),
            (cpus * 100_000).to_string(),
        )
        .unwrap();
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Starts the child test, inside `cgroup` if given, behind `prefix`
/// (e.g. taskset), with `envs`; its stdout lines arrive on the channel.
fn start(
    cgroup: Option<&Cgroup>,
    prefix: &[&str],
    envs: &[(&str, &str)],
) -> (Child, mpsc::Receiver<String>) {
    let exe = std::env::current_exe().unwrap();
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    argv.push(exe.to_string_lossy().into_owned());
    argv.extend([CHILD, "--exact", "--nocapture", "--test-threads=1"].map(String::from));
    let enter = cgroup.map_or(String::new(), |c| {
        format!("echo $$ > '{}/cgroup.procs' && ", c.0.display())
    });
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{enter}exec \"$@\""))
        .arg("sh")
        .args(&argv)
        .env("GORT_TEST_CHILD", CHILD)
        .env_remove("GOMAXPROCS")
        .env_remove("GODEBUG")
        .stdout(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the child");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(v) = l.split_once("procs=").map(|(_, v)| v.to_string()) {
                let _ = tx.send(v);
            }
        }
    });
    (child, rx)
}

/// The next value the child reports, within 30 s.
fn next(rx: &mpsc::Receiver<String>) -> usize {
    let v = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("a report from the child");
    v.trim().parse().unwrap()
}

fn finish(mut c: Child) {
    assert!(c.wait().unwrap().success(), "the child failed");
}

#[test]
fn a_cgroup_cpu_limit_sets_and_updates_gomaxprocs() {
    let mount = match cpu_controller("limit") {
        Ok(m) => m,
        Err(why) => return println!("skipped: {why}"),
    };
    let cg = Cgroup::new(&mount, "limit", 1);
    let (child, rx) = start(Some(&cg), &[], &[("GORT_TEST_WANT", "2")]);
    assert_eq!(
        next(&rx),
        1,
        "a 1-CPU cgroup should start with GOMAXPROCS 1"
    );
    let t = Instant::now();
    cg.set_cpus(2);
    assert_eq!(next(&rx), 2, "GOMAXPROCS did not follow the quota");
    let took = t.elapsed();
    println!("followed a quota change in {took:?}");
    // sysmon looks once a second; generous for a loaded machine.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    finish(child);
}

#[test]
fn an_explicit_gomaxprocs_wins_and_godebug_turns_the_limit_off() {
    let mount = match cpu_controller("explicit") {
        Ok(m) => m,
        Err(why) => return println!("skipped: {why}"),
    };
    let cpus: usize = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cg = Cgroup::new(&mount, "explicit", 1);
    let (child, rx) = start(
        Some(&cg),
        &[],
        &[("GOMAXPROCS", "3"), ("GORT_TEST_WANT", "3")],
    );
    assert_eq!(next(&rx), 3);
    finish(child);
    let want = cpus.to_string();
    let (child, rx) = start(
        Some(&cg),
        &[],
        &[
            ("GODEBUG", "containermaxprocs=0"),
            ("GORT_TEST_WANT", &want),
        ],
    );
    assert_eq!(
        next(&rx),
        cpus,
        "containermaxprocs=0 should ignore the limit"
    );
    finish(child);
}

#[test]
fn taskset_to_one_cpu_gives_one() {
    if Command::new("taskset").arg("-V").output().is_err() {
        return println!("skipped: no taskset");
    }
    let (child, rx) = start(None, &["taskset", "-c", "0"], &[("GORT_TEST_WANT", "1")]);
    assert_eq!(next(&rx), 1);
    finish(child);
}
