//! Preemption storm, floating-point and SIMD: goroutines iterate the
//! logistic map (chaotic: one flipped bit anywhere changes every later
//! value) in compiler-generated scalar code and, on x86_64, in hand-written
//! SSE2 and AVX loops that keep 16 xmm / 32 ymm lanes live in registers for
//! their whole run, preempted every millisecond for 3 s at GOMAXPROCS=1 and
//! 2. A preempted goroutine's registers live in the kernel's signal frame on
//! its own stack (sched/preempt.rs), so every result must be bit-identical to the
//! one computed on a plain thread, where nothing preempts.

mod common;
mod storm;

use common::{is_child, with_timeout};
use storm::{limit, reference, run, run_storm_child, xorshift};

/// Iterations of each hand-written SIMD loop per round.
#[cfg(target_arch = "x86_64")]
const SIMD_ITERS: u64 = 150_000;
/// Iterations of the scalar loop per round.
const SCALAR_ITERS: u64 = 20_000;
/// The logistic map's parameter: chaotic, and it keeps x in (0, 1).
const R: f64 = 3.9;

/// `n` starting points in (0, 1) from `seed`.
fn starts(seed: u64, n: usize) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x = xorshift(x);
            ((x >> 11) as f64 + 1.0) / (1u64 << 53) as f64 * 0.98 + 0.01
        })
        .collect()
}

/// Compiler-generated floating point: f64 and f32 logistic maps, with a
/// division, a square root and int/float conversions mixed in.
fn scalar_part(seed: u64) -> Vec<u64> {
    let s = starts(seed, 8);
    let mut a = [s[0], s[1], s[2], s[3]];
    let mut b = [s[4] as f32, s[5] as f32, s[6] as f32, s[7] as f32];
    let mut acc = 0u64;
    for i in 0..SCALAR_ITERS {
        for k in 0..4 {
            a[k] = R * a[k] * (1.0 - a[k]);
            b[k] = 3.7f32 * b[k] * (1.0 - b[k]);
        }
        if i % 64 == 0 {
            let q = (a[0] / (a[1] + 1.0)).sqrt();
            acc = acc.rotate_left(5) ^ q.to_bits() ^ ((b[2] * 1e6) as u64);
        }
    }
    let mut out: Vec<u64> = a.iter().map(|v| v.to_bits()).collect();
    out.extend(b.iter().map(|v| u64::from(v.to_bits())));
    out.push(acc);
    out
}

/// SSE2: 8 xmm registers of 2 lanes each, all live through the whole loop;
/// the loop counter and a sum live in general registers and the flags.
#[cfg(target_arch = "x86_64")]
fn sse_part(seed: u64) -> Vec<u64> {
    let mut st: Vec<f64> = starts(seed ^ 0x55, 16);
    let consts = [1.0f64, 1.0, R, R];
    let mut sum = 0u64;
    // SAFETY: the template reads and writes the 16 doubles of `st` and reads
    // the 4 of `consts` (both live for the call), uses only the registers
    // declared below, and touches no stack.
    unsafe {
        std::arch::asm!(
            "movupd xmm0, [{s}]",
            "movupd xmm1, [{s} + 16]",
            "movupd xmm2, [{s} + 32]",
            "movupd xmm3, [{s} + 48]",
            "movupd xmm4, [{s} + 64]",
            "movupd xmm5, [{s} + 80]",
            "movupd xmm6, [{s} + 96]",
            "movupd xmm7, [{s} + 112]",
            "movupd xmm8, [{c}]",
            "movupd xmm9, [{c} + 16]",
            "2:",
            "movapd xmm10, xmm8", "subpd xmm10, xmm0", "mulpd xmm0, xmm10", "mulpd xmm0, xmm9",
            "movapd xmm11, xmm8", "subpd xmm11, xmm1", "mulpd xmm1, xmm11", "mulpd xmm1, xmm9",
            "movapd xmm12, xmm8", "subpd xmm12, xmm2", "mulpd xmm2, xmm12", "mulpd xmm2, xmm9",
            "movapd xmm13, xmm8", "subpd xmm13, xmm3", "mulpd xmm3, xmm13", "mulpd xmm3, xmm9",
            "movapd xmm14, xmm8", "subpd xmm14, xmm4", "mulpd xmm4, xmm14", "mulpd xmm4, xmm9",
            "movapd xmm15, xmm8", "subpd xmm15, xmm5", "mulpd xmm5, xmm15", "mulpd xmm5, xmm9",
            "movapd xmm10, xmm8", "subpd xmm10, xmm6", "mulpd xmm6, xmm10", "mulpd xmm6, xmm9",
            "movapd xmm11, xmm8", "subpd xmm11, xmm7", "mulpd xmm7, xmm11", "mulpd xmm7, xmm9",
            "add {sum}, {n}",
            "dec {n}",
            "jnz 2b",
            "movupd [{s}], xmm0",
            "movupd [{s} + 16], xmm1",
            "movupd [{s} + 32], xmm2",
            "movupd [{s} + 48], xmm3",
            "movupd [{s} + 64], xmm4",
            "movupd [{s} + 80], xmm5",
            "movupd [{s} + 96], xmm6",
            "movupd [{s} + 112], xmm7",
            s = in(reg) st.as_mut_ptr(),
            c = in(reg) consts.as_ptr(),
            n = inout(reg) SIMD_ITERS => _,
            sum = inout(reg) sum,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
            options(nostack),
        );
    }
    assert_eq!(
        sum,
        SIMD_ITERS * (SIMD_ITERS + 1) / 2,
        "a general register was corrupted"
    );
    st.iter().map(|v| v.to_bits()).collect()
}

/// AVX: 8 ymm registers of 4 lanes each (the upper halves are what a
/// careless context switch loses), all live through the whole loop.
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn avx_part(seed: u64) -> Vec<u64> {
    let mut st: Vec<f64> = starts(seed ^ 0xAA, 32);
    let consts = [1.0f64, 1.0, 1.0, 1.0, R, R, R, R];
    // SAFETY: as in sse_part, over 32 doubles and 8 constants; the caller
    // guarantees AVX.
    unsafe {
        std::arch::asm!(
            "vmovupd ymm0, [{s}]",
            "vmovupd ymm1, [{s} + 32]",
            "vmovupd ymm2, [{s} + 64]",
            "vmovupd ymm3, [{s} + 96]",
            "vmovupd ymm4, [{s} + 128]",
            "vmovupd ymm5, [{s} + 160]",
            "vmovupd ymm6, [{s} + 192]",
            "vmovupd ymm7, [{s} + 224]",
            "vmovupd ymm8, [{c}]",
            "vmovupd ymm9, [{c} + 32]",
            "2:",
            "vsubpd ymm10, ymm8, ymm0", "vmulpd ymm0, ymm0, ymm10", "vmulpd ymm0, ymm0, ymm9",
            "vsubpd ymm11, ymm8, ymm1", "vmulpd ymm1, ymm1, ymm11", "vmulpd ymm1, ymm1, ymm9",
            "vsubpd ymm12, ymm8, ymm2", "vmulpd ymm2, ymm2, ymm12", "vmulpd ymm2, ymm2, ymm9",
            "vsubpd ymm13, ymm8, ymm3", "vmulpd ymm3, ymm3, ymm13", "vmulpd ymm3, ymm3, ymm9",
            "vsubpd ymm14, ymm8, ymm4", "vmulpd ymm4, ymm4, ymm14", "vmulpd ymm4, ymm4, ymm9",
            "vsubpd ymm15, ymm8, ymm5", "vmulpd ymm5, ymm5, ymm15", "vmulpd ymm5, ymm5, ymm9",
            "vsubpd ymm10, ymm8, ymm6", "vmulpd ymm6, ymm6, ymm10", "vmulpd ymm6, ymm6, ymm9",
            "vsubpd ymm11, ymm8, ymm7", "vmulpd ymm7, ymm7, ymm11", "vmulpd ymm7, ymm7, ymm9",
            "dec {n}",
            "jnz 2b",
            "vmovupd [{s}], ymm0",
            "vmovupd [{s} + 32], ymm1",
            "vmovupd [{s} + 64], ymm2",
            "vmovupd [{s} + 96], ymm3",
            "vmovupd [{s} + 128], ymm4",
            "vmovupd [{s} + 160], ymm5",
            "vmovupd [{s} + 192], ymm6",
            "vmovupd [{s} + 224], ymm7",
            "vzeroupper",
            s = in(reg) st.as_mut_ptr(),
            c = in(reg) consts.as_ptr(),
            n = inout(reg) SIMD_ITERS => _,
            out("ymm0") _, out("ymm1") _, out("ymm2") _, out("ymm3") _,
            out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
            out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _,
            out("ymm12") _, out("ymm13") _, out("ymm14") _, out("ymm15") _,
            options(nostack),
        );
    }
    st.iter().map(|v| v.to_bits()).collect()
}

/// One round: every part, as bit patterns.
fn float_round(seed: u64) -> Vec<u64> {
    #[allow(unused_mut)]
    let mut out = scalar_part(seed);
    #[cfg(target_arch = "x86_64")]
    {
        out.extend(sse_part(seed));
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is available (checked just above).
            out.extend(unsafe { avx_part(seed) });
        }
    }
    out
}

fn storm_body(workers: usize) {
    with_timeout(limit(), move || {
        let want = reference(float_round);
        // The reference must be chaotic, not a fixed point: different seeds
        // give different bits.
        assert_ne!(want[0], want[1]);
        let r = run(
            "float",
            workers,
            |_, seed| float_round(seed),
            move |seed, got| *got == want[seed as usize],
        );
        assert!(
            r.preemptions >= 100,
            "only {} preemptions in {:?}: the storm did not storm",
            r.preemptions,
            r.elapsed
        );
    });
}

#[test]
fn float_storm_gomaxprocs_1() {
    if is_child("float_storm_gomaxprocs_1") {
        return storm_body(3);
    }
    run_storm_child("float_storm_gomaxprocs_1", 1, &[]);
}

#[test]
fn float_storm_gomaxprocs_2() {
    if is_child("float_storm_gomaxprocs_2") {
        return storm_body(5);
    }
    run_storm_child("float_storm_gomaxprocs_2", 2, &[]);
}
