//! Text helpers in a module of their own: a file that only rustc's dep-info
//! names (the tests change it to check that a crate's other files are keyed).
pub fn count_newlines(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}
