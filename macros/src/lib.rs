//! gort-macros — `#[gort::main]` and `#[gort::test]`. This file only
//! dispatches; the expansions live in `goroutine/entry.rs`.

mod entry;

use proc_macro::TokenStream;

/// Runs `main` as the main goroutine. The process exits when it returns, as
/// in Go. `main` may return anything that implements `Termination`.
///
/// ```
/// #[gort::main]
/// fn main() {
///     let h = gort::go!(|| 40 + 2);
///     println!("{}", h.join().unwrap());
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Main, args.into(), item.into()).into()
}

/// Runs a test body as a goroutine (and fails the test if it panics).
/// `#[gort::test(virtual_time)]` runs it in a virtual-time bubble
/// (`gort::testing::run_virtual`): timers and sleeps jump ahead whenever
/// every goroutine of the test is blocked.
///
/// ```
/// use std::time::Duration;
///
/// #[gort::test(virtual_time)]
/// fn an_hour_passes_at_once() {
///     let t0 = gort::time::now();
///     gort::time::sleep(Duration::from_secs(3600));
///     assert_eq!(gort::time::now() - t0, Duration::from_secs(3600));
/// }
/// # fn main() {}
/// ```
///
/// Any other argument is an error:
///
/// ```compile_fail
/// #[gort::test(paused)]
/// fn nope() {}
/// # fn main() {}
/// ```
///
/// ```
/// #[gort::test]
/// fn adds() {
///     assert_eq!(gort::go!(|| 1 + 1).join().unwrap(), 2);
/// }
/// # fn main() {} // a doc example runs no #[test] functions
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(entry::Kind::Test, args.into(), item.into()).into()
}
