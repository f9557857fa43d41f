//! A program whose dependencies load no proc macro: shares between checkouts.
fn main() {
    println!("{} {}", plain::twice(21), plain::here());
}
