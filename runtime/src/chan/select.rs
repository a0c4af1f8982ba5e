//! select — Go's `selectgo`, behind the [`select!`](crate::select!) macro.
//!
//! The macro turns each case into a [`RecvCase`] or [`SendCase`] on the
//! caller's stack and calls [`select`] with them as `&dyn SelectCase`; the
//! chosen case's result is then read back from it. No allocation on the
//! untimed path. The algorithm:
//!
//! 1. **Poll** the cases once, non-blocking, in a random order (a fresh
//!    Fisher-Yates permutation per call): the first that can complete does,
//!    so among ready cases each is chosen with equal probability (Go's rule).
//!    A receive from a disconnected channel and a send to one count as ready
//!    (they complete with an error).
//! 2. Nothing ready: `default` returns at once.
//! 3. Otherwise **register** a sudog for every case with one shared
//!    `WaitCtx`, one channel lock at a time (Go locks all channels at once;
//!    crossbeam, like this, registers one by one). If a case turns out to be
//!    ready while registering, the caller aborts its own wait (a CAS to
//!    `CASE_ABORTED`), unregisters and polls again. If a peer claimed the ctx
//!    meanwhile, the abort fails and the peer's claim stands.
//! 4. **Wait** for the claim (a peer's, or the timer of `default(timeout)`),
//!    then **unregister** every case that lost, under each channel's lock.
//!
//! During registration the caller never claims a peer, so two selects that
//! meet on a channel cannot deadlock or half-claim each other: the second to
//! register sees the first one's sudog, aborts and completes with it in the
//! poll of step 1, where it is not registered anywhere. A peer sudog that
//! belongs to the caller itself (a select sending to and receiving from the
//! same channel) is skipped.
//!
//! Values of `send` cases are evaluated before the select starts, as in Go;
//! a send case that is not chosen drops its value.

use std::cell::Cell;
use std::time::Duration;

use crate::chan::hchan::Chan;
use crate::chan::{Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError};
use crate::testing::bubble;
use crate::time;
use crate::wait::sudog::{CtxHold, Sudog, WaitCtx, WaitReason, CASE_ABORTED, CASE_TIMEOUT};

/// How long a select may wait. Built by the `select!` macro.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum SelectMode {
    /// No default case: wait for a case.
    Block,
    /// `default => ..`: never wait.
    NonBlock,
    /// `default(timeout) => ..`: wait at most this long.
    Timeout(Duration),
}

/// A case's registration ticket. Only [`select`] can make one, so only it
/// can register a case (and it always unregisters before returning).
#[doc(hidden)]
pub struct Token<'a> {
    ctx: &'a WaitCtx,
    case: usize,
}

mod sealed {
    pub trait Sealed {}
}

/// One case of a `select!`, type-erased. Implemented by [`RecvCase`] and
/// [`SendCase`] only.
#[doc(hidden)]
pub trait SelectCase: sealed::Sealed {
    /// Completes the operation if it can without waiting.
    fn try_select(&self) -> bool;
    /// Queues this case on its channel, unless it could complete now
    /// (returns true and queues nothing).
    fn register(&self, token: Token<'_>) -> bool;
    /// Unqueues this case if it is still queued.
    fn unregister(&self);
    /// Records that this case was chosen.
    fn mark_selected(&self);
    /// The bubble its channel was made in (hchan.rs `Chan::bubble`).
    fn bubble(&self) -> u64;
}

/// A `recv(rx) -> res` case. Made by the `select!` macro.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    chan: &'a Chan<T>,
    /// Where the received value lands; None after completion means the
    /// channel was disconnected.
    node: Sudog<T>,
    selected: Cell<bool>,
}

/// A `send(tx, v) -> res` case. Made by the `select!` macro.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    chan: &'a Chan<T>,
    /// Holds the value until a receiver takes it; Some after completion
    /// means the channel was disconnected.
    node: Sudog<T>,
    selected: Cell<bool>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A case receiving from `rx`.
    pub fn new(rx: &'a Receiver<T>) -> Self {
        RecvCase {
            chan: rx.chan(),
            node: Sudog::new(None),
            selected: Cell::new(false),
        }
    }

    /// True if [`select`] chose this case.
    pub fn is_selected(&self) -> bool {
        self.selected.get()
    }

    /// The chosen case's result.
    pub fn into_result(self) -> Result<T, RecvError> {
        // SAFETY: the node is not linked (select unregistered every case
        // before returning, and a RecvCase is registered only by select), and
        // a claim's `done` was observed by select's wait, if there was one.
        unsafe { self.node.slot_owned() }.take().ok_or(RecvError)
    }
}

impl<'a, T> SendCase<'a, T> {
    /// A case sending `value` on `tx`.
    pub fn new(tx: &'a Sender<T>, value: T) -> Self {
        SendCase {
            chan: tx.chan(),
            node: Sudog::new(Some(value)),
            selected: Cell::new(false),
        }
    }

    /// True if [`select`] chose this case.
    pub fn is_selected(&self) -> bool {
        self.selected.get()
    }

    /// The chosen case's result.
    pub fn into_result(self) -> Result<(), SendError<T>> {
        // SAFETY: as in RecvCase::into_result.
        match unsafe { self.node.slot_owned() }.take() {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}

impl<T> sealed::Sealed for RecvCase<'_, T> {}
impl<T> sealed::Sealed for SendCase<'_, T> {}

impl<T> SelectCase for RecvCase<'_, T> {
    fn try_select(&self) -> bool {
        match self.chan.try_recv() {
            Ok(v) => {
                // SAFETY: polling happens with no case registered, so the
                // node is unlinked and only this thread can reach it.
                *unsafe { self.node.slot_owned() } = Some(v);
                true
            }
            Err(TryRecvError::Disconnected) => true,
            Err(TryRecvError::Empty) => false,
        }
    }

    fn register(&self, t: Token<'_>) -> bool {
        // SAFETY: a Token exists only inside `select`, which keeps `t.ctx`
        // alive and unregisters this case before returning; `self` is
        // borrowed for the whole call, so the node cannot move meanwhile.
        unsafe { self.chan.register_recv(&self.node, t.ctx, t.case) }
    }

    fn unregister(&self) {
        // SAFETY: this node is only ever registered with its own channel.
        unsafe { self.chan.unregister_recv(&self.node) }
    }

    fn mark_selected(&self) {
        self.selected.set(true);
    }

    fn bubble(&self) -> u64 {
        self.chan.bubble
    }
}

impl<T> SelectCase for SendCase<'_, T> {
    fn try_select(&self) -> bool {
        // SAFETY: as in RecvCase::try_select.
        let slot = unsafe { self.node.slot_owned() };
        let Some(v) = slot.take() else {
            return true;
        };
        match self.chan.try_send(v) {
            Ok(()) => true,
            Err(TrySendError::Disconnected(v)) => {
                *slot = Some(v);
                true
            }
            Err(TrySendError::Full(v)) => {
                *slot = Some(v);
                false
            }
        }
    }

    fn register(&self, t: Token<'_>) -> bool {
        // SAFETY: as in RecvCase::register.
        unsafe { self.chan.register_send(&self.node, t.ctx, t.case) }
    }

    fn unregister(&self) {
        // SAFETY: this node is only ever registered with its own channel.
        unsafe { self.chan.unregister_send(&self.node) }
    }

    fn mark_selected(&self) {
        self.selected.set(true);
    }

    fn bubble(&self) -> u64 {
        self.chan.bubble
    }
}

/// Up to this many cases, the poll order lives on the stack.
const INLINE_CASES: usize = 16;

/// Runs a select over `cases` (Go's selectgo; module header). Returns true
/// when a case was chosen (it is marked), false when the default ran (no
/// case ready, or the timeout passed). With no cases and no default it
/// blocks forever, like Go's `select {}`.
#[doc(hidden)]
#[doc(alias = "selectgo")]
pub fn select(cases: &[&dyn SelectCase], mode: SelectMode) -> bool {
    let deadline = match mode {
        SelectMode::Timeout(d) => Some(time::deadline_after(d)),
        _ => None,
    };
    let n = cases.len();
    let mut inline = [0usize; INLINE_CASES];
    let mut heap = Vec::new();
    let order: &mut [usize] = if n <= INLINE_CASES {
        &mut inline[..n]
    } else {
        heap.resize(n, 0);
        &mut heap
    };
    shuffle(order);

    if poll(cases, order) {
        return true;
    }
    if let SelectMode::NonBlock = mode {
        return false;
    }
    loop {
        let hold = CtxHold::select(deadline.is_some());
        let ctx = hold.ctx();
        let mut registered = 0;
        let mut aborted = false;
        for &i in order.iter() {
            if !ctx.is_waiting() {
                break; // claimed already: no point queueing more
            }
            if cases[i].register(Token { ctx, case: i }) {
                aborted = ctx.abort();
                break;
            }
            registered += 1;
        }
        let timer = match (aborted, deadline) {
            (false, Some(d)) => hold.arm(d),
            _ => None,
        };
        if !aborted {
            ctx.wait(WaitReason::select(cases.is_empty(), all_own(cases)));
        }
        for &i in &order[..registered] {
            cases[i].unregister();
        }
        let won = ctx.selected();
        if won != CASE_TIMEOUT {
            if let Some(t) = timer {
                time::cancel_timer(t);
            }
        }
        match won {
            CASE_TIMEOUT => return false,
            CASE_ABORTED => {
                if poll(cases, order) {
                    return true;
                }
            }
            i => {
                cases[i].mark_selected();
                return true;
            }
        }
    }
}

/// True if every case's channel was made in the running goroutine's
/// bubble: only then is the select durable there (Go's allSynctest).
fn all_own(cases: &[&dyn SelectCase]) -> bool {
    let me = bubble::current_id();
    me != 0 && cases.iter().all(|c| bubble::owned_by(c.bubble(), me))
}

/// Step 1: the first case, in `order`, that completes without waiting.
fn poll(cases: &[&dyn SelectCase], order: &[usize]) -> bool {
    for &i in order {
        if cases[i].try_select() {
            cases[i].mark_selected();
            return true;
        }
    }
    false
}

/// Fills `order` with a uniformly random permutation of 0..len.
fn shuffle(order: &mut [usize]) {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    for i in (1..order.len()).rev() {
        let j = below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
}

/// A uniform-enough random number in 0..n (Lemire's multiply-shift; the
/// bias is below 2^-50 for the case counts of a select).
fn below(n: u64) -> u64 {
    ((fastrand() as u128 * n as u128) >> 64) as u64
}

/// Per-thread xorshift64*; seeded from std's per-thread random hasher keys.
/// Read and written within one call, never across a goroutine switch.
#[cfg(not(loom))]
fn fastrand() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    thread_local! {
        static RNG: Cell<u64> = const { Cell::new(0) };
    }
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = RandomState::new().hash_one(std::thread::current().id()) | 1;
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// In a model, one fixed poll order: loom needs every run of a schedule to
/// make the same choices, and explores the interleavings itself.
#[cfg(loom)]
fn fastrand() -> u64 {
    0
}

/// Waits on several channel operations at once and runs the branch of the
/// one that completes: Go's `select`, in crossbeam-channel's syntax.
///
/// ```text
/// select! {
///     recv(rx) -> msg => { .. },        // msg: Result<T, RecvError>
///     send(tx, value) -> res => { .. }, // res: Result<(), SendError<T>>
///     default => { .. },                // nothing ready now
///     default(duration) => { .. },      // nothing ready within `duration`
/// }
/// ```
///
/// Any number of `recv` and `send` cases, and at most one `default`. When
/// several cases are ready, one is chosen uniformly at random, as in Go.
/// Without a default, the select waits (parking the goroutine, or blocking a
/// plain thread); with no cases at all it waits forever (Go's `select {}`).
/// A receive from a disconnected channel is ready and yields `Err`; so is a
/// send to a channel whose receivers are gone (the value comes back in the
/// error). Send values are evaluated before the select, as in Go, and a send
/// case that is not chosen drops its value. Channel expressions may be ends
/// or references to ends, or temporaries such as `gort::time::after(d)`. A
/// branch is an expression or a block (a comma after a block is optional).
///
/// ```
/// use std::time::Duration;
/// use gort::chan::bounded;
///
/// let (tx1, rx1) = bounded::<i32>(1);
/// let (tx2, rx2) = bounded::<&str>(0);
/// tx1.send(10).unwrap();
///
/// // rx1 has a value; rx2 and tx2 would wait.
/// let got = gort::select! {
///     recv(rx1) -> v => v.unwrap(),
///     recv(rx2) -> _ => unreachable!(),
///     send(tx2, "hi") -> _ => unreachable!(),
/// };
/// assert_eq!(got, 10);
///
/// // Nothing ready: default.
/// let r = gort::select! {
///     recv(rx1) -> _ => "value",
///     default => "nothing",
/// };
/// assert_eq!(r, "nothing");
///
/// // Nothing ready within 5 ms: the timed default.
/// gort::select! {
///     recv(rx2) -> _ => panic!("nobody sends"),
///     default(Duration::from_millis(5)) => {}
/// }
/// drop((tx1, tx2));
/// ```
#[macro_export]
macro_rules! select {
    // -- parse: normalise each case; `$def` is [] or one default ----------
    (@parse [$($cases:tt)*] $def:tt) => {
        $crate::select!(@emit [$($cases)*] [] $def)
    };
    (@parse [$($cases:tt)*] $def:tt
        recv($r:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (recv ($r) $res ($body))] $def $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt
        recv($r:expr) -> $res:pat => $body:expr) => {
        $crate::select!(@parse [$($cases)* (recv ($r) $res ($body))] $def)
    };
    (@parse [$($cases:tt)*] $def:tt
        recv($r:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (recv ($r) $res ($body))] $def $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr) -> $res:pat => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (send ($s) ($v) $res ($body))] $def $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr) -> $res:pat => $body:expr) => {
        $crate::select!(@parse [$($cases)* (send ($s) ($v) $res ($body))] $def)
    };
    (@parse [$($cases:tt)*] $def:tt
        send($s:expr, $v:expr) -> $res:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (send ($s) ($v) $res ($body))] $def $($rest)*)
    };
    (@parse $cases:tt [$($old:tt)+] default $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `default` case")
    };
    (@parse $cases:tt [] default => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse $cases [now ($body)] $($rest)*)
    };
    (@parse $cases:tt [] default => $body:expr) => {
        $crate::select!(@parse $cases [now ($body)])
    };
    (@parse $cases:tt [] default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $cases [now ($body)] $($rest)*)
    };
    (@parse $cases:tt [] default($d:expr) => $body:expr, $($rest:tt)*) => {
        $crate::select!(@parse $cases [timeout ($d) ($body)] $($rest)*)
    };
    (@parse $cases:tt [] default($d:expr) => $body:expr) => {
        $crate::select!(@parse $cases [timeout ($d) ($body)])
    };
    (@parse $cases:tt [] default($d:expr) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $cases [timeout ($d) ($body)] $($rest)*)
    };
    (@parse $cases:tt $def:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(r) -> res => ..`, `send(s, v) -> res => ..`, ",
            "`default => ..` or `default(timeout) => ..`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };

    // -- emit: bind each case by `match`, so temporaries in the channel
    // expressions live to the end; each recursion step's `__gort_case` is a
    // distinct identifier (macro hygiene).
    (@emit [(recv ($r:expr) $res:tt $body:tt) $($rest:tt)*] [$($done:tt)*] $def:tt) => {
        match $crate::__private::RecvCase::new(&$r) {
            __gort_case => $crate::select!(@emit [$($rest)*] [$($done)* (__gort_case $res $body)] $def),
        }
    };
    (@emit [(send ($s:expr) ($v:expr) $res:tt $body:tt) $($rest:tt)*] [$($done:tt)*] $def:tt) => {
        match $crate::__private::SendCase::new(&$s, $v) {
            __gort_case => $crate::select!(@emit [$($rest)*] [$($done)* (__gort_case $res $body)] $def),
        }
    };
    (@emit [] [$(($case:ident $res:tt $body:tt))*] $def:tt) => {{
        $crate::__private::select(
            &[$(&$case as &dyn $crate::__private::SelectCase),*],
            $crate::select!(@mode $def),
        );
        $crate::select!(@dispatch [$(($case $res $body))*] $def)
    }};

    // -- dispatch: run the branch of the chosen case, else the default -----
    (@dispatch [($case:ident $res:tt ($($body:tt)*)) $($rest:tt)*] $def:tt) => {
        if $case.is_selected() {
            let $res = $case.into_result();
            $($body)*
        } else {
            $crate::select!(@dispatch [$($rest)*] $def)
        }
    };
    (@dispatch [] []) => {
        ::core::unreachable!("select!: no case was chosen")
    };
    (@dispatch [] [now ($($body:tt)*)]) => {
        $($body)*
    };
    (@dispatch [] [timeout $d:tt ($($body:tt)*)]) => {
        $($body)*
    };

    (@mode []) => { $crate::__private::SelectMode::Block };
    (@mode [now $body:tt]) => { $crate::__private::SelectMode::NonBlock };
    (@mode [timeout ($d:expr) $body:tt]) => { $crate::__private::SelectMode::Timeout($d) };

    // -- entry ---------------------------------------------------------------
    ($($tokens:tt)*) => {
        $crate::select!(@parse [] [] $($tokens)*)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_permutation_and_varies() {
        let mut seen_first = [0u32; 5];
        for _ in 0..1000 {
            let mut o = [0usize; 5];
            shuffle(&mut o);
            let mut s = o;
            s.sort();
            assert_eq!(s, [0, 1, 2, 3, 4]);
            seen_first[o[0]] += 1;
        }
        assert!(seen_first.iter().all(|&c| c > 100), "{seen_first:?}");
    }
}

/// Model check of a select with several cases (runtime/src/loom.rs): the
/// real `select` over real channels, on loom's locks and parking.
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::thread;

    use crate::chan::bounded;

    /// A select over two unbuffered channels, each with a sender arriving
    /// while the select polls, registers or sleeps: it takes exactly one
    /// value, and the other sender's value is still there for a plain
    /// receive afterwards (the losing case's sudog is unlinked, its sender
    /// not consumed).
    /// Caught: `select` not unregistering the losing case (the runtime
    /// throws "sudog dropped while still queued"); `WaitCtx::try_claim` as a
    /// load and a store instead of the CAS (both senders claim the select,
    /// one value is lost: the receive after it finds the channel closed).
    #[test]
    fn loom_select_takes_one_of_two_senders() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let (tx1, rx1) = bounded::<u32>(0);
            let (tx2, rx2) = bounded::<u32>(0);
            let s1 = thread::spawn(move || tx1.send(1).expect("receiver alive"));
            let s2 = thread::spawn(move || tx2.send(2).expect("receiver alive"));
            let (first, rest) = crate::select! {
                recv(rx1) -> v => (v.unwrap(), rx2),
                recv(rx2) -> v => (v.unwrap(), rx1),
            };
            let second = rest.recv().expect("the other sender's value");
            let mut got = [first, second];
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
            s1.join().unwrap();
            s2.join().unwrap();
        });
    }
}
