//! symtab — which instructions are *user code*: the address ranges of the
//! program's own functions, read once at start from the ELF symbol table of
//! the object the runtime is linked into (the executable, or a shared
//! object; found, with its load bias, through the loader's
//! `dl_iterate_phdr`). sched/preempt.rs allows an asynchronous preemption only
//! when the interrupted PC lies in one of these ranges (Go's
//! isAsyncSafePoint asks the same of its PC tables).
//!
//! A function is user code when its (demangled) path starts with a crate that
//! is not the runtime's, the standard library's, or a dependency the runtime
//! uses while it holds per-M or per-P state ([`RUNTIME_CRATES`]: every crate
//! the runtime links, directly or not; a unit test holds the list to
//! `cargo tree`). A method of an impl (`<Type as Trait>::f`, `<Type>::f`)
//! is user code when the type or the trait is a user crate's (the orphan
//! rule puts the impl in one of them); an impl on a primitive (`<u64>::_fmt`,
//! `<&T as core::fmt::Display>`, `<str>::trim_matches`) names no crate and
//! can only be std's, so it is not. Everything else is excluded by default:
//! other shared libraries (libc, ld.so), the vDSO, C symbols (allocator
//! shims, compiler builtins), and any address no symbol covers.
//!
//! The program's allocator is not user code either, though it is written
//! in a user crate: the `__rust_alloc` family of entry points and every
//! `GlobalAlloc` impl. Its code is often inlined into its callers, where no
//! symbol shows it: sched/alloc_probe.rs covers that case.
//!
//! One runtime function counts as user code: the goroutine entry
//! `<Task<F, T> as Entry>::run` (goroutine/join.rs, [`USER_ENTRY_METHOD`]). It is generic over
//! the goroutine's closure, and in an optimized build the closure's body is
//! inlined into it: a goroutine's `loop { x += 1 }` lies inside a gort symbol.
//! Its own runtime work (the task's lock) is kept out of line. A scoped
//! goroutine's closure (goroutine/scope.rs) sits behind a second entry,
//! `<ScopedMain<F, T> as ScopedBody>::run`, which counts the same way. Keeping std/core/alloc out is what makes
//! `println!` from preempted goroutines safe: stdout's reentrant lock and
//! RefCell are per thread, and a preemption never lands inside them.
//!
//! Without a symbol table (a stripped binary) there are no user ranges, and
//! signal preemption is off with a one-line warning (sched/preempt.rs). The same
//! warning names a runtime linked into a shared object: only that object's
//! code is then preempted.
//!
//! The table is built once, on a short-lived thread started by sysmon
//! (sched/preempt.rs `enable`), and never changes afterwards; sysmon sends no
//! preemption request before it exists, and the handler only reads it through
//! a OnceLock and a binary search (no allocation, no lock).

#![forbid(unsafe_code)]

use std::sync::OnceLock;

/// Crates whose code must never be preempted asynchronously.
const RUNTIME_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "gort",
    "gort_runtime",
    "gort_macros",
    "corosensei",
    "parking_lot",
    "parking_lot_core",
    "lock_api",
    "libc",
    "polling",
    "rustix",
    "compiler_builtins",
    "panic_unwind",
    "panic_abort",
    "unwind",
    "std_detect",
    "hashbrown",
    "rustc_demangle",
    "addr2line",
    "gimli",
    "miniz_oxide",
    "object",
    "memchr",
    "adler2",
    "cfg_if",
    "scopeguard",
    "smallvec",
    "bitflags",
    "linux_raw_sys",
    "nix",
    "atomic_waker",
    "futures_core",
    // The global allocator's shims (`__rustc::__rust_alloc`, v0 mangling).
    "__rustc",
    // libtest and its dependencies, in `cargo test` binaries.
    "test",
    "getopts",
    "unicode_width",
];

/// The method of the runtime functions that count as user code (module
/// header): the goroutine entries' `run`, named by
/// `goroutine::entry_symbol_names`.
const USER_ENTRY_METHOD: &str = "::run";

/// The global allocator's entry points, by name: the shims every allocation
/// goes through (`__rust_alloc`, and `__rg_alloc`, which calls the
/// `#[global_allocator]`, in older compilers), after any crate path.
const ALLOC_SHIMS: &[&str] = &[
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "__rg_alloc",
    "__rg_dealloc",
    "__rg_realloc",
    "__rg_alloc_zeroed",
];

/// std's default allocator shim, linked only when the program has no
/// `#[global_allocator]` of its own (a substring of its mangled names).
const DEFAULT_ALLOC: &str = "__rdl_alloc";

/// The trait whose impls are the program's allocator (never user code).
const GLOBAL_ALLOC: &str = "core::alloc::global::GlobalAlloc";

/// What [`init`] read from the symbol table. Ranges are sorted, merged,
/// half-open `[start, end)` runtime addresses.
#[derive(Default)]
struct Table {
    /// User code.
    user: Vec<(usize, usize)>,
    /// False if std's default allocator shim (`__rdl_alloc`) is linked: the
    /// program allocates through the system allocator.
    custom_alloc: bool,
}

static TABLE: OnceLock<Table> = OnceLock::new();

/// The object the runtime is linked into.
pub(crate) struct Object {
    /// Its file (/proc/self/exe for the executable).
    pub(crate) path: String,
    /// Its load bias.
    bias: usize,
    /// True for a shared object.
    pub(crate) shared: bool,
    /// True if it has a symbol table (it was not stripped).
    pub(crate) has_symtab: bool,
}

static OBJECT: OnceLock<Object> = OnceLock::new();

/// Finds the runtime's object and whether it has a symbol table: cheap
/// (the loader's list and the file's section headers), so sched/preempt.rs can
/// say at start when preemption cannot work.
pub(crate) fn locate() -> &'static Object {
    OBJECT.get_or_init(|| {
        let obj = crate::sys::object_containing(locate as *const () as usize);
        let path = obj
            .as_ref()
            .map_or_else(|| "/proc/self/exe".to_string(), |o| o.path.clone());
        Object {
            has_symtab: SymtabAt::find(&path).is_some(),
            shared: obj.as_ref().is_some_and(|o| !o.main),
            bias: obj.as_ref().map_or(0, |o| o.bias),
            path,
        }
    })
}

/// Builds the table (once). Returns the number of user functions found.
pub(crate) fn init() -> usize {
    let o = locate();
    TABLE
        .get_or_init(|| build(&o.path, o.bias).unwrap_or_default())
        .user
        .len()
}

/// True if the program has its own `#[global_allocator]` (sched/alloc_probe.rs).
/// False before `init`.
pub(crate) fn custom_alloc() -> bool {
    TABLE.get().is_some_and(|t| t.custom_alloc)
}

/// True if `pc` is in a user function. Async-signal-safe once `init` ran:
/// one atomic load and a binary search.
pub(crate) fn is_user_pc(pc: usize) -> bool {
    TABLE.get().is_some_and(|t| contains(&t.user, pc))
}

/// Binary search in sorted, disjoint ranges.
fn contains(ranges: &[(usize, usize)], pc: usize) -> bool {
    match ranges.binary_search_by(|&(s, _)| s.cmp(&pc)) {
        Ok(_) => true,
        Err(0) => false,
        Err(i) => pc < ranges[i - 1].1,
    }
}

/// Splits a leading `<Self as Trait>` or `<Self>` off a demangled path into
/// (Self, Trait). None if the path does not start with `<`.
fn split_qualified(path: &str) -> Option<(&str, Option<&str>)> {
    let inner = path.strip_prefix('<')?;
    let b = inner.as_bytes();
    let (mut depth, mut as_at) = (0usize, None);
    for i in 0..b.len() {
        match b[i] {
            b'<' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {} // `fn() -> T`
            b'>' if depth == 0 => {
                return Some(match as_at {
                    Some(a) => (&inner[..a], Some(&inner[a + 4..i])),
                    None => (&inner[..i], None),
                });
            }
            b'>' => depth -= 1,
            b' ' if depth == 0 && as_at.is_none() && inner[i..].starts_with(" as ") => {
                as_at = Some(i)
            }
            _ => {}
        }
    }
    None
}

/// True if a demangled path is a user crate's code (module header).
fn is_user_path(path: &str) -> bool {
    if let Some((ty, tr)) = split_qualified(path) {
        let rest = &path[ty.len() + tr.map_or(0, |t| t.len() + 4) + 2..];
        let entry = rest == USER_ENTRY_METHOD
            && crate::goroutine::entry_symbol_names()
                .iter()
                .any(|&(task, trait_)| ty.starts_with(task) && tr == Some(trait_));
        return entry || is_user_type(ty) || tr.is_some_and(is_user_path);
    }
    // `krate::...`; a name without a crate path is not user code.
    match path.find("::") {
        Some(i) => !RUNTIME_CRATES.contains(&&path[..i]),
        None => false,
    }
}

/// True if a demangled type is a user crate's: a path type whose crate is
/// not the runtime's. Primitives, slices, tuples, fn pointers and legacy
/// mangling's generic names (`T`) name no crate.
fn is_user_type(ty: &str) -> bool {
    let mut t = ty.trim();
    for p in ["&", "mut ", "*const ", "*mut ", "dyn ", "impl "] {
        if let Some(rest) = t.strip_prefix(p) {
            return is_user_type(rest);
        }
    }
    if t.starts_with('<') {
        return is_user_path(t);
    }
    t = &t[..t.find('<').unwrap_or(t.len())];
    match t.find("::") {
        Some(i) => {
            let krate = &t[..i];
            krate
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && !RUNTIME_CRATES.contains(&krate)
        }
        None => false,
    }
}

/// True for symbols of user crates: Rust, not the allocator (module
/// header), and a user path.
fn is_user_symbol(name: &str) -> bool {
    let Ok(d) = rustc_demangle::try_demangle(name) else {
        return false; // not Rust: C, assembly, older compilers' shims
    };
    let path = format!("{d:#}");
    !is_alloc_path(&path) && is_user_path(&path)
}

/// True for the allocator's entry points and `GlobalAlloc` impls: a
/// program's own allocator is written in a user crate, but its lock must
/// never be held by a suspended goroutine (sched/alloc_probe.rs).
fn is_alloc_path(path: &str) -> bool {
    let shim = path
        .rsplit_once("::")
        .is_some_and(|(_, last)| ALLOC_SHIMS.contains(&last));
    shim || split_qualified(path).is_some_and(|(_, tr)| tr == Some(GLOBAL_ALLOC))
}

/// Reads the symbol table of the object at `path` (loaded at `bias`).
fn build(path: &str, bias: usize) -> Option<Table> {
    let elf = Elf::read(path)?;
    let (mut user, mut custom_alloc) = (Vec::new(), true);
    for (name, value, size) in elf.func_symbols()? {
        if name.contains(DEFAULT_ALLOC) {
            custom_alloc = false;
        }
        if size > 0 && is_user_symbol(name) {
            let start = bias.wrapping_add(value as usize);
            user.push((start, start + size as usize));
        }
    }
    Some(Table {
        user: merge(user),
        custom_alloc,
    })
}

/// Sorts ranges and merges those that overlap or touch.
fn merge(mut v: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    v.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

fn rd_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn rd_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The parts of an ELF64 little-endian executable the table needs: the file
/// header, `.symtab` and its string table. Read with positioned reads, not
/// the whole file: with debug info an executable is many megabytes, and
/// copying it all cost W7 about 5% at P=2 (the table is built while the
/// program runs).
struct Elf {
    syms: Vec<u8>,
    strs: Vec<u8>,
    /// Size of one `.symtab` entry.
    entsize: usize,
}

/// Where `.symtab` and its string table lie in an ELF64 little-endian
/// file (read from the section headers alone).
struct SymtabAt {
    file: std::fs::File,
    off: u64,
    size: u64,
    str_off: u64,
    str_size: u64,
    entsize: usize,
}

impl SymtabAt {
    /// Larger sections than this are not believed (a corrupt header).
    const MAX_SECTION: u64 = 1 << 30;

    /// None if the file is not such an ELF or has no `.symtab`.
    fn find(path: &str) -> Option<SymtabAt> {
        let file = std::fs::File::open(path).ok()?;
        let mut t = SymtabAt {
            file,
            off: 0,
            size: 0,
            str_off: 0,
            str_size: 0,
            entsize: 24,
        };
        let head = t.read(0, 64)?;
        if head.get(..4)? != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
            return None;
        }
        let shoff = rd_u64(&head, 0x28)?;
        let shentsize = u64::from(rd_u16(&head, 0x3A)?);
        let shnum = u64::from(rd_u16(&head, 0x3C)?);
        let sh = t.read(shoff, shentsize * shnum)?;
        let sh_at = |i: u64| (i * shentsize) as usize;
        const SHT_SYMTAB: u32 = 2;
        let symtab = (0..shnum).find(|&i| rd_u32(&sh, sh_at(i) + 4) == Some(SHT_SYMTAB))?;
        t.off = rd_u64(&sh, sh_at(symtab) + 0x18)?;
        t.size = rd_u64(&sh, sh_at(symtab) + 0x20)?;
        let link = u64::from(rd_u32(&sh, sh_at(symtab) + 0x28)?);
        t.entsize = (rd_u64(&sh, sh_at(symtab) + 0x38)? as usize).max(24);
        t.str_off = rd_u64(&sh, sh_at(link) + 0x18)?;
        t.str_size = rd_u64(&sh, sh_at(link) + 0x20)?;
        Some(t)
    }

    /// `len` bytes at `off` (positioned reads: see [`Elf`]).
    fn read(&self, off: u64, len: u64) -> Option<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        if len > Self::MAX_SECTION {
            return None;
        }
        let mut v = vec![0u8; len as usize];
        self.file.read_exact_at(&mut v, off).ok()?;
        Some(v)
    }
}

impl Elf {
    /// None if the file is not such an ELF or has no `.symtab`.
    fn read(path: &str) -> Option<Elf> {
        let t = SymtabAt::find(path)?;
        Some(Elf {
            syms: t.read(t.off, t.size)?,
            strs: t.read(t.str_off, t.str_size)?,
            entsize: t.entsize,
        })
    }

    /// (name, value, size) of every FUNC symbol.
    fn func_symbols(&self) -> Option<Vec<(&str, u64, u64)>> {
        let (b, strtab) = (&self.syms, &self.strs);
        let mut out = Vec::new();
        for i in 0..b.len() / self.entsize {
            let e = i * self.entsize;
            let info = *b.get(e + 4)?;
            const STT_FUNC: u8 = 2;
            if info & 0xf != STT_FUNC {
                continue;
            }
            let name_at = rd_u32(b, e)? as usize;
            let value = rd_u64(b, e + 8)?;
            let sz = rd_u64(b, e + 16)?;
            let name = strtab.get(name_at..).and_then(|s| {
                let end = s.iter().position(|&c| c == 0)?;
                std::str::from_utf8(&s[..end]).ok()
            });
            if let Some(name) = name {
                out.push((name, value, sz));
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn a_user_function(x: u64) -> u64 {
        std::hint::black_box(x).wrapping_mul(3)
    }

    #[test]
    fn the_goroutine_entry_is_named_as_symbols_spell_it() {
        assert_eq!(
            crate::goroutine::entry_symbol_names(),
            [
                (
                    "gort_runtime::goroutine::join::Task<",
                    "gort_runtime::g::Entry"
                ),
                (
                    "gort_runtime::goroutine::scope::ScopedMain<",
                    "gort_runtime::goroutine::scope::ScopedBody"
                ),
            ]
        );
    }

    #[test]
    fn user_paths() {
        for (path, user) in [
            ("std::io::stdio::_print", false),
            ("<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", false),
            ("myapp::main::{closure#0}", true),
            // Impls on primitives are std's (v0 and legacy mangling).
            ("<u64>::_fmt", false),
            ("<str>::trim_matches::<<char>::is_whitespace>", false),
            (
                "<[u8]>::copy_within::<core::ops::range::RangeInclusive<usize>>",
                false,
            ),
            ("<&T as core::fmt::Display>::fmt", false),
            ("<u64 as core::fmt::LowerHex>::fmt", false),
            ("<fn() -> u32 as core::fmt::Debug>::fmt", false),
            (
                "<alloc::vec::Vec<myapp::Foo> as core::ops::drop::Drop>::drop",
                false,
            ),
            ("core::ptr::drop_in_place::<myapp::Foo>", false),
            ("__rustc::__rust_alloc", false),
            // A program's own allocator is never user code.
            ("myapp::_::__rust_alloc", false),
            (
                "<myapp::SpinAlloc as core::alloc::global::GlobalAlloc>::alloc",
                false,
            ),
            ("rust_begin_unwind", false),
            // A user type's or a user trait's impl is the user's.
            ("<myapp::Foo as core::fmt::Debug>::fmt", true),
            ("<alloc::vec::Vec<u8> as myapp::Ext>::f", true),
            ("<&mut myapp::Foo as core::ops::Drop>::drop", true),
            ("<myapp::Foo>::new", true),
            ("<<myapp::A as myapp::T>::X as core::fmt::Debug>::fmt", true),
            // The goroutine entry, where an optimized build inlines the
            // goroutine's closure (legacy and v0 mangling).
            ("<gort_runtime::goroutine::join::Task<F,T> as gort_runtime::g::Entry>::run", true),
            (
                "<gort_runtime::goroutine::join::Task<myapp::main::{closure#0}, u64> as gort_runtime::g::Entry>::run",
                true,
            ),
            (
                "<gort_runtime::goroutine::join::Task<F,T> as gort_runtime::goroutine::join::Joinable<T>>::done",
                false,
            ),
            ("<gort_runtime::goroutine::join::Task<F,T>>::finish", false),
            // A scoped goroutine's body (goroutine/scope.rs), likewise.
            (
                "<gort_runtime::goroutine::scope::ScopedMain<F,T> as gort_runtime::goroutine::scope::ScopedBody>::run",
                true,
            ),
            (
                "<gort_runtime::goroutine::scope::ScopedMain<myapp::main::{closure#0}, u64> as gort_runtime::goroutine::scope::ScopedBody>::run",
                true,
            ),
            ("gort_runtime::goroutine::scope::child_finish::<u64>", false),
            ("gort_runtime::goroutine::scope::Scope::go::{closure#0}", false),
            (
                "<myapp::main::{closure#0} as core::ops::function::FnOnce<()>>::call_once",
                true,
            ),
        ] {
            assert_eq!(!is_alloc_path(path) && is_user_path(path), user, "{path}");
        }
    }

    /// Every crate the runtime links is in RUNTIME_CRATES: a dependency
    /// added later must not become "user code" unnoticed.
    #[test]
    fn runtime_crates_cover_every_dependency() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["tree", "-p", "gort-runtime", "-e", "normal"])
            .args(["--prefix", "none", "--format", "{lib}"])
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8(out.stdout).expect("utf-8");
        let libs: Vec<&str> = tree
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert!(
            libs.contains(&"parking_lot"),
            "unexpected cargo tree output:\n{tree}"
        );
        for lib in libs {
            assert!(
                RUNTIME_CRATES.contains(&lib),
                "crate {lib} is linked by the runtime but missing from RUNTIME_CRATES"
            );
        }
    }

    #[test]
    fn runtime_and_std_code_are_not_user_code() {
        init();
        // This test binary is crate gort_runtime: its own functions are runtime
        // code, so nothing here is user code; std's and libc's are not either.
        // (tests/preempt_*.rs check the positive side from a user crate.)
        let f = a_user_function as *const () as usize;
        assert_eq!(a_user_function(2), 6);
        assert!(!is_user_pc(f + 1));
        assert!(!is_user_pc(std::io::stdout as *const () as usize + 1));
        assert!(!is_user_pc(libc::write as *const () as usize + 1));
    }
}
