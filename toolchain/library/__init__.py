"""The Paddle Inference C++ libraries: the download manifest and what is installed.

- manifest: recipes/paddle_inference.toml rows (LibraryRecipe)
- manifest_build: the manifest from the official download matrix
- installed: an installed library's layout, version.txt, the current library
"""
