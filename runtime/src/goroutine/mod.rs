//! goroutine — a goroutine as the program sees it: [`spawn`] and
//! [`Builder`] make one (goroutine/spawn.rs, Go's `go` statement and the panic
//! policy), [`JoinHandle`] waits for its result (goroutine/join.rs), [`LocalKey`] is
//! its goroutine-local storage (goroutine/local.rs), and goroutine/entry.rs is what
//! `#[gort::main]` and `#[gort::test]` call. The goroutine itself, the G,
//! is g.rs.

mod entry;
mod join;
pub(crate) mod local;
pub(crate) mod spawn;

pub use entry::{run_main, run_test};
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use spawn::{spawn, Builder};

/// The goroutine entry `<Task<F, T> as Entry>::run` as demangled symbols
/// spell it: the task type up to its generics (`…::Task<`) and the trait's
/// path. sched/symtab.rs counts that one runtime function as user code;
/// asking the compiler keeps it right wherever the types move.
pub(crate) fn entry_symbol_names() -> (&'static str, &'static str) {
    let task = std::any::type_name::<join::Task<fn(), ()>>();
    let task = task.find('<').map_or(task, |i| &task[..=i]);
    let entry = std::any::type_name::<dyn crate::g::Entry>();
    (task, entry.trim_start_matches("dyn "))
}
