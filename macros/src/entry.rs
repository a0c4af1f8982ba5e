//! The expansions of `#[gort::main]` and `#[gort::test]`, in the manner of
//! tokio-macros: keep the user's signature and attributes, move the body into
//! a closure that runs as a goroutine (gort-runtime `goroutine/entry.rs`).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType};

/// Which attribute is being expanded.
pub(crate) enum Kind {
    Main,
    Test,
}

pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let name = match kind {
        Kind::Main => "gort::main",
        Kind::Test => "gort::test",
    };
    let virtual_time = match (&kind, args.to_string().as_str()) {
        (_, "") => false,
        (Kind::Test, "virtual_time") => true,
        _ => {
            let msg = match kind {
                Kind::Main => "#[gort::main] takes no arguments".to_string(),
                Kind::Test => "#[gort::test] takes no arguments, or `virtual_time`".to_string(),
            };
            return quote_spanned!(args.span()=> compile_error!(#msg);)
                .into_iter()
                .chain(item)
                .collect();
        }
    };
    let f: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error(),
    };
    let sig = &f.sig;
    if sig.asyncness.is_some() {
        let msg = format!(
            "#[{name}] functions are plain `fn`s: goroutines are stackful, no `async` needed"
        );
        return quote_spanned!(sig.asyncness.span()=> compile_error!(#msg);)
            .into_iter()
            .chain(item)
            .collect();
    }
    if !sig.inputs.is_empty() {
        let msg = format!("#[{name}] functions take no arguments");
        return quote_spanned!(sig.inputs.span()=> compile_error!(#msg);)
            .into_iter()
            .chain(item)
            .collect();
    }
    if kind_is_main(&kind) && sig.ident != "main" {
        let msg = "#[gort::main] goes on `fn main`";
        return quote_spanned!(sig.ident.span()=> compile_error!(#msg);)
            .into_iter()
            .chain(item)
            .collect();
    }
    let attrs = &f.attrs;
    let vis = &f.vis;
    let ident = &sig.ident;
    let body = &f.block;
    let ret = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, t) => quote!(#t),
    };
    let runner = match kind {
        Kind::Main => quote!(::gort::__private::run_main),
        Kind::Test => quote!(::gort::__private::run_test),
    };
    let test_attr = match kind {
        Kind::Main => quote!(),
        Kind::Test => quote!(#[::core::prelude::v1::test]),
    };
    // In virtual time the body is the bubble's main goroutine; its result is
    // reported there, so a non-Send `Result` works as it does without.
    let run = if virtual_time {
        quote!(#runner(move || ::gort::testing::run_virtual(move || {
            ::std::process::Termination::report((move || -> #ret #body)())
        })))
    } else {
        quote!(#runner(move || -> #ret #body))
    };
    quote! {
        #test_attr
        #(#attrs)*
        #vis fn #ident() -> ::std::process::ExitCode {
            #run
        }
    }
}

fn kind_is_main(k: &Kind) -> bool {
    matches!(k, Kind::Main)
}
