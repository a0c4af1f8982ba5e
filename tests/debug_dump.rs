//! Goroutine dumps (`gort::debug::dump_goroutines`): a goroutine blocked on
//! a channel is listed with Go's header (`goroutine N [chan receive]:`), its
//! name and the file:line that spawned it; every park site shows its own
//! wait reason; a running goroutine shows its M and P.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::with_timeout;
use gort::chan::bounded;

/// The dump as text.
fn dump() -> String {
    let mut v = Vec::new();
    gort::debug::dump_goroutines(&mut v).expect("write to a Vec");
    String::from_utf8(v).expect("UTF-8 dump")
}

/// The block of goroutine `id` in the dump, if listed.
fn block(text: &str, id: u64) -> Option<String> {
    let head = format!("goroutine {id} [");
    text.split("\n\n")
        .find(|b| b.starts_with(&head))
        .map(str::to_string)
}

/// Waits (yielding) until goroutine `id`'s block satisfies `ok`; returns it.
fn await_block(id: u64, ok: impl Fn(&str) -> bool) -> String {
    loop {
        let text = dump();
        if let Some(b) = block(&text, id).filter(|b| ok(b)) {
            return b;
        }
        std::thread::yield_now();
    }
}

#[test]
fn blocked_on_a_channel_shows_reason_name_and_creation_site() {
    with_timeout(Duration::from_secs(30), || {
        let (tx, rx) = bounded::<u32>(0);
        let (h, line) = (
            gort::Builder::new()
                .name("receiver")
                .spawn(move || rx.recv().unwrap())
                .unwrap(),
            line!() - 2,
        );
        let b = await_block(h.id(), |b| b.contains("[chan receive]"));
        println!("{b}");
        let mut lines = b.lines();
        assert_eq!(
            lines.next(),
            Some(format!("goroutine {} [chan receive]:", h.id()).as_str())
        );
        let detail = lines.next().expect("gort's line");
        assert!(detail.starts_with("\tname=receiver wait="), "{detail}");
        let created = lines.next().expect("created by line");
        let want = format!("created by tests/debug_dump.rs:{line}:");
        assert!(created.starts_with(&want), "{created} vs {want}");
        tx.send(7).unwrap();
        let id = h.id();
        assert_eq!(h.join().unwrap(), 7);
        // Gone from the dump once it has exited.
        loop {
            if block(&dump(), id).is_none() {
                break;
            }
            std::thread::yield_now();
        }
    });
}

#[test]
fn go_macro_records_the_spawning_line_and_parent() {
    with_timeout(Duration::from_secs(30), || {
        let outer = gort::go!(|| {
            let (tx, rx) = bounded::<()>(0);
            let (h, line) = (gort::go!(move || rx.recv()), line!());
            let b = await_block(h.id(), |b| b.contains("[chan receive]"));
            drop(tx);
            let _ = h.join();
            (b, line)
        });
        let outer_id = outer.id();
        let (b, line) = outer.join().unwrap();
        let want = format!("created by tests/debug_dump.rs:{line}:");
        assert!(b.contains(&want), "{b}\nwant {want}");
        assert!(b.contains(&format!(" in goroutine {outer_id}")), "{b}");
    });
}

#[test]
fn every_park_site_has_its_reason() {
    with_timeout(Duration::from_secs(30), || {
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let (full_tx, full_rx) = bounded::<u32>(0);
        let mutex = Arc::new(gort::sync::Mutex::new(()));
        let held = mutex.lock();
        let wg = gort::sync::WaitGroup::new();
        wg.add(1);
        let sem = Arc::new(gort::sync::Semaphore::new(0));
        let rw = Arc::new(gort::sync::RwLock::new(()));
        let w = rw.write();

        let mut want: Vec<(gort::JoinHandle<()>, &str)> = Vec::new();
        let rx = stop_rx.clone();
        want.push((
            gort::go!(move || {
                let _ = rx.recv();
            }),
            "chan receive",
        ));
        want.push((
            gort::go!(move || {
                let _ = full_tx.send(1);
            }),
            "chan send",
        ));
        let rx = stop_rx.clone();
        want.push((
            gort::go!(move || gort::select! { recv(rx) -> _ => {} }),
            "select",
        ));
        want.push((
            gort::go!(|| gort::time::sleep(Duration::from_secs(3600))),
            "sleep",
        ));
        let m = mutex.clone();
        want.push((gort::go!(move || drop(m.lock())), "sync.Mutex.Lock"));
        let wg2 = wg.clone();
        want.push((gort::go!(move || wg2.wait()), "sync.WaitGroup.Wait"));
        let s = sem.clone();
        want.push((gort::go!(move || drop(s.acquire())), "semacquire"));
        let r = rw.clone();
        want.push((gort::go!(move || drop(r.read())), "sync.RWMutex.RLock"));
        let (never_tx, never_rx) = bounded::<()>(0);
        let joined = gort::go!(move || {
            let _ = never_rx.recv();
        });
        want.push((gort::go!(move || drop(joined.join())), "join"));

        for (h, reason) in &want {
            let b = await_block(h.id(), |b| b.contains(&format!("[{reason}]")));
            println!("{b}\n");
        }

        // Release everyone except the sleeper, then check they all leave.
        drop((held, w));
        wg.done();
        sem.add_permits(1);
        drop((stop_tx, never_tx));
        drop(full_rx);
        for (h, reason) in want {
            if reason != "sleep" {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn a_running_goroutine_shows_its_m_and_p() {
    with_timeout(Duration::from_secs(30), || {
        let h = gort::go!(|| {
            let me = dump();
            me.split("\n\n")
                .find(|b| b.contains("[running]") && b.contains("\tm=") && b.contains(" p="))
                .map(str::to_string)
        });
        let id = h.id();
        let b = h
            .join()
            .unwrap()
            .expect("a running goroutine with m= and p=");
        assert!(b.starts_with(&format!("goroutine {id} [running]:")), "{b}");
    });
}
