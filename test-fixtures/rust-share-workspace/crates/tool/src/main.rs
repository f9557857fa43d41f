fn main() {
    println!("{} {} {}", plain::twice(21), plain::here(), via_reexport::MANIFEST_DIR_LEN);
}
