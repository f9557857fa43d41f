//! `#[derive(Describe)]`: a function returning the type's name in kebab case.
use heck::ToKebabCase;
use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, DeriveInput};

#[proc_macro_derive(Describe)]
pub fn derive_describe(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let name = &input.ident;
    let kebab = name.to_string().to_kebab_case();
    let expanded = quote! {
        impl #name {
            pub fn describe_type() -> &'static str { #kebab }
        }
    };
    expanded.into()
}
