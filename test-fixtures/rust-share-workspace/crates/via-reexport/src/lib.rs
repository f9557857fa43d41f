reexport::manifest_dir_len!();
