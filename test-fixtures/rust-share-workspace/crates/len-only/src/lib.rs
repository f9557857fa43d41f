embed_dir::manifest_dir_len!();
