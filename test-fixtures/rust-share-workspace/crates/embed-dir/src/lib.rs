//! Proc macros that read CARGO_MANIFEST_DIR behind rustc's back (nothing records the read).
extern crate proc_macro;
use proc_macro::TokenStream;

fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()
}

/// Embeds the directory itself.
#[proc_macro]
pub fn manifest_dir_const(_: TokenStream) -> TokenStream {
    format!("pub const MANIFEST_DIR: &str = {:?};", manifest_dir()).parse().unwrap()
}

/// Embeds only a number derived from it: the outputs never hold the path, yet differ between checkouts.
#[proc_macro]
pub fn manifest_dir_len(_: TokenStream) -> TokenStream {
    format!("pub const MANIFEST_DIR_LEN: usize = {};", manifest_dir().len()).parse().unwrap()
}
