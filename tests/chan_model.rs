//! Go's channel semantics, checked against a model on random programs
//! (proptest), at GOMAXPROCS 1 and 2 with a 1 ms time slice.
//!
//! - `sequential`: one goroutine runs a random sequence of try_send,
//!   try_recv, send, recv, select (with and without default), len and
//!   drops on three channels of random capacity (0 to 3). Every result must
//!   be the model's: a `VecDeque` per channel with its capacity and which
//!   ends are alive. A select must pick a case the model says is ready, and
//!   its default only when none is.
//! - `concurrent`: producer and consumer goroutines run random scripts of
//!   blocking, non-blocking, timed and select operations and early drops on
//!   shared channels. Afterwards: every value received was sent by a send
//!   that reported success, and received once; each consumer saw each
//!   producer's values on a channel in the order they were sent; a failed
//!   send gave its own value back; nothing sent to a channel that a consumer
//!   drained to disconnection was lost; `len` never exceeded the capacity.
//!   Scripts cannot deadlock: a consumer only blocks in a select over every
//!   receiver it still holds, so a blocked producer always has a consumer
//!   that will take its value or drop the last receiver.
//!
//! Seen to fail (with a shrunk program) when a receive takes from the back
//! of the buffer (`sequential`), and when a waiting sender's value is
//! dropped instead of moved into the buffer behind a receive (`concurrent`).
//!
//! `GORT_SOAK=<seconds>` runs new random cases for that long.

mod common;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use gort::chan::{
    bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use common::soak;

/// Channels in every program.
const CHANS: usize = 3;
/// Random programs per run, in CI's short form.
const SEQUENTIAL_CASES: u32 = 1024;
const CONCURRENT_CASES: u32 = 256;
/// The wait of a timed operation.
const TIMED: Duration = Duration::from_millis(1);

fn limit() -> Duration {
    soak().unwrap_or_default() * 2 + Duration::from_secs(120)
}

sliced_children!(model_p1, model_p2, "model:", run_models, limit());

fn run_models() {
    let n = check(
        "sequential",
        SEQUENTIAL_CASES,
        sequential_program(),
        run_sequential,
    );
    println!("model: sequential, {n} programs");
    let n = check(
        "concurrent",
        CONCURRENT_CASES,
        concurrent_program(),
        run_concurrent,
    );
    println!("model: concurrent, {n} programs");
}

/// Runs `cases` random programs through `test` (in soak mode, batches of
/// them until the soak time has passed); panics with the smallest failing
/// program found. Returns how many programs ran.
fn check<S: Strategy>(
    what: &str,
    cases: u32,
    strategy: S,
    test: fn(&S::Value) -> Result<(), TestCaseError>,
) -> u64
where
    S::Value: std::fmt::Debug,
{
    let end = soak().map(|d| Instant::now() + d);
    let mut ran = 0u64;
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            max_shrink_iters: 512,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, |p| test(&p)) {
            panic!("{what}: {e}");
        }
        ran += u64::from(cases);
        if end.is_none_or(|end| Instant::now() >= end) {
            return ran;
        }
    }
}

// ---------------------------------------------------------------------------
// One goroutine against the model.

#[derive(Debug, Clone)]
enum SeqOp {
    TrySend(usize),
    TryRecv(usize),
    /// Only run when the model says it completes at once.
    Send(usize),
    Recv(usize),
    /// `select!` over recv(a), recv(b), send(c), with or without default
    /// (without, only run when the model says a case is ready).
    Select(usize, usize, usize, bool),
    Len(usize),
    DropTx(usize),
    DropRx(usize),
}

fn chan_index() -> impl Strategy<Value = usize> {
    0..CHANS
}

fn seq_op() -> impl Strategy<Value = SeqOp> {
    prop_oneof![
        4 => chan_index().prop_map(SeqOp::TrySend),
        4 => chan_index().prop_map(SeqOp::TryRecv),
        2 => chan_index().prop_map(SeqOp::Send),
        2 => chan_index().prop_map(SeqOp::Recv),
        4 => (chan_index(), chan_index(), chan_index(), any::<bool>())
            .prop_map(|(a, b, c, d)| SeqOp::Select(a, b, c, d)),
        1 => chan_index().prop_map(SeqOp::Len),
        1 => chan_index().prop_map(SeqOp::DropTx),
        1 => chan_index().prop_map(SeqOp::DropRx),
    ]
}

fn sequential_program() -> impl Strategy<Value = ([usize; CHANS], Vec<SeqOp>)> {
    (
        [0..4usize, 0..4usize, 0..4usize],
        prop::collection::vec(seq_op(), 0..60),
    )
}

/// The reference: one channel as Go defines it.
struct Model {
    buf: VecDeque<u64>,
    cap: usize,
    tx_alive: bool,
    rx_alive: bool,
}

impl Model {
    /// A send completes now: to a dropped receiver it fails at once.
    fn send_ready(&self) -> bool {
        !self.rx_alive || self.buf.len() < self.cap
    }

    fn recv_ready(&self) -> bool {
        !self.buf.is_empty() || !self.tx_alive
    }

    /// The outcome of a send that is ready: Ok (queued) or Err (no receiver).
    fn send(&mut self, v: u64) -> Result<(), u64> {
        if !self.rx_alive {
            return Err(v);
        }
        self.buf.push_back(v);
        Ok(())
    }

    /// The outcome of a receive that is ready: a value or disconnected.
    fn recv(&mut self) -> Option<u64> {
        self.buf.pop_front()
    }
}

/// The channels' ends held by the goroutine; `None` once dropped.
struct Ends {
    tx: Vec<Option<Sender<u64>>>,
    rx: Vec<Option<Receiver<u64>>>,
}

fn run_sequential(prog: &([usize; CHANS], Vec<SeqOp>)) -> Result<(), TestCaseError> {
    let (caps, ops) = prog.clone();
    gort::go!(move || sequential_steps(caps, &ops))
        .join()
        .expect("the program's goroutine panicked")
}

fn sequential_steps(caps: [usize; CHANS], ops: &[SeqOp]) -> Result<(), TestCaseError> {
    let mut models: Vec<Model> = caps
        .iter()
        .map(|&cap| Model {
            buf: VecDeque::new(),
            cap,
            tx_alive: true,
            rx_alive: true,
        })
        .collect();
    let mut ends = Ends {
        tx: Vec::new(),
        rx: Vec::new(),
    };
    for &cap in &caps {
        let (tx, rx) = bounded(cap);
        ends.tx.push(Some(tx));
        ends.rx.push(Some(rx));
    }
    let mut next = 0u64;
    for (i, op) in ops.iter().enumerate() {
        next += 1;
        step(op, next, &mut ends, &mut models)
            .map_err(|e| TestCaseError::fail(format!("step {i} {op:?}: {e}")))?;
    }
    Ok(())
}

/// Runs one operation on the real channels and the model; Err says how
/// they differ.
fn step(op: &SeqOp, v: u64, ends: &mut Ends, models: &mut [Model]) -> Result<(), String> {
    match *op {
        SeqOp::TrySend(c) => {
            let Some(tx) = &ends.tx[c] else { return Ok(()) };
            let m = &mut models[c];
            let want = if m.send_ready() {
                Some(m.send(v))
            } else {
                None
            };
            match (tx.try_send(v), want) {
                (Ok(()), Some(Ok(()))) => Ok(()),
                (Err(TrySendError::Disconnected(b)), Some(Err(_))) if b == v => Ok(()),
                (Err(TrySendError::Full(b)), None) if b == v => Ok(()),
                (got, want) => Err(format!("try_send gave {got:?}, model {want:?}")),
            }
        }
        SeqOp::TryRecv(c) => {
            let Some(rx) = &ends.rx[c] else { return Ok(()) };
            let m = &mut models[c];
            let want = if m.recv_ready() { Some(m.recv()) } else { None };
            match (rx.try_recv(), want) {
                (Ok(got), Some(Some(w))) if got == w => Ok(()),
                (Err(TryRecvError::Disconnected), Some(None)) => Ok(()),
                (Err(TryRecvError::Empty), None) => Ok(()),
                (got, want) => Err(format!("try_recv gave {got:?}, model {want:?}")),
            }
        }
        SeqOp::Send(c) => {
            let Some(tx) = &ends.tx[c] else { return Ok(()) };
            let m = &mut models[c];
            if !m.send_ready() {
                return Ok(()); // would wait for a receiver that never comes
            }
            match (tx.send(v), m.send(v)) {
                (Ok(()), Ok(())) => Ok(()),
                (Err(e), Err(_)) if e.0 == v => Ok(()),
                (got, want) => Err(format!("send gave {got:?}, model {want:?}")),
            }
        }
        SeqOp::Recv(c) => {
            let Some(rx) = &ends.rx[c] else { return Ok(()) };
            let m = &mut models[c];
            if !m.recv_ready() {
                return Ok(());
            }
            match (rx.recv(), m.recv()) {
                (Ok(got), Some(w)) if got == w => Ok(()),
                (Err(_), None) => Ok(()),
                (got, want) => Err(format!("recv gave {got:?}, model {want:?}")),
            }
        }
        SeqOp::Select(a, b, c, default) => select_step(a, b, c, default, v, ends, models),
        SeqOp::Len(c) => {
            let want = models[c].buf.len();
            let got = match (&ends.tx[c], &ends.rx[c]) {
                (Some(tx), _) => tx.len(),
                (None, Some(rx)) => rx.len(),
                (None, None) => return Ok(()),
            };
            if got == want {
                Ok(())
            } else {
                Err(format!("len {got}, model {want}"))
            }
        }
        SeqOp::DropTx(c) => {
            if ends.tx[c].take().is_some() {
                models[c].tx_alive = false;
            }
            Ok(())
        }
        SeqOp::DropRx(c) => {
            if ends.rx[c].take().is_some() {
                // The last receiver takes the buffer with it.
                models[c].rx_alive = false;
                models[c].buf.clear();
            }
            Ok(())
        }
    }
}

/// What a select did: which case, and its result.
#[derive(Debug, PartialEq)]
enum Picked {
    RecvA(Option<u64>),
    RecvB(Option<u64>),
    SendC(Result<(), u64>),
    Default,
}

/// `select!` over recv(a), recv(b), send(c, v), with a default if
/// `default`; checks the pick against the model and applies it.
fn select_step(
    a: usize,
    b: usize,
    c: usize,
    default: bool,
    v: u64,
    ends: &mut Ends,
    models: &mut [Model],
) -> Result<(), String> {
    let (Some(ra), Some(rb), Some(tc)) = (&ends.rx[a], &ends.rx[b], &ends.tx[c]) else {
        return Ok(());
    };
    let ready = [
        models[a].recv_ready(),
        models[b].recv_ready(),
        models[c].send_ready(),
    ];
    if !default && !ready.contains(&true) {
        return Ok(()); // would wait forever
    }
    let got = if default {
        gort::select! {
            recv(ra) -> r => Picked::RecvA(r.ok()),
            recv(rb) -> r => Picked::RecvB(r.ok()),
            send(tc, v) -> r => Picked::SendC(r.map_err(|e| e.0)),
            default => Picked::Default,
        }
    } else {
        gort::select! {
            recv(ra) -> r => Picked::RecvA(r.ok()),
            recv(rb) -> r => Picked::RecvB(r.ok()),
            send(tc, v) -> r => Picked::SendC(r.map_err(|e| e.0)),
        }
    };
    let want = match got {
        Picked::RecvA(_) if ready[0] => Picked::RecvA(models[a].recv()),
        Picked::RecvB(_) if ready[1] => Picked::RecvB(models[b].recv()),
        Picked::SendC(_) if ready[2] => Picked::SendC(models[c].send(v)),
        Picked::Default if !ready.contains(&true) => Picked::Default,
        _ => return Err(format!("select picked {got:?}, ready cases {ready:?}")),
    };
    if got == want {
        Ok(())
    } else {
        Err(format!("select gave {got:?}, model {want:?}"))
    }
}

// ---------------------------------------------------------------------------
// Producers and consumers against the laws.

#[derive(Debug, Clone)]
enum ProdOp {
    Send(usize),
    TrySend(usize),
    SendTimeout(usize),
    /// Blocking select over two send cases.
    SelectSend(usize, usize),
    /// The same with a default.
    SelectSendDefault(usize, usize),
    Yield,
    Drop(usize),
}

#[derive(Debug, Clone)]
enum ConsOp {
    TryRecv(usize),
    RecvTimeout(usize),
    /// Blocking select over every receiver still held (`recv` when one).
    RecvAny,
    /// select over two receivers, with a default.
    SelectRecvDefault(usize, usize),
    Len(usize),
    Yield,
    /// Ignored for consumer 0 when the program keeps it whole.
    Drop(usize),
}

#[derive(Debug, Clone)]
struct Program {
    caps: [usize; CHANS],
    producers: Vec<Vec<ProdOp>>,
    consumers: Vec<Vec<ConsOp>>,
    /// Consumer 0 never drops a receiver early.
    keep_one: bool,
}

fn prod_op() -> impl Strategy<Value = ProdOp> {
    prop_oneof![
        4 => chan_index().prop_map(ProdOp::Send),
        3 => chan_index().prop_map(ProdOp::TrySend),
        2 => chan_index().prop_map(ProdOp::SendTimeout),
        2 => (chan_index(), chan_index()).prop_map(|(a, b)| ProdOp::SelectSend(a, b)),
        2 => (chan_index(), chan_index()).prop_map(|(a, b)| ProdOp::SelectSendDefault(a, b)),
        1 => Just(ProdOp::Yield),
        1 => chan_index().prop_map(ProdOp::Drop),
    ]
}

fn cons_op() -> impl Strategy<Value = ConsOp> {
    prop_oneof![
        3 => chan_index().prop_map(ConsOp::TryRecv),
        2 => chan_index().prop_map(ConsOp::RecvTimeout),
        4 => Just(ConsOp::RecvAny),
        2 => (chan_index(), chan_index()).prop_map(|(a, b)| ConsOp::SelectRecvDefault(a, b)),
        1 => chan_index().prop_map(ConsOp::Len),
        1 => Just(ConsOp::Yield),
        1 => chan_index().prop_map(ConsOp::Drop),
    ]
}

fn concurrent_program() -> impl Strategy<Value = Program> {
    (
        [0..4usize, 0..4usize, 0..4usize],
        prop::collection::vec(prop::collection::vec(prod_op(), 0..25), 1..4),
        prop::collection::vec(prop::collection::vec(cons_op(), 0..25), 1..4),
        any::<bool>(),
    )
        .prop_map(|(caps, producers, consumers, keep_one)| Program {
            caps,
            producers,
            consumers,
            keep_one,
        })
}

/// What a producer saw: (channel, value) of each send that succeeded, and
/// of each that failed for good (the value came back: disconnected).
#[derive(Default)]
struct Sent {
    ok: Vec<(usize, u64)>,
    refused: Vec<(usize, u64)>,
    /// A returned value that differs from the one sent.
    wrong: Vec<String>,
}

/// What a consumer saw: (channel, value) in the order received, channels
/// it saw disconnected and empty, and any broken law.
#[derive(Default)]
struct Received {
    got: Vec<(usize, u64)>,
    drained: Vec<usize>,
    wrong: Vec<String>,
}

fn run_concurrent(p: &Program) -> Result<(), TestCaseError> {
    let mut txs = Vec::new();
    let mut rxs = Vec::new();
    for &cap in &p.caps {
        let (tx, rx) = bounded::<u64>(cap);
        txs.push(tx);
        rxs.push(rx);
    }
    let producers: Vec<_> = p
        .producers
        .iter()
        .enumerate()
        .map(|(id, ops)| {
            let ends: Vec<_> = txs.iter().cloned().map(Some).collect();
            let ops = ops.clone();
            gort::go!(move || produce(id as u64, ends, &ops))
        })
        .collect();
    let consumers: Vec<_> = p
        .consumers
        .iter()
        .enumerate()
        .map(|(id, ops)| {
            let ends: Vec<_> = rxs.iter().cloned().map(Some).collect();
            let ops = ops.clone();
            let keep = id == 0 && p.keep_one;
            let caps = p.caps;
            gort::go!(move || consume(ends, &ops, keep, caps))
        })
        .collect();
    drop((txs, rxs));
    let sent: Vec<Sent> = producers
        .into_iter()
        .map(|h| h.join().expect("a producer panicked"))
        .collect();
    let received: Vec<Received> = consumers
        .into_iter()
        .map(|h| h.join().expect("a consumer panicked"))
        .collect();
    check_laws(&sent, &received)
}

fn produce(id: u64, mut tx: Vec<Option<Sender<u64>>>, ops: &[ProdOp]) -> Sent {
    let mut out = Sent::default();
    let mut seq = 0u64;
    let mut value = |c: usize| {
        seq += 1;
        (c, (id << 32) | seq)
    };
    for op in ops {
        match *op {
            ProdOp::Send(c) => {
                let Some(t) = &tx[c] else { continue };
                let (c, v) = value(c);
                match t.send(v) {
                    Ok(()) => out.ok.push((c, v)),
                    Err(e) => refused(&mut out, c, v, e.0),
                }
            }
            ProdOp::TrySend(c) => {
                let Some(t) = &tx[c] else { continue };
                let (c, v) = value(c);
                match t.try_send(v) {
                    Ok(()) => out.ok.push((c, v)),
                    Err(TrySendError::Full(b)) => returned(&mut out, v, b),
                    Err(TrySendError::Disconnected(b)) => refused(&mut out, c, v, b),
                }
            }
            ProdOp::SendTimeout(c) => {
                let Some(t) = &tx[c] else { continue };
                let (c, v) = value(c);
                match t.send_timeout(v, TIMED) {
                    Ok(()) => out.ok.push((c, v)),
                    Err(SendTimeoutError::Timeout(b)) => returned(&mut out, v, b),
                    Err(SendTimeoutError::Disconnected(b)) => refused(&mut out, c, v, b),
                }
            }
            ProdOp::SelectSend(a, b) | ProdOp::SelectSendDefault(a, b) => {
                let (Some(ta), Some(tb)) = (&tx[a], &tx[b]) else {
                    continue;
                };
                let (a, va) = value(a);
                let (b, vb) = value(b);
                let default = matches!(op, ProdOp::SelectSendDefault(..));
                let r = if default {
                    gort::select! {
                        send(ta, va) -> r => Some((a, va, r)),
                        send(tb, vb) -> r => Some((b, vb, r)),
                        default => None,
                    }
                } else {
                    gort::select! {
                        send(ta, va) -> r => Some((a, va, r)),
                        send(tb, vb) -> r => Some((b, vb, r)),
                    }
                };
                match r {
                    Some((c, v, Ok(()))) => out.ok.push((c, v)),
                    Some((c, v, Err(e))) => refused(&mut out, c, v, e.0),
                    None => {}
                }
            }
            ProdOp::Yield => gort::yield_now(),
            ProdOp::Drop(c) => tx[c] = None,
        }
    }
    out
}

/// A send that failed for good: its value must have come back.
fn refused(out: &mut Sent, c: usize, v: u64, back: u64) {
    returned(out, v, back);
    out.refused.push((c, v));
}

fn returned(out: &mut Sent, v: u64, back: u64) {
    if back != v {
        out.wrong
            .push(format!("sent {v:#x}, the error gave back {back:#x}"));
    }
}

fn consume(
    mut rx: Vec<Option<Receiver<u64>>>,
    ops: &[ConsOp],
    keep: bool,
    caps: [usize; CHANS],
) -> Received {
    let mut out = Received::default();
    for op in ops {
        match *op {
            ConsOp::TryRecv(c) => {
                let Some(r) = &rx[c] else { continue };
                match r.try_recv() {
                    Ok(v) => out.got.push((c, v)),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => disconnected(&mut out, &mut rx, c),
                }
            }
            ConsOp::RecvTimeout(c) => {
                let Some(r) = &rx[c] else { continue };
                match r.recv_timeout(TIMED) {
                    Ok(v) => out.got.push((c, v)),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => disconnected(&mut out, &mut rx, c),
                }
            }
            ConsOp::RecvAny => recv_any(&mut out, &mut rx),
            ConsOp::SelectRecvDefault(a, b) => {
                let (Some(ra), Some(rb)) = (&rx[a], &rx[b]) else {
                    continue;
                };
                let r = gort::select! {
                    recv(ra) -> r => Some((a, r)),
                    recv(rb) -> r => Some((b, r)),
                    default => None,
                };
                match r {
                    Some((c, Ok(v))) => out.got.push((c, v)),
                    Some((c, Err(_))) => disconnected(&mut out, &mut rx, c),
                    None => {}
                }
            }
            ConsOp::Len(c) => {
                if let Some(r) = &rx[c] {
                    let n = r.len();
                    if n > caps[c] {
                        out.wrong
                            .push(format!("len {n} on a channel of capacity {}", caps[c]));
                    }
                }
            }
            ConsOp::Yield => gort::yield_now(),
            ConsOp::Drop(c) => {
                if !keep {
                    rx[c] = None;
                }
            }
        }
    }
    // Drain what is still held until every channel is disconnected.
    while rx.iter().any(Option::is_some) {
        recv_any(&mut out, &mut rx);
    }
    out
}

/// Blocks until one of the receivers still held has a value or is
/// disconnected (`recv` when only one is held).
fn recv_any(out: &mut Received, rx: &mut [Option<Receiver<u64>>]) {
    let held: Vec<usize> = (0..CHANS).filter(|&c| rx[c].is_some()).collect();
    let (c, r) = match held[..] {
        [] => return,
        [a] => (a, rx[a].as_ref().map(|r| r.recv()).unwrap()),
        [a, b] => {
            let (ra, rb) = (rx[a].as_ref().unwrap(), rx[b].as_ref().unwrap());
            gort::select! {
                recv(ra) -> r => (a, r),
                recv(rb) -> r => (b, r),
            }
        }
        _ => {
            let [Some(r0), Some(r1), Some(r2)] = &rx[..] else {
                unreachable!()
            };
            gort::select! {
                recv(r0) -> r => (0, r),
                recv(r1) -> r => (1, r),
                recv(r2) -> r => (2, r),
            }
        }
    };
    match r {
        Ok(v) => out.got.push((c, v)),
        Err(_) => disconnected(out, rx, c),
    }
}

/// Channel `c` said disconnected: it must stay so (no value after it), and
/// its receiver is dropped.
fn disconnected(out: &mut Received, rx: &mut [Option<Receiver<u64>>], c: usize) {
    if let Some(r) = rx[c].take() {
        match r.try_recv() {
            Err(TryRecvError::Disconnected) => out.drained.push(c),
            other => out
                .wrong
                .push(format!("chan {c}: {other:?} after it was disconnected")),
        }
    }
}

fn check_laws(sent: &[Sent], received: &[Received]) -> Result<(), TestCaseError> {
    let wrong = sent.iter().flat_map(|s| &s.wrong);
    if let Some(w) = wrong.chain(received.iter().flat_map(|r| &r.wrong)).next() {
        return Err(TestCaseError::fail(w.clone()));
    }
    let ok: HashMap<u64, usize> = sent
        .iter()
        .flat_map(|s| &s.ok)
        .map(|&(c, v)| (v, c))
        .collect();
    let refused: HashSet<u64> = sent
        .iter()
        .flat_map(|s| &s.refused)
        .map(|&(_, v)| v)
        .collect();
    let mut seen = HashSet::new();
    for (k, r) in received.iter().enumerate() {
        // The last value seen from each (producer, channel), for FIFO.
        let mut last: HashMap<(u64, usize), u64> = HashMap::new();
        for &(c, v) in &r.got {
            if refused.contains(&v) {
                return Err(TestCaseError::fail(format!(
                    "consumer {k} received {v:#x}, whose send failed"
                )));
            }
            match ok.get(&v) {
                Some(&sc) if sc == c => {}
                Some(&sc) => {
                    return Err(TestCaseError::fail(format!(
                        "{v:#x} sent on chan {sc}, received on {c}"
                    )))
                }
                None => {
                    return Err(TestCaseError::fail(format!(
                        "consumer {k} received {v:#x}, which no successful send sent"
                    )))
                }
            }
            if !seen.insert(v) {
                return Err(TestCaseError::fail(format!("{v:#x} received twice")));
            }
            let (producer, seq) = (v >> 32, v & 0xffff_ffff);
            if let Some(prev) = last.insert((producer, c), seq) {
                if prev > seq {
                    return Err(TestCaseError::fail(format!(
                        "consumer {k} got producer {producer}'s #{seq} on chan {c} after #{prev}"
                    )));
                }
            }
        }
    }
    let drained: HashSet<usize> = received.iter().flat_map(|r| &r.drained).copied().collect();
    for (&v, &c) in &ok {
        if drained.contains(&c) && !seen.contains(&v) {
            return Err(TestCaseError::fail(format!(
                "{v:#x} sent on chan {c}, drained to disconnection, never received"
            )));
        }
    }
    Ok(())
}
