//! A C interface: built as a static library and an rlib in one rustc call.
#[no_mangle]
pub extern "C" fn ffi_next_id(n: u64) -> u64 {
    ids::Id(n).next().0
}
