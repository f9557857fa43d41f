//! The data model: serde types, a derive from our own proc-macro crate,
//! generated code from the build script and a C function.
use bitflags::bitflags;
use derive_describe::Describe;
use either::Either;
use ids::Id;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

include!(concat!(env!("OUT_DIR"), "/squares.rs"));

extern "C" {
    fn model_checksum(data: *const u8, len: usize) -> u32;
}

pub fn checksum(data: &[u8]) -> u32 {
    unsafe { model_checksum(data.as_ptr(), data.len()) }
}

bitflags! {
    #[derive(Serialize, Deserialize)]
    pub struct Flags: u32 {
        const PINNED = 0b0001;
        const HIDDEN = 0b0010;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("item {0:?} not found")]
    NotFound(Id),
    #[error("invalid name {name:?}")]
    InvalidName { name: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, Describe)]
pub struct Item {
    pub id: Id,
    pub name: String,
    pub tags: SmallVec<[String; 2]>,
    pub flags: Flags,
    pub weight: f64,
}

impl Item {
    pub fn new(id: Id, name: &str) -> Result<Item, ModelError> {
        if name.is_empty() {
            return Err(ModelError::InvalidName { name: name.to_string() });
        }
        Ok(Item { id, name: name.to_string(), tags: SmallVec::new(), flags: Flags::empty(), weight: 1.0 })
    }

    pub fn score(&self) -> Either<u64, f64> {
        if cfg!(model_generated) && self.weight.fract() == 0.0 {
            Either::Left(SQUARES[(self.id.0 % 16) as usize])
        } else {
            Either::Right(num_traits::Float::powi(self.weight, 2))
        }
    }
}
