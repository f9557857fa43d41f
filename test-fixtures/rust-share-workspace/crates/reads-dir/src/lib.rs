//! Reads its manifest directory with env!: rustc records the read (dep-info `# env-dep:`), so it is keyed as it is.
pub const DIR: &str = env!("CARGO_MANIFEST_DIR");
