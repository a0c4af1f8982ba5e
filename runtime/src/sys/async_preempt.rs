//! The asynchronous preemption trampoline (x86_64): Go's `asyncPreempt`
//! (preempt_amd64.s), which the SIGURG handler makes the interrupted code
//! "call" (sched/preempt.rs `inject`).
//!
//! The handler runs on the M's signal stack (`SA_ONSTACK`), so the kernel's
//! signal frame never lands on the goroutine's stack; a goroutine near the
//! end of its stack cannot be killed by it. To preempt, the handler edits the
//! frame: below the interrupted SP it skips the 128-byte red zone (System V
//! leaf functions keep data there), stores the interrupted PC, and makes the
//! frame return into [`gort_async_preempt`] with SP pointing at that PC.
//! sigreturn then restores every register (and the signal mask) and lands
//! here, on the goroutine's stack, outside any signal context. The trampoline
//!
//! 1. saves the flags and the 15 general registers it may clobber;
//! 2. saves the whole user extended state — x87, SSE, AVX, AVX-512, PKRU —
//!    with `xsave` into a 64-byte aligned area (`fxsave` on a CPU without
//!    XSAVE), sized from CPUID at start ([`init`]);
//! 3. calls the runtime's callback, which switches to the M
//!    (`Switch::Preempted`) and returns when the goroutine is resumed, on
//!    the same M (sched/preempt.rs header: the thread pointer is not saved);
//! 4. restores everything and returns to the interrupted PC with `ret 128`,
//!    which pops the PC and then the red zone gap: SP is as it was.
//!
//! [`frame_bytes`] is the stack the whole thing needs below the interrupted
//! SP; the handler leaves a goroutine alone when it has less.
//!
//! AMX tile state (XSAVE components 17-18) is not saved: no Rust code the
//! runtime may interrupt uses it on stable Rust.

use std::sync::atomic::{AtomicU64, Ordering};

/// XSAVE components saved: x87 (0), SSE (1), AVX (2), AVX-512 opmask and
/// upper halves (5-7), PKRU (9); intersected with what XCR0 enables.
const XSAVE_COMPONENTS: u64 = 0b10_1110_0111;
/// The legacy area plus the XSAVE header.
const XSAVE_MIN: u64 = 576;
/// What `fxsave` writes.
const FXSAVE_SIZE: u64 = 512;
/// The red zone below SP that interrupted code may be using.
pub(crate) const RED_ZONE: usize = 128;
/// Flags and 15 general registers, pushed by the trampoline.
const GPR_BYTES: usize = 16 * 8;
/// Stack for the callback: the switch to the M (corosensei's suspend) and
/// the Rust frames around it, with room for an unoptimised build.
const CALLBACK_BYTES: usize = 4096;

/// The XSAVE mask (EDX:EAX) the trampoline uses; 0: use `fxsave`. Written
/// once by [`init`] before the handler is installed; read by the trampoline
/// as a plain load.
static XSAVE_MASK: AtomicU64 = AtomicU64::new(0);
/// Bytes of the save area (a multiple of 64). Written once by [`init`].
static XSAVE_SIZE: AtomicU64 = AtomicU64::new(FXSAVE_SIZE);

/// Sizes the extended-state area from CPUID (XCR0 says which components
/// the OS enabled; leaf 0xD where each lies). Call before installing the
/// handler.
pub(crate) fn init() {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 1 always. (Safe to
    // call in newer Rust; unsafe in the oldest we support.)
    #[allow(unused_unsafe)]
    let leaf1 = unsafe { __cpuid(1) };
    let osxsave = leaf1.ecx & (1 << 27) != 0;
    if !osxsave {
        XSAVE_MASK.store(0, Ordering::Relaxed);
        XSAVE_SIZE.store(FXSAVE_SIZE, Ordering::Relaxed);
        return;
    }
    let mask = xcr0() & XSAVE_COMPONENTS;
    let mut size = XSAVE_MIN;
    for i in 2..10 {
        if mask & (1 << i) != 0 {
            // SAFETY: leaf 0xD exists when OSXSAVE is set; sub-leaf i
            // gives component i's size (EAX) and offset (EBX).
            #[allow(unused_unsafe)]
            let l = unsafe { __cpuid_count(0xD, i) };
            size = size.max(u64::from(l.ebx) + u64::from(l.eax));
        }
    }
    XSAVE_MASK.store(mask, Ordering::Relaxed);
    XSAVE_SIZE.store(size.next_multiple_of(64), Ordering::Relaxed);
}

/// XCR0: the extended state components the OS saves and restores.
fn xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV with ECX = 0 reads XCR0; legal whenever OSXSAVE is
    // set (checked by the caller); it touches no memory.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
            options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Stack the trampoline needs below an interrupted SP.
pub(crate) fn frame_bytes() -> usize {
    RED_ZONE + 8 + GPR_BYTES + XSAVE_SIZE.load(Ordering::Relaxed) as usize + 64 + CALLBACK_BYTES
}

/// The trampoline's entry address.
pub(crate) fn trampoline() -> usize {
    gort_async_preempt as *const () as usize
}

extern "C" {
    /// The trampoline (module header). Never called from Rust: the signal
    /// handler makes interrupted code return into it.
    fn gort_async_preempt();
}

/// Writes the interrupted PC below the red zone and returns the SP the
/// trampoline starts with.
///
/// # Safety
/// `sp` is the interrupted SP of a goroutine stack with at least
/// [`frame_bytes`] mapped and unused below it.
pub(crate) unsafe fn push_return(pc: usize, sp: usize) -> usize {
    let at = sp - RED_ZONE - 8;
    // SAFETY: below the red zone, inside the stack (caller's contract), and
    // unused: nothing lives below the interrupted SP and its red zone.
    unsafe { (at as *mut usize).write_unaligned(pc) };
    at
}

// The trampoline. The callback is `extern "C" fn()`; at its call SP is
// 64-byte aligned (16 is required). Intel syntax.
std::arch::global_asm!(
    ".pushsection .text.gort_async_preempt,\"ax\",@progbits",
    ".globl gort_async_preempt",
    ".hidden gort_async_preempt",
    ".type gort_async_preempt,@function",
    ".p2align 4",
    "gort_async_preempt:",
    "pushfq",
    "push rax",
    "push rbx",
    "push rcx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov rbp, rsp",
    "sub rsp, qword ptr [rip + {size}]",
    "and rsp, -64",
    "mov rax, qword ptr [rip + {mask}]",
    "test rax, rax",
    "jz 2f",
    // XRSTOR wants the header's reserved bytes zero; XSAVE writes only
    // XSTATE_BV, and this stack area holds old data.
    "xor ecx, ecx",
    "mov qword ptr [rsp + 512], rcx",
    "mov qword ptr [rsp + 520], rcx",
    "mov qword ptr [rsp + 528], rcx",
    "mov qword ptr [rsp + 536], rcx",
    "mov qword ptr [rsp + 544], rcx",
    "mov qword ptr [rsp + 552], rcx",
    "mov qword ptr [rsp + 560], rcx",
    "mov qword ptr [rsp + 568], rcx",
    "mov rdx, rax",
    "shr rdx, 32",
    "xsave64 [rsp]",
    "call {callback}",
    "mov rax, qword ptr [rip + {mask}]",
    "mov rdx, rax",
    "shr rdx, 32",
    "xrstor64 [rsp]",
    "jmp 3f",
    "2:",
    "fxsave64 [rsp]",
    "call {callback}",
    "fxrstor64 [rsp]",
    "3:",
    "mov rsp, rbp",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rbx",
    "pop rax",
    "popfq",
    "ret 128",
    ".size gort_async_preempt, . - gort_async_preempt",
    ".popsection",
    size = sym XSAVE_SIZE,
    mask = sym XSAVE_MASK,
    callback = sym crate::sched::preempt::async_preempt_callback,
);
