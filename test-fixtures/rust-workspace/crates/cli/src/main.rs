use anyhow::Result;
use ids::Id;
use model::Item;
use store::Store;

fn main() -> Result<()> {
    let mut store = Store::default();
    for (n, name) in ["alpha", "beta", "gamma"].iter().enumerate() {
        let mut item = Item::new(Id(n as u64), name)?;
        item.tags.push(format!("t{}", n));
        store.insert(item);
    }
    let json = store.to_json()?;
    let back = Store::from_json(&json)?;
    println!("{}", store::greeting());
    println!("{} on {} (page {}), {} lines, checksum {:08x}", Item::describe_type(), store::PLATFORM, store::page_size(), Store::count_newlines(&json), model::checksum(json.as_bytes()));
    println!("similar to 'gama': {:?}", back.find_similar("gama").map(|i| &i.name));
    println!("score {:?}, next id {}", back.get(Id(2)).unwrap().score(), ffi::ffi_next_id(41));
    log::info!("done");
    Ok(())
}
