//! No dependencies: shares between checkouts.
pub const NAME: &str = env!("CARGO_PKG_NAME");

pub fn double(x: u32) -> u32 {
    x * 2
}
