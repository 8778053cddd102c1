"""fetch-lib: resolve a manifest row, download, verify, extract, install."""
