pub use base::Describe;

pub fn summary<T: AsRef<[u8]>>(items: &[T]) -> (usize, u32) {
    let sum = items.iter().map(|i| base::checksum(i.as_ref())).fold(0u32, u32::wrapping_add);
    (items.len(), sum)
}

pub fn banner() -> String {
    // A warning cargo prints from rustc's JSON diagnostics, whoever compiled the crate.
    let unused_note = 1;
    format!("{} (base {}, {:?})", base::GREETING.trim(), base::VERSION, base::FLAVOUR)
}
