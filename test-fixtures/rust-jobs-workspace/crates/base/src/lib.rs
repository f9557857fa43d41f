//! The bottom of the graph: reached by `app` only through `mid` (rustc finds it with `-L dependency=`).

pub const GREETING: &str = include_str!("../greeting.txt");
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const FLAVOUR: Option<&str> = option_env!("RJ_FLAVOUR");

pub fn checksum(data: &[u8]) -> u32 {
    data.iter().fold(0x811c9dc5u32, |h, b| (h ^ u32::from(*b)).wrapping_mul(0x01000193))
}

pub trait Describe {
    fn describe(&self) -> String;
}
