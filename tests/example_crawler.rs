//! examples/crawler.rs as a user runs it: each of its three crawls ends as
//! it says (all pages; the first error cancels the rest, the slow fetch
//! included; the deadline), and it exits 0. `cargo test` builds the
//! examples next to the test binaries (debug profile).

mod common;

use std::process::Command;

#[test]
fn the_crawler_example_cancels_on_the_first_error() {
    let exe = common::example_exe("crawler");
    let out = Command::new(&exe)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", exe.display()));
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "crawler failed\nstdout:\n{so}\nstderr:\n{se}"
    );
    assert!(so.contains("crawl 1 (all good): 12 pages"), "{so}");
    assert!(so.contains("status \"500 Internal Server Error\""), "{so}");
    assert!(so.contains("context deadline exceeded"), "{so}");
}
