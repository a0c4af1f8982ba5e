//! trace_buf — one thread's trace events, written without a lock: a ring
//! of [`RING`] four-word records that only its thread writes and any
//! thread may copy at any time (the flight recorder's `write_to`, a trace's
//! `stop`). Each time the ring fills, its thread copies it whole into a
//! chunk under the buffer's lock (once per `RING` events); the flight
//! recorder trims old chunks there (diag/flight.rs).
//!
//! # Reading while the owner writes (a seqlock per ring)
//! Two counters: `begun` (records whose writing started) and `done`
//! (records complete). The owner, for record k in slot k % RING: stores
//! `begun = k + 1`, a Release fence, the four words (Relaxed), then
//! `done = k + 1` (Release). A reader loads `done` (Acquire), copies the
//! records below it, an Acquire fence, then loads `begun`. A word it copied
//! that came from a newer record k + RING means, by the fence pair, that it
//! sees `begun > k + RING`; so it keeps exactly the records k with
//! `k + RING >= begun`, which no newer record has touched. All accesses are
//! atomics: a torn record is thrown away, never read as a data race.
//!
//! # Record layout
//! `[ts, gen << 32 | m, tag | p << 8 | a << 24 | n << 40, g]`: the
//! timestamp (diag/trace_clock.rs ticks), the session, the M (u32::MAX:
//! none), the event's kind, the P held (0xFFFF: none), a small field (a P,
//! a victim, how a slice ended), a count (saturated at 2^24 - 1) and a
//! goroutine id. 32 bytes, where a decoded [`Rec`] is 56.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use crate::loom::{fence, AtomicU64, Mutex};

use super::allgs::WaitReason;
use super::trace::{End, Ev, Rec, NONE_M, NONE_P};

/// Records per ring (a power of two): 8 KiB of words, the least a thread
/// keeps. Four under loom, so a model can wrap it.
#[cfg(not(loom))]
pub(super) const RING: usize = 256;
#[cfg(loom)]
pub(super) const RING: usize = 4;
const WORDS: usize = 4;

/// One encoded record.
pub(super) type Words = [u64; WORDS];

/// One thread's events. Invariants: only the owning thread writes the
/// ring, `begun` and `done`; records below `spill.upto` are in `spill`'s
/// chunks or were dropped by a trim or a clear.
pub(super) struct ThreadBuf {
    ring: Box<[AtomicU64]>,
    begun: AtomicU64,
    done: AtomicU64,
    spill: Mutex<Spill>,
}

/// The full rings copied so far, oldest first. Invariant: `len` is the
/// number of records in `chunks`.
pub(super) struct Spill {
    /// Records below this are spilled (or dropped).
    upto: u64,
    chunks: VecDeque<Vec<Words>>,
    len: usize,
    /// A dropped chunk's memory, for the next spill.
    spare: Option<Vec<Words>>,
}

impl Spill {
    /// Records held in chunks.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The newest timestamp of the oldest chunk.
    pub(super) fn oldest_chunk_end(&self) -> Option<u64> {
        self.chunks.front().and_then(|c| c.last()).map(|w| w[0])
    }

    /// Drops the oldest chunk (keeping its memory for the next spill).
    pub(super) fn drop_oldest(&mut self) {
        if let Some(mut c) = self.chunks.pop_front() {
            self.len -= c.len();
            c.clear();
            self.spare = Some(c);
        }
    }

    fn take_all(&mut self) -> Vec<Words> {
        self.len = 0;
        std::mem::take(&mut self.chunks)
            .into_iter()
            .flatten()
            .collect()
    }
}

impl ThreadBuf {
    pub(super) fn new() -> ThreadBuf {
        ThreadBuf {
            ring: (0..RING * WORDS).map(|_| AtomicU64::new(0)).collect(),
            begun: AtomicU64::new(0),
            done: AtomicU64::new(0),
            spill: Mutex::new(Spill {
                upto: 0,
                chunks: VecDeque::new(),
                len: 0,
                spare: None,
            }),
        }
    }

    /// Appends a record (owner only). True when the ring has just filled:
    /// the owner should [`spill`](Self::spill) before its next push.
    #[inline]
    pub(super) fn push(&self, w: Words) -> bool {
        // Relaxed: only this thread writes `begun`.
        let k = self.begun.load(Ordering::Relaxed);
        self.begun.store(k + 1, Ordering::Relaxed);
        // Release: a reader that sees a word below sees `begun` above
        // (module header).
        fence(Ordering::Release);
        let base = (k as usize % RING) * WORDS;
        for (slot, v) in self.ring[base..base + WORDS].iter().zip(w) {
            // Relaxed: published by the Release store of `done`.
            slot.store(v, Ordering::Relaxed);
        }
        self.done.store(k + 1, Ordering::Release);
        (k + 1).is_multiple_of(RING as u64)
    }

    /// Copies the full ring into a chunk (owner only, right after the push
    /// that filled it), then lets `trim` drop old chunks.
    pub(super) fn spill(&self, trim: impl FnOnce(&mut Spill)) {
        // Relaxed: the owner's own writes.
        let hi = self.done.load(Ordering::Relaxed);
        let spare = self.spill.lock().spare.take();
        let mut chunk = spare.unwrap_or_else(|| Vec::with_capacity(RING));
        // The ring is full and its oldest record is in slot 0 (`hi` is a
        // multiple of RING): the records in order are the slots in order.
        debug_assert!(hi.is_multiple_of(RING as u64));
        chunk.extend(self.ring.chunks_exact(WORDS).map(|w| {
            // Relaxed: the owner's own writes.
            std::array::from_fn(|i| w[i].load(Ordering::Relaxed))
        }));
        let mut s = self.spill.lock();
        s.len += chunk.len();
        s.chunks.push_back(chunk);
        s.upto = hi;
        trim(&mut s);
    }

    /// The records from `from` to `done` that no newer record has
    /// overwritten (any thread; module header).
    fn read_tail(&self, from: u64) -> Vec<Words> {
        let done = self.done.load(Ordering::Acquire);
        let lo = from.max(done.saturating_sub(RING as u64));
        let recs: Vec<Words> = self.copy(lo, done).collect();
        // Acquire: pairs with the owner's Release fence (module header).
        fence(Ordering::Acquire);
        let begun = self.begun.load(Ordering::Relaxed);
        let valid = begun.saturating_sub(RING as u64).max(lo);
        let skip = (valid - lo).min(recs.len() as u64) as usize;
        recs[skip..].to_vec()
    }

    /// Records `lo..hi` as they are in the ring now.
    fn copy(&self, lo: u64, hi: u64) -> impl Iterator<Item = Words> + '_ {
        (lo..hi).map(|k| {
            let base = (k as usize % RING) * WORDS;
            // Relaxed: validated by the caller (module header).
            std::array::from_fn(|i| self.ring[base + i].load(Ordering::Relaxed))
        })
    }

    /// Every record held: the chunks, then the ring's records not yet
    /// spilled. `take` empties the chunks (a trace's `stop`); otherwise
    /// they stay (the flight recorder's `write_to`).
    pub(super) fn collect(&self, take: bool) -> Vec<Words> {
        let mut s = self.spill.lock();
        let mut all: Vec<Words> = if take {
            s.take_all()
        } else {
            s.chunks.iter().flatten().copied().collect()
        };
        // Under the lock: the owner cannot spill, so it cannot wrap past
        // `upto` while we read.
        all.extend(self.read_tail(s.upto));
        if take {
            s.upto = self.done.load(Ordering::Acquire);
        }
        all
    }

    /// Drops every record held.
    pub(super) fn clear(&self) {
        let mut s = self.spill.lock();
        s.take_all();
        s.upto = self.done.load(Ordering::Acquire);
    }

    /// Records held (chunks and the ring's unspilled ones).
    pub(super) fn len(&self) -> usize {
        let s = self.spill.lock();
        let tail = self.done.load(Ordering::Acquire).saturating_sub(s.upto);
        s.len() + (tail as usize).min(RING)
    }
}

const TAG_GO_START: u64 = 0;
const TAG_GO_END: u64 = 1;
const TAG_STEAL: u64 = 2;
const TAG_HANDOFF: u64 = 3;
const TAG_SYSCALL_ENTER: u64 = 4;
const TAG_SYSCALL_EXIT: u64 = 5;
const TAG_NETPOLL: u64 = 6;

const NO_P16: u64 = 0xFFFF;
const N_MAX: u64 = (1 << 24) - 1;

/// Encodes a record (module header).
#[inline]
pub(super) fn encode(ts: u64, gen: u32, m: u64, p: usize, ev: Ev) -> Words {
    let m32 = if m == NONE_M {
        u64::from(u32::MAX)
    } else {
        m & 0xFFFF_FFFF
    };
    let p16 = if p == NONE_P {
        NO_P16
    } else {
        p as u64 & 0xFFFF
    };
    let (tag, a, n, g) = match ev {
        Ev::GoStart { g, p } => (TAG_GO_START, p as u64, 0, g),
        Ev::GoEnd { g, end } => (TAG_GO_END, end_code(end), 0, g),
        Ev::Steal { victim, g, n } => (TAG_STEAL, victim as u64, n as u64, g),
        Ev::Handoff { p } => (TAG_HANDOFF, p as u64, 0, 0),
        Ev::SyscallEnter { g } => (TAG_SYSCALL_ENTER, 0, 0, g),
        Ev::SyscallExit { g } => (TAG_SYSCALL_EXIT, 0, 0, g),
        Ev::NetpollWake { n } => (TAG_NETPOLL, 0, n as u64, 0),
    };
    [
        ts,
        u64::from(gen) << 32 | m32,
        tag | p16 << 8 | (a & 0xFFFF) << 24 | n.min(N_MAX) << 40,
        g,
    ]
}

/// The session a record belongs to.
pub(super) fn gen_of(w: &Words) -> u32 {
    (w[1] >> 32) as u32
}

/// Decodes a record, its timestamp turned into nanoseconds by `ns`.
pub(super) fn decode(w: &Words, ns: impl Fn(u64) -> u64) -> Rec {
    let m32 = w[1] & 0xFFFF_FFFF;
    let p16 = (w[2] >> 8) & 0xFFFF;
    let a = ((w[2] >> 24) & 0xFFFF) as usize;
    let n = (w[2] >> 40) as usize;
    let g = w[3];
    let ev = match w[2] & 0xFF {
        TAG_GO_START => Ev::GoStart { g, p: a },
        TAG_GO_END => Ev::GoEnd {
            g,
            end: end_of(a as u64),
        },
        TAG_STEAL => Ev::Steal { victim: a, g, n },
        TAG_HANDOFF => Ev::Handoff { p: a },
        TAG_SYSCALL_ENTER => Ev::SyscallEnter { g },
        TAG_SYSCALL_EXIT => Ev::SyscallExit { g },
        _ => Ev::NetpollWake { n },
    };
    Rec {
        ts: ns(w[0]),
        m: if m32 == u64::from(u32::MAX) {
            NONE_M
        } else {
            m32
        },
        p: if p16 == NO_P16 { NONE_P } else { p16 as usize },
        ev,
    }
}

fn end_code(end: End) -> u64 {
    match end {
        End::Yield => 0,
        End::Preempt => 1,
        End::Exit => 2,
        End::Park(r) => 3 + r as u64,
    }
}

fn end_of(code: u64) -> End {
    match code {
        0 => End::Yield,
        1 => End::Preempt,
        2 => End::Exit,
        c => End::Park(WaitReason::from_u8((c - 3) as u8)),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn rec(i: u64) -> Words {
        encode(i, 7, 3, 1, Ev::GoStart { g: i, p: 1 })
    }

    #[test]
    fn every_event_survives_encoding() {
        let evs = [
            Ev::GoStart { g: 42, p: 3 },
            Ev::GoEnd {
                g: 42,
                end: End::Park(WaitReason::ChanReceive),
            },
            Ev::GoEnd {
                g: 1 << 40,
                end: End::Preempt,
            },
            Ev::Steal {
                victim: 1023,
                g: 9,
                n: 128,
            },
            Ev::Handoff { p: 5 },
            Ev::SyscallEnter { g: 8 },
            Ev::SyscallExit { g: 0 },
            Ev::NetpollWake { n: 1 << 30 },
        ];
        for (i, ev) in evs.into_iter().enumerate() {
            let (m, p) = if i % 2 == 0 {
                (NONE_M, NONE_P)
            } else {
                (12, 1023)
            };
            let w = encode(1000 + i as u64, 5, m, p, ev);
            assert_eq!(gen_of(&w), 5);
            let r = decode(&w, |t| t * 2);
            assert_eq!((r.ts, r.m, r.p), (2 * (1000 + i as u64), m, p));
            let want = match ev {
                Ev::NetpollWake { .. } => Ev::NetpollWake { n: N_MAX as usize },
                e => e,
            };
            assert_eq!(format!("{:?}", r.ev), format!("{want:?}"));
        }
    }

    #[test]
    fn spills_keep_order_and_collect_takes_everything_once() {
        let b = ThreadBuf::new();
        let n = 3 * RING as u64 + 100;
        for i in 0..n {
            if b.push(rec(i)) {
                b.spill(|_| {});
            }
        }
        assert_eq!(b.len(), n as usize);
        let all = b.collect(false);
        assert!(all.iter().map(|w| w[0]).eq(0..n));
        assert_eq!(b.collect(true).len(), n as usize);
        assert_eq!(b.collect(true).len(), 0);
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn a_reader_beside_the_writer_sees_whole_records_in_order() {
        let b = std::sync::Arc::new(ThreadBuf::new());
        let w = b.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                if w.push(rec(i)) {
                    // Keep only the last chunk: the reader races the ring.
                    w.spill(|s| {
                        while s.len() > RING {
                            s.drop_oldest();
                        }
                    });
                }
            }
        });
        let mut reads = 0;
        while !writer.is_finished() || reads == 0 {
            let got = b.read_tail(0);
            // Whole records (ts and g written together), consecutive.
            assert!(got.iter().all(|w| w[0] == w[3]));
            assert!(got.windows(2).all(|p| p[1][0] == p[0][0] + 1));
            reads += 1;
        }
        writer.join().unwrap();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// A reader copying the ring while its owner wraps over it keeps only
    /// records no newer one has touched (a ring of RING = 4 records, the
    /// writer writing two more). Seen to catch: keeping records without
    /// checking `begun`; either fence removed.
    #[test]
    fn loom_ring_reader_never_keeps_an_overwritten_record() {
        loom::model(|| {
            let b = Arc::new(ThreadBuf::new());
            for i in 0..RING as u64 - 1 {
                b.push([i, 0, 0, i]);
            }
            let w = b.clone();
            let writer = loom::thread::spawn(move || {
                w.push([RING as u64 - 1, 0, 0, RING as u64 - 1]);
                w.push([RING as u64, 0, 0, RING as u64]);
            });
            let got = b.read_tail(0);
            for r in &got {
                assert_eq!(r[0], r[3], "a torn record was kept");
            }
            // The records kept are consecutive and end at `done`.
            assert!(got.windows(2).all(|p| p[1][0] == p[0][0] + 1));
            writer.join().unwrap();
        });
    }
}
