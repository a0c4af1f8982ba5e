//! A stripped binary has no symbol table, so no code is known to be the
//! program's and signal preemption cannot work. gort says so once on
//! stderr at start, and goroutines still run (cooperatively). The test
//! strips a copy of this very test binary (binutils' `strip`, which the
//! Rust toolchain's linker setup brings) and runs one test in it.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{is_child, texts, with_timeout};

const WARNING: &str = "gort: no symbol table in";

#[test]
fn stripped_binary_says_so_once() {
    let exe = std::env::current_exe().expect("test binary");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let copy = dir.join(format!("stripped-{}", std::process::id()));
    std::fs::copy(&exe, &copy).expect("copy the test binary");
    let st = Command::new("strip")
        .arg(&copy)
        .status()
        .expect("run strip");
    assert!(st.success(), "strip failed");
    let out = Command::new(&copy)
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env("GORT_TEST_CHILD", "child")
        .env_remove("GODEBUG")
        .output()
        .expect("run the stripped copy");
    let _ = std::fs::remove_file(&copy);
    let (so, se) = texts(&out);
    assert!(out.status.success(), "stripped child failed\n{so}\n{se}");
    assert!(so.contains("1 passed"), "the child ran no test:\n{so}");
    assert_eq!(se.matches(WARNING).count(), 1, "stderr:\n{se}");
    assert!(se.contains("strip = \"debuginfo\""), "stderr:\n{se}");
}

#[test]
fn unstripped_binary_says_nothing() {
    let out = common::run_child("child", &[]);
    let (so, se) = texts(&out);
    assert!(out.status.success(), "child failed\n{so}\n{se}");
    assert!(!se.contains(WARNING), "stderr:\n{se}");
}

#[test]
fn child() {
    if is_child("child") {
        with_timeout(Duration::from_secs(30), || {
            let hs: Vec<_> = (0..4u64).map(|i| gort::go!(move || i * 2)).collect();
            let sum: u64 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, 12);
        });
    }
}
