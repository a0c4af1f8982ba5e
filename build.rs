//! Build probe: gort runs on Linux x86_64 and aarch64 (context switching,
//! signal frames and stack guards are per target). Emits `gort_x86_64` or
//! `gort_aarch64`, and fails with a clear message elsewhere.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(gort_x86_64)");
    println!("cargo::rustc-check-cfg=cfg(gort_aarch64)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    match (os.as_str(), arch.as_str()) {
        ("linux", "x86_64") => println!("cargo::rustc-cfg=gort_x86_64"),
        ("linux", "aarch64") => println!("cargo::rustc-cfg=gort_aarch64"),
        _ => {
            eprintln!(
                "error: gort supports linux x86_64 and linux aarch64; this target is {os} {arch}"
            );
            std::process::exit(1);
        }
    }
}
