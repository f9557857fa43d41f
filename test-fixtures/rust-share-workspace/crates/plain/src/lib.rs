//! Registry and workspace dependencies, `file!()` (relative to the workspace, remapped): shares between checkouts.
use std::hash::Hasher;

pub fn find(haystack: &[u8], needle: u8) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

pub fn hash(bytes: &[u8]) -> u64 {
    let mut h = fnv::FnvHasher::default();
    h.write(bytes);
    h.finish()
}

pub fn here() -> &'static str {
    file!()
}

pub fn twice(x: u32) -> u32 {
    util::double(x)
}
