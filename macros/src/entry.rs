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
    if !args.is_empty() {
        let msg = format!("#[{name}] takes no arguments");
        return quote_spanned!(args.span()=> compile_error!(#msg);)
            .into_iter()
            .chain(item)
            .collect();
    }
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
    quote! {
        #test_attr
        #(#attrs)*
        #vis fn #ident() -> ::std::process::ExitCode {
            #runner(move || -> #ret #body)
        }
    }
}

fn kind_is_main(k: &Kind) -> bool {
    matches!(k, Kind::Main)
}
