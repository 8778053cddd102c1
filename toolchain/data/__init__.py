"""Image datasets: the bin / slim-dir formats, the reference preprocessing, sample data."""
