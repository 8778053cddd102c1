"""The lab's models: the zoo (recipes/models.toml), training, export workers, file layout."""
