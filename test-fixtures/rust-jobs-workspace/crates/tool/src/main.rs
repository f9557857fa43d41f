fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = app::report(&refs);
    for l in &r.lines {
        println!("{l}");
    }
    println!("{}", app::describe(&r));
}
