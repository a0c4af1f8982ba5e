//! examples/crawler.rs as a user runs it: each of its three crawls ends as
//! it says (all pages; the first error cancels the rest, the slow fetch
//! included; the deadline), and it exits 0. `cargo test` builds the
//! examples next to the test binaries (debug profile).

use std::path::PathBuf;
use std::process::Command;

fn example(name: &str) -> PathBuf {
    let mut p = std::env::current_exe().expect("test binary path");
    p.pop(); // the binary
    p.pop(); // deps/
    p.join("examples").join(name)
}

#[test]
fn the_crawler_example_cancels_on_the_first_error() {
    let exe = example("crawler");
    if !exe.exists() {
        // Run alone (`cargo test --test example_crawler`) cargo builds no
        // examples: build it the same way.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let st = Command::new(cargo)
            .args(["build", "--example", "crawler"])
            .status()
            .expect("run cargo");
        assert!(st.success(), "cargo build --example crawler failed");
    }
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
