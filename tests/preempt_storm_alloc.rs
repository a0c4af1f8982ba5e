//! Preemption storm, allocation-heavy: goroutines that build and tear down
//! Vecs, Strings, Boxes and HashMaps, preempted every millisecond for 3 s at
//! GOMAXPROCS=1 and 2. Preemption lands only in user code, never inside the
//! allocator or std (sched/symtab.rs), so every round's checksum must equal the one
//! computed on a plain thread, and nothing may panic or hang.

mod common;
mod storm;

use std::collections::HashMap;

use common::{is_child, with_timeout};
use storm::{limit, reference, run, run_storm_child, xorshift};

/// One round: about a thousand allocations of assorted sizes; a checksum
/// that does not depend on the HashMap's (random) iteration order.
fn alloc_round(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v: Vec<u64> = Vec::new();
    let mut boxes: Vec<Box<[u64]>> = Vec::new();
    let mut m: HashMap<u64, String> = HashMap::new();
    let mut s = String::new();
    let mut acc = 0u64;
    for i in 0..600u64 {
        x = xorshift(x);
        v.push(x);
        let key = x % 256;
        let val = format!("{key:x}/{i}");
        s.push_str(&val);
        if let Some(old) = m.insert(key, val) {
            acc = acc.wrapping_add(old.len() as u64);
        }
        if i % 5 == 0 {
            m.remove(&(x.rotate_left(17) % 256));
        }
        if i % 3 == 0 {
            let n = (x % 64) as usize + 1;
            boxes.push((0..n as u64).map(|k| k ^ x).collect());
        }
        if s.len() > 2048 {
            // A call-free stretch over the bytes: where most preemptions land.
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in s.bytes() {
                h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
            acc ^= h;
            s = String::new();
        }
    }
    v.sort_unstable();
    for (i, e) in v.iter().enumerate() {
        acc = acc.wrapping_add(e.rotate_left(i as u32 % 64));
    }
    for (k, val) in &m {
        acc = acc.wrapping_add(k.wrapping_mul(val.len() as u64 + 1));
    }
    for b in &boxes {
        acc ^= b
            .iter()
            .fold(b.len() as u64, |a, &e| a.wrapping_mul(31) ^ e);
    }
    acc
}

fn storm_body(workers: usize) {
    with_timeout(limit(), move || {
        let want = reference(alloc_round);
        let r = run(
            "alloc",
            workers,
            |_, seed| alloc_round(seed),
            move |seed, got| *got == want[seed as usize],
        );
        assert!(
            r.preemptions >= 50,
            "only {} preemptions in {:?}: the storm did not storm",
            r.preemptions,
            r.elapsed
        );
        assert!(r.rounds > 0);
    });
}

#[test]
fn alloc_storm_gomaxprocs_1() {
    if is_child("alloc_storm_gomaxprocs_1") {
        return storm_body(4);
    }
    run_storm_child("alloc_storm_gomaxprocs_1", 1, &[]);
}

#[test]
fn alloc_storm_gomaxprocs_2() {
    if is_child("alloc_storm_gomaxprocs_2") {
        return storm_body(6);
    }
    run_storm_child("alloc_storm_gomaxprocs_2", 2, &[]);
}
