//! symtab — which instructions are *user code*: the address ranges of the
//! program's own functions, read once at start from the executable's ELF
//! symbol table. preempt.rs allows an asynchronous preemption only when the
//! interrupted PC lies in one of these ranges (DESIGN.md "Preemption").
//!
//! A function is user code when its (demangled) path starts with a crate that
//! is not the runtime's, the standard library's, or a dependency the runtime
//! uses while it holds per-M or per-P state ([`RUNTIME_CRATES`]). A method of
//! an impl (`<Type as Trait>::f`, `<Type>::f`) is user code when the type or
//! the trait is a user crate's (the orphan rule puts the impl in one of
//! them); an impl on a primitive (`<u64>::_fmt`, `<&T as core::fmt::Display>`,
//! `<str>::trim_matches`) names no crate and can only be std's, so it is not.
//! Everything else is excluded by default: shared libraries (libc, ld.so), the
//! vDSO, C symbols in the executable (allocator shims, compiler builtins), and
//! any address no symbol covers.
//!
//! One runtime function counts as user code: the goroutine entry
//! `<Task<F, T> as Entry>::run` (join.rs, [`USER_ENTRY`]). It is generic over
//! the goroutine's closure, and in an optimized build the closure's body is
//! inlined into it: a goroutine's `loop { x += 1 }` lies inside a gort symbol.
//! Its own runtime work (the task's lock) is kept out of line. Keeping std/core/alloc out is what makes
//! `println!` from preempted goroutines safe: stdout's reentrant lock and
//! RefCell are per thread, and a preemption never lands inside them.
//!
//! Without a symbol table (a stripped binary) there are no user ranges, and
//! signal preemption is off with a one-line warning (preempt.rs).
//!
//! The table is built once, on a short-lived thread started by sysmon
//! (preempt.rs `enable`), and never changes afterwards; sysmon sends no
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
    "crossbeam_deque",
    "crossbeam_epoch",
    "crossbeam_utils",
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
    // The global allocator's shims (`__rustc::__rust_alloc`, v0 mangling).
    "__rustc",
    // libtest and its dependencies, in `cargo test` binaries.
    "test",
    "getopts",
    "unicode_width",
];

/// Runtime functions that count as user code (module header): (the impl's
/// self type up to its generics, the trait, the method).
const USER_ENTRY: &[(&str, &str, &str)] = &[(
    "gort_runtime::join::Task<",
    "gort_runtime::g::Entry",
    "::run",
)];

/// Sorted, merged, half-open `[start, end)` ranges of user code (runtime
/// addresses).
static USER_TEXT: OnceLock<Vec<(usize, usize)>> = OnceLock::new();

/// Builds the table (once). Returns the number of user functions found.
pub(crate) fn init() -> usize {
    USER_TEXT.get_or_init(|| build().unwrap_or_default()).len()
}

/// True if `pc` is in a user function. Async-signal-safe once `init` ran:
/// one atomic load and a binary search.
pub(crate) fn is_user_pc(pc: usize) -> bool {
    let Some(ranges) = USER_TEXT.get() else {
        return false;
    };
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
        let entry = USER_ENTRY
            .iter()
            .any(|&(t, r, m)| ty.starts_with(t) && tr == Some(r) && rest == m);
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

/// True for symbols of user crates.
fn is_user_symbol(name: &str) -> bool {
    let Ok(d) = rustc_demangle::try_demangle(name) else {
        return false; // not Rust: C, assembly, shims
    };
    is_user_path(&format!("{d:#}"))
}

/// Reads /proc/self/exe's symbol table into user-code ranges.
fn build() -> Option<Vec<(usize, usize)>> {
    let elf = Elf::read()?;
    let base = load_base(&elf.head);
    let mut out = Vec::new();
    for (name, value, size) in elf.func_symbols()? {
        if size > 0 && is_user_symbol(name) {
            let start = base + value as usize;
            out.push((start, start + size as usize));
        }
    }
    out.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(out.len());
    for (s, e) in out {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    Some(merged)
}

/// The load bias of the main executable (0 for a non-PIE binary), from the
/// auxiliary vector: address of the program headers minus their file offset.
fn load_base(head: &[u8]) -> usize {
    let phdr = crate::sys::getauxval(libc::AT_PHDR);
    let phoff = rd_u64(head, 0x20).unwrap_or(0) as usize;
    // e_type 3 = ET_DYN (PIE): biased; 2 = ET_EXEC: absolute.
    if rd_u16(head, 0x10) == Some(3) {
        (phdr as usize).wrapping_sub(phoff)
    } else {
        0
    }
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
    head: Vec<u8>,
    syms: Vec<u8>,
    strs: Vec<u8>,
    /// Size of one `.symtab` entry.
    entsize: usize,
}

impl Elf {
    /// Larger sections than this are not believed (a corrupt header).
    const MAX_SECTION: u64 = 1 << 30;

    /// None if the executable is not such an ELF or has no `.symtab`.
    fn read() -> Option<Elf> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open("/proc/self/exe").ok()?;
        let at = |off: u64, len: u64| -> Option<Vec<u8>> {
            if len > Self::MAX_SECTION {
                return None;
            }
            let mut v = vec![0u8; len as usize];
            f.read_exact_at(&mut v, off).ok()?;
            Some(v)
        };
        let head = at(0, 64)?;
        if head.get(..4)? != b"\x7fELF" || head[4] != 2 || head[5] != 1 {
            return None;
        }
        let shoff = rd_u64(&head, 0x28)?;
        let shentsize = u64::from(rd_u16(&head, 0x3A)?);
        let shnum = u64::from(rd_u16(&head, 0x3C)?);
        let sh = at(shoff, shentsize * shnum)?;
        let sh_at = |i: u64| (i * shentsize) as usize;
        const SHT_SYMTAB: u32 = 2;
        let symtab = (0..shnum).find(|&i| rd_u32(&sh, sh_at(i) + 4) == Some(SHT_SYMTAB))?;
        let off = rd_u64(&sh, sh_at(symtab) + 0x18)?;
        let size = rd_u64(&sh, sh_at(symtab) + 0x20)?;
        let link = u64::from(rd_u32(&sh, sh_at(symtab) + 0x28)?);
        let entsize = (rd_u64(&sh, sh_at(symtab) + 0x38)? as usize).max(24);
        let str_off = rd_u64(&sh, sh_at(link) + 0x18)?;
        let str_size = rd_u64(&sh, sh_at(link) + 0x20)?;
        Some(Elf {
            head,
            syms: at(off, size)?,
            strs: at(str_off, str_size)?,
            entsize,
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
            ("rust_begin_unwind", false),
            // A user type's or a user trait's impl is the user's.
            ("<myapp::Foo as core::fmt::Debug>::fmt", true),
            ("<alloc::vec::Vec<u8> as myapp::Ext>::f", true),
            ("<&mut myapp::Foo as core::ops::Drop>::drop", true),
            ("<myapp::Foo>::new", true),
            ("<<myapp::A as myapp::T>::X as core::fmt::Debug>::fmt", true),
            // The goroutine entry, where an optimized build inlines the
            // goroutine's closure (legacy and v0 mangling).
            ("<gort_runtime::join::Task<F,T> as gort_runtime::g::Entry>::run", true),
            (
                "<gort_runtime::join::Task<myapp::main::{closure#0}, u64> as gort_runtime::g::Entry>::run",
                true,
            ),
            (
                "<gort_runtime::join::Task<F,T> as gort_runtime::join::Joinable<T>>::done",
                false,
            ),
            ("<gort_runtime::join::Task<F,T>>::finish", false),
            (
                "<myapp::main::{closure#0} as core::ops::function::FnOnce<()>>::call_once",
                true,
            ),
        ] {
            assert_eq!(is_user_path(path), user, "{path}");
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
