"""Reading a dataset in either format batch by batch, and writing one from images.

The formats themselves (layout, per-format reading and writing) are in
toolchain/data/formats.py; the names most callers need are re-exported here.
Readers never load a whole file into memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .formats import (BIN, FORMATS, IMAGE_BYTES, IMAGE_FLOATS, IMAGE_SHAPE, SLIM_DIR,
                      SLIM_RECORD_BYTES, DatasetFormat, bin_size, format_of, image_offset,
                      labels_offset, slim_name)
from .staging import remove_path, temp_sibling

__all__ = ["DatasetReader", "write_dataset", "write_bin", "write_slim_dir", "BIN", "SLIM_DIR",
           "FORMATS", "IMAGE_BYTES", "IMAGE_FLOATS", "IMAGE_SHAPE", "SLIM_RECORD_BYTES",
           "bin_size", "image_offset", "labels_offset", "slim_name"]


class DatasetReader:
    """Read a bin file or a slim-dir, batch by batch, never the whole thing.

    `.count`, `.format` (its name), `.labels` (int64 array),
    `.images(start, n)` -> float32 (n,3,224,224),
    `.iter_batches(batch_size, limit=None)` -> (images, labels).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.layout: DatasetFormat = format_of(self.path)
        self.format = self.layout.name
        self.count = self.layout.count(self.path)
        self._labels: np.ndarray | None = None

    # context manager ---------------------------------------------------------
    def __enter__(self) -> "DatasetReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Drop the cached labels (no file stays open between calls)."""
        self._labels = None

    def __len__(self) -> int:
        return self.count

    # reading ---------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            self._labels = self.layout.labels(self.path, self.count)
        return self._labels

    def images(self, start: int, n: int) -> np.ndarray:
        """A float32 copy of images [start, start+n) (clipped to the end)."""
        if start < 0 or start > self.count:
            raise IndexError(f"start {start} outside 0..{self.count}")
        return self.layout.images(self.path, start, min(self.count, start + n))

    def iter_records(self) -> Iterator[tuple[bytes, int]]:
        """(image bytes, label) for every image, in order, one at a time."""
        return self.layout.records(self.path, self.count, self.labels)

    def iter_batches(self, batch_size: int, limit: int | None = None
                     ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(images float32 (b,3,224,224), labels int64 (b,)) in order; the last
        batch may be smaller."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        total = self.count if limit is None else min(self.count, max(0, int(limit)))
        labels = self.labels
        for start in range(0, total, batch_size):
            n = min(batch_size, total - start)
            yield self.images(start, n), labels[start:start + n].copy()


# writing -------------------------------------------------------------------

def _as_image_bytes(image) -> bytes:
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    else:
        arr = np.asarray(image)
        if arr.shape != IMAGE_SHAPE:
            raise ValueError(f"image shape {arr.shape}, expected {IMAGE_SHAPE}")
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    if len(data) != IMAGE_BYTES:
        raise ValueError(f"image is {len(data)} bytes, expected {IMAGE_BYTES}")
    return data


def write_dataset(path: Path | str, fmt: DatasetFormat, images_iter: Iterable, labels
                  ) -> Path:
    """Write a dataset to `path` atomically (temporary sibling, then renamed).

    `labels` gives N up front; `images_iter` yields N images (arrays of shape
    (3,224,224) or raw float32 bytes), consumed one at a time.
    """
    path = Path(path)
    labels = [int(v) for v in labels]
    tmp = temp_sibling(path)
    remove_path(tmp)
    try:
        fmt.create(tmp, fmt.size(len(labels)))
        writer = fmt.open_writer(tmp)
        try:
            n = 0
            for n, image in enumerate(images_iter, start=1):
                if n > len(labels):
                    raise ValueError(f"more images than the {len(labels)} labels")
                writer.write(n - 1, _as_image_bytes(image), labels[n - 1])
        finally:
            writer.close()
        if n != len(labels):
            raise ValueError(f"{n} images for {len(labels)} labels")
        fmt.finish(tmp, labels)
        fmt.publish(tmp, path)
    except BaseException:
        remove_path(tmp)
        raise
    return path


def write_bin(path: Path | str, images_iter: Iterable, labels) -> Path:
    return write_dataset(path, BIN, images_iter, labels)


def write_slim_dir(path: Path | str, images_iter: Iterable, labels) -> Path:
    return write_dataset(path, SLIM_DIR, images_iter, labels)
