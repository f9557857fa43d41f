//! `#[derive(Describe)]` with nothing but the compiler's own proc_macro crate (no crates.io here).
use proc_macro::{TokenStream, TokenTree};

#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let mut tokens = input.into_iter();
    let mut name = None;
    while let Some(t) = tokens.next() {
        if let TokenTree::Ident(i) = &t {
            let s = i.to_string();
            if s == "struct" || s == "enum" {
                name = tokens.next().map(|n| n.to_string());
                break;
            }
        }
    }
    let name = name.expect("derive(Describe) on a struct or enum");
    format!("impl ::mid::Describe for {name} {{ fn describe(&self) -> String {{ format!(\"{name} at {{}}:{{}}\", file!(), line!()) }} }}")
        .parse()
        .unwrap()
}
