use describe::Describe;
use mid::Describe as _;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/table.rs"));
}

#[derive(Describe)]
pub struct Report {
    pub lines: Vec<String>,
}

pub fn report(inputs: &[&str]) -> Report {
    let (n, sum) = mid::summary(inputs);
    let lines = vec![mid::banner(), format!("{n} inputs, checksum {sum:08x}, table {:?}", generated::TABLE)];
    Report { lines }
}

pub fn describe(r: &Report) -> String {
    r.describe()
}
