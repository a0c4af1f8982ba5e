//! goroutine — a goroutine as the program sees it: [`spawn`] and
//! [`Builder`] make one (goroutine/spawn.rs, Go's `go` statement and the panic
//! policy), [`JoinHandle`] waits for its result (goroutine/join.rs),
//! [`scope()`] makes goroutines that borrow the caller's locals
//! (goroutine/scope.rs), [`LocalKey`] is its goroutine-local storage
//! (goroutine/local.rs), and goroutine/entry.rs is what `#[gort::main]` and
//! `#[gort::test]` call. The goroutine itself, the G, is g.rs.

mod entry;
mod join;
pub(crate) mod local;
mod scope;
pub(crate) mod spawn;

pub use entry::{run_main, run_test};
pub use join::JoinHandle;
pub use local::{AccessError, LocalKey};
pub use scope::{scope, Scope, ScopedJoinHandle};
pub use spawn::{spawn, Builder};

/// The goroutine entries as demangled symbols spell them, as (type up to
/// its generics `…<`, trait) pairs whose method `run` is where a
/// goroutine's closure is inlined: `<Task<F, T> as Entry>::run` (every
/// goroutine) and `<ScopedMain<F, T> as ScopedBody>::run` (a scoped one,
/// called from the former). sched/symtab.rs counts those runtime functions
/// as user code; asking the compiler keeps it right wherever the types move.
pub(crate) fn entry_symbol_names() -> [(&'static str, &'static str); 2] {
    fn pair(ty: &'static str, tr: &'static str) -> (&'static str, &'static str) {
        let ty = ty.find('<').map_or(ty, |i| &ty[..=i]);
        (ty, tr.trim_start_matches("dyn "))
    }
    use std::any::type_name;
    [
        pair(
            type_name::<join::Task<fn(), ()>>(),
            type_name::<dyn crate::g::Entry>(),
        ),
        pair(
            type_name::<scope::ScopedMain<fn(), ()>>(),
            type_name::<dyn scope::ScopedBody>(),
        ),
    ]
}
