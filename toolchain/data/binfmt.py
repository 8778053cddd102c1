"""The two on-disk dataset formats and streaming conversion between them.

"bin" (what Paddle's own C++ testers and Python readers use), little-endian:
    int64 N | N x float32[3][224][224] (CHW, RGB, normalized) | N x int64 label

"slim-dir" (what PaddleSlim's TensorRT demo `test_acc` reads): a directory of
`<i>.data` files, i = 0..N-1, each 602112 bytes of float32 image then one
4-byte C++ `int` label; no header.

Nothing here decodes images; readers never load a whole file into memory.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import LabError
from ..fsio import swap_in_directory

CHANNELS, HEIGHT, WIDTH = 3, 224, 224
IMAGE_SHAPE = (CHANNELS, HEIGHT, WIDTH)
IMAGE_FLOATS = CHANNELS * HEIGHT * WIDTH
IMAGE_BYTES = IMAGE_FLOATS * 4            # 602112
HEADER_BYTES = 8
LABEL_BYTES = 8
SLIM_LABEL_BYTES = 4
SLIM_RECORD_BYTES = IMAGE_BYTES + SLIM_LABEL_BYTES   # 602116
FORMATS = ("bin", "slim-dir")
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1

_SLIM_NAME = re.compile(r"^(\d+)\.data$")


def bin_size(count: int) -> int:
    """Exact byte size of a bin dataset of `count` images."""
    return HEADER_BYTES + count * (IMAGE_BYTES + LABEL_BYTES)


def image_offset(index: int) -> int:
    return HEADER_BYTES + index * IMAGE_BYTES


def labels_offset(count: int) -> int:
    return HEADER_BYTES + count * IMAGE_BYTES


def slim_name(index: int) -> str:
    return f"{index}.data"


def detect_format(path: Path) -> str:
    """'bin' for a file, 'slim-dir' for a directory; LabError if neither exists."""
    path = Path(path)
    if path.is_dir():
        return "slim-dir"
    if path.is_file():
        return "bin"
    raise LabError(f"dataset not found: {path}", where=str(path),
                   hint="run `invoke preprocess` (or `invoke sample-data` then preprocess) first")


def _slim_count(path: Path) -> int:
    """N of a slim-dir: its files must be exactly 0.data .. N-1.data."""
    indices = []
    for entry in os.scandir(path):
        m = _SLIM_NAME.match(entry.name)
        if m:
            indices.append(int(m.group(1)))
    if not indices:
        raise LabError(f"no <i>.data files in {path}", where=str(path),
                       hint="a slim-dir dataset holds 0.data, 1.data, ... (see docs/data.md)")
    indices.sort()
    if indices[-1] != len(indices) - 1:
        missing = next(i for i, v in enumerate(indices) if i != v)
        raise LabError(f"slim-dir dataset has a gap: {slim_name(missing)} is missing",
                       where=str(path / slim_name(missing)),
                       hint="regenerate it with `invoke preprocess --format slim-dir`")
    return len(indices)


class DatasetReader:
    """Read a bin file or a slim-dir, batch by batch, never the whole thing.

    `.count`, `.labels` (int64 array), `.images(start, n)` -> float32 (n,3,224,224),
    `.iter_batches(batch_size, limit=None)` -> (images, labels).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.format = detect_format(self.path)
        self._mm: np.memmap | None = None
        self._labels: np.ndarray | None = None
        if self.format == "bin":
            size = self.path.stat().st_size
            if size < HEADER_BYTES:
                raise LabError(f"not a bin dataset: {self.path} is only {size} bytes",
                               where=str(self.path))
            with open(self.path, "rb") as f:
                (count,) = struct.unpack("<q", f.read(HEADER_BYTES))
            if count < 0 or bin_size(count) != size:
                raise LabError(
                    f"not a valid bin dataset: header says {count} images "
                    f"({bin_size(max(count, 0))} bytes) but the file has {size} bytes",
                    where=str(self.path),
                    hint="the file is truncated or not a dataset; regenerate it with "
                         "`invoke preprocess`")
            self.count = int(count)
        else:
            self.count = _slim_count(self.path)
            for i in (0, self.count - 1):
                p = self.path / slim_name(i)
                if p.stat().st_size != SLIM_RECORD_BYTES:
                    raise LabError(f"{p.name} is {p.stat().st_size} bytes, expected "
                                   f"{SLIM_RECORD_BYTES}", where=str(p),
                                   hint="regenerate it with `invoke preprocess --format slim-dir`")

    # context manager ---------------------------------------------------------
    def __enter__(self) -> "DatasetReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._mm is not None:
            mm, self._mm = self._mm, None
            try:
                mm._mmap.close()
            except (AttributeError, BufferError):   # a view still exists: GC closes it
                pass

    def __len__(self) -> int:
        return self.count

    # reading ---------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        if self._labels is None:
            if self.format == "bin":
                self._labels = np.fromfile(self.path, dtype="<i8", count=self.count,
                                           offset=labels_offset(self.count)).astype(np.int64)
            else:
                out = np.empty(self.count, dtype=np.int64)
                for i in range(self.count):
                    with open(self.path / slim_name(i), "rb") as f:
                        f.seek(IMAGE_BYTES)
                        out[i] = struct.unpack("<i", f.read(SLIM_LABEL_BYTES))[0]
                self._labels = out
        return self._labels

    def _memmap(self) -> np.memmap:
        if self._mm is None:
            self._mm = np.memmap(self.path, dtype="<f4", mode="r", offset=HEADER_BYTES,
                                 shape=(self.count,) + IMAGE_SHAPE)
        return self._mm

    def images(self, start: int, n: int) -> np.ndarray:
        """A float32 copy of images [start, start+n) (clipped to the end)."""
        if start < 0 or start > self.count:
            raise IndexError(f"start {start} outside 0..{self.count}")
        stop = min(self.count, start + n)
        if self.format == "bin":
            return np.array(self._memmap()[start:stop], dtype=np.float32)
        out = np.empty((stop - start,) + IMAGE_SHAPE, dtype=np.float32)
        for j, i in enumerate(range(start, stop)):
            out[j] = np.fromfile(self.path / slim_name(i), dtype="<f4",
                                 count=IMAGE_FLOATS).reshape(IMAGE_SHAPE)
        return out

    def record_bytes(self, index: int) -> tuple[bytes, int]:
        """Raw float bytes of one image and its label (for format conversion)."""
        if self.format == "bin":
            with open(self.path, "rb") as f:
                return os.pread(f.fileno(), IMAGE_BYTES, image_offset(index)), \
                    int(self.labels[index])
        with open(self.path / slim_name(index), "rb") as f:
            data = f.read(SLIM_RECORD_BYTES)
        return data[:IMAGE_BYTES], struct.unpack("<i", data[IMAGE_BYTES:])[0]

    def iter_records(self) -> Iterator[tuple[bytes, int]]:
        """(image bytes, label) for every image, in order, one at a time."""
        if self.format == "bin":
            labels = self.labels
            with open(self.path, "rb") as f:
                f.seek(HEADER_BYTES)
                for i in range(self.count):
                    yield f.read(IMAGE_BYTES), int(labels[i])
        else:
            for i in range(self.count):
                yield self.record_bytes(i)

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


def write_bin_stream(f, images_iter: Iterable, labels: np.ndarray | list[int]) -> int:
    """Write a bin dataset to the open binary file `f` (at its start).

    `labels` gives N up front; `images_iter` yields N images (arrays or raw
    float32 bytes) consumed one at a time. Returns N.
    """
    labels = np.asarray(labels, dtype="<i8")
    count = int(labels.shape[0])
    f.write(struct.pack("<q", count))
    written = 0
    for image in images_iter:
        if written == count:
            raise ValueError(f"more images than the {count} labels")
        f.write(_as_image_bytes(image))
        written += 1
    if written != count:
        raise ValueError(f"{written} images for {count} labels")
    f.write(labels.tobytes())
    return count


def write_bin(path: Path | str, images_iter: Iterable, labels) -> Path:
    """Write a bin dataset to `path` atomically (temp name in the same dir, rename)."""
    from ..fsio import atomic_output

    path = Path(path)
    with atomic_output(path) as f:
        write_bin_stream(f, images_iter, labels)
    return path


def write_slim_record(dir_path: Path, index: int, image, label: int) -> None:
    if not INT32_MIN <= int(label) <= INT32_MAX:
        raise LabError(f"label {label} of image {index} does not fit the slim-dir 4-byte int")
    with open(Path(dir_path) / slim_name(index), "wb") as f:
        f.write(_as_image_bytes(image))
        f.write(struct.pack("<i", int(label)))


def write_slim_dir(path: Path | str, images_iter: Iterable, labels) -> Path:
    """Write a slim-dir dataset to `path` atomically (temp dir, rename)."""
    path = Path(path)
    labels = [int(v) for v in labels]
    tmp = temp_sibling(path)
    try:
        tmp.mkdir()
        n = 0
        for n, image in enumerate(images_iter, start=1):
            if n > len(labels):
                raise ValueError(f"more images than the {len(labels)} labels")
            write_slim_record(tmp, n - 1, image, labels[n - 1])
        if n != len(labels):
            raise ValueError(f"{n} images for {len(labels)} labels")
        replace_path(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    return path


# file-system plumbing shared with preprocess ----------------------------------

def temp_sibling(path: Path) -> Path:
    """A temporary name in the same directory (same file system, so rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def _remove(path: Path) -> None:
    import shutil

    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def replace_path(src: Path, dst: Path) -> None:
    """Move a finished file or slim-dir onto `dst`, replacing an older dataset there."""
    src, dst = Path(src), Path(dst)
    if src.is_dir():
        if dst.is_dir():
            stray = [e.name for e in os.scandir(dst) if not _SLIM_NAME.match(e.name)]
            if stray:
                raise LabError(f"{dst} exists and is not a slim-dir dataset "
                               f"(it holds {stray[0]!r})", where=str(dst),
                               hint="choose another --output or remove that directory")
        elif dst.exists():
            raise LabError(f"{dst} exists and is a file; a slim-dir output is a directory",
                           where=str(dst), hint="choose another --output or remove the file")
        swap_in_directory(src, dst)
        return
    if dst.is_dir():
        raise LabError(f"{dst} is a directory; a bin output is a file", where=str(dst),
                       hint="choose a file name for --output, or use --format slim-dir")
    os.replace(src, dst)


def remove_path(path: Path) -> None:
    _remove(Path(path))


# conversion -------------------------------------------------------------------

from dataclasses import dataclass  # noqa: E402

from ..results import JsonResult  # noqa: E402


@dataclass
class ConvertResult(JsonResult):
    source: Path
    source_format: str
    output: Path
    format: str
    count: int
    sha256: str
    size_bytes: int
    sidecar: Path
    source_sidecar_verified: bool
    seconds: float


def convert_dataset(source: Path | str, output: Path | str, to_fmt: str,
                    progress: bool = False) -> ConvertResult:
    """bin <-> slim-dir by copying the float records; no image is decoded again.

    The source's sidecar, when present, must match (it is checked first); its
    provenance (label list, Pillow version, options) is carried into the new
    sidecar. The output is written under a temporary name and renamed.
    """
    import time

    from .sidecar import (build_sidecar, dataset_digest, sidecar_path, verify_sidecar,
                          write_sidecar)

    started = time.perf_counter()
    source, output = Path(source), Path(output)
    if to_fmt not in FORMATS:
        raise LabError(f"unknown target format {to_fmt!r}", hint="use --to bin or --to slim-dir")
    src_fmt = detect_format(source)
    if src_fmt == to_fmt:
        raise LabError(f"{source} is already in the {to_fmt} format", where=str(source),
                       hint="pick the other format with --to (bin or slim-dir)")
    if output.resolve() == source.resolve():
        raise LabError("--output must differ from the source", where=str(output))
    carried: dict = {}
    verified = False
    if sidecar_path(source).exists():
        old = verify_sidecar(source)
        verified = True
        carried = {k: v for k, v in old.items()
                   if k in ("label_list", "data_dir", "algorithm", "pillow", "numpy", "options",
                            "skipped_missing", "skipped_bad", "created_at")}
    with DatasetReader(source) as reader:
        labels = reader.labels.copy()
        if to_fmt == "slim-dir" and labels.size and (labels.min() < INT32_MIN
                                                     or labels.max() > INT32_MAX):
            raise LabError("labels do not fit the slim-dir 4-byte int", where=str(source))
        from .preprocess import _Progress, _prepare_output

        need = bin_size(reader.count) if to_fmt == "bin" else reader.count * SLIM_RECORD_BYTES
        tmp = _prepare_output(output, to_fmt, need)
        bar = _Progress(reader.count, progress, "converting").start()
        try:
            if to_fmt == "bin":
                with open(tmp, "r+b") as f:
                    write_bin_stream(f, _advancing(reader.iter_records(), bar), labels)
            else:
                for i, (image, label) in enumerate(reader.iter_records()):
                    write_slim_record(tmp, i, image, label)
                    bar.advance(1)
            bar.close()
            digest, size = dataset_digest(tmp, to_fmt, reader.count)
            meta = build_sidecar(output, to_fmt, reader.count, labels, digest, size,
                                 converted_from={"path": str(source.resolve()),
                                                 "format": src_fmt,
                                                 "sidecar_verified": verified},
                                 **carried)
            sidecar_path(output).unlink(missing_ok=True)
            replace_path(tmp, output)
            side = write_sidecar(output, meta)
        except BaseException:
            bar.close()
            _remove(tmp)
            raise
    return ConvertResult(source=source, source_format=src_fmt, output=output, format=to_fmt,
                         count=reader.count, sha256=digest, size_bytes=size, sidecar=side,
                         source_sidecar_verified=verified,
                         seconds=round(time.perf_counter() - started, 3))


def _advancing(records, bar):
    for image, _label in records:
        yield image
        bar.advance(1)
