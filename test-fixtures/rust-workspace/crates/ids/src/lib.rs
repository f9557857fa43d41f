//! Identifiers. Reads an environment variable at compile time, so the
//! variable's value is part of this crate (and of nothing else).
use serde::{Deserialize, Serialize};

/// Set at compile time: `REPRISE_FIXTURE_FLAVOR=... cargo build`.
pub const FLAVOR: &str = match option_env!("REPRISE_FIXTURE_FLAVOR") {
    Some(f) => f,
    None => "plain",
};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Id(pub u64);

impl Id {
    pub fn next(self) -> Id {
        Id(self.0 + 1)
    }
}

pub fn describe_id(id: Id) -> String {
    format!("{}-{}#{}", FLAVOR, VERSION, id.0)
}
