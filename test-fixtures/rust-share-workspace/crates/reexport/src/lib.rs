//! Re-exports the proc macro: a crate using it through this one has no --extern of the macro.
pub use embed_dir::manifest_dir_len;
