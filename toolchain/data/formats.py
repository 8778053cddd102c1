"""The two on-disk dataset formats, one class each: layout, reading and writing.

"bin" (what Paddle's own C++ testers and Python readers use), little-endian:
    int64 N | N x float32[3][224][224] (CHW, RGB, normalized) | N x int64 label

"slim-dir" (what PaddleSlim's TensorRT demo `test_acc` reads): a directory of
`<i>.data` files, i = 0..N-1, each 602112 bytes of float32 image then one
4-byte C++ `int` label; no header.

A format knows its sizes and the files that hold its data, reads a dataset's
count, labels, images and raw records without loading it whole, and writes one
into a staged output: `create` (the empty output), `open_writer` (records by
slot, in any order), `finish` (what goes around the records), `compact` (drop
slots), `publish` (rename into place). Nothing here decodes images.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path
from typing import Iterator

from ..errors import LabError

CHANNELS, HEIGHT, WIDTH = 3, 224, 224
IMAGE_SHAPE = (CHANNELS, HEIGHT, WIDTH)
IMAGE_FLOATS = CHANNELS * HEIGHT * WIDTH
IMAGE_BYTES = IMAGE_FLOATS * 4            # 602112
HEADER_BYTES = 8
LABEL_BYTES = 8
SLIM_LABEL_BYTES = 4
SLIM_RECORD_BYTES = IMAGE_BYTES + SLIM_LABEL_BYTES   # 602116
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


def int64_bytes(values) -> bytes:
    """Integers as little-endian int64 (the bin header and labels), without numpy."""
    return struct.pack(f"<{len(values)}q", *(int(v) for v in values))


def pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data).cast("B")
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _images_array(data: bytes | bytearray, n: int):
    import numpy as np

    return np.frombuffer(data, dtype="<f4").astype(np.float32, copy=False).reshape(
        (n,) + IMAGE_SHAPE)


class BinFormat:
    """One file: header, images, labels. Written by pwrite into a preallocated file."""

    name = "bin"
    label_dtype = "int64"
    default_name = "val.bin"        # the output preprocess writes when none is given

    def size(self, count: int) -> int:
        return bin_size(count)

    def data_files(self, path: Path, count: int) -> list[Path]:
        return [path]

    # reading ------------------------------------------------------------------
    def count(self, path: Path) -> int:
        size = path.stat().st_size
        if size < HEADER_BYTES:
            raise LabError(f"not a bin dataset: {path} is only {size} bytes", where=str(path))
        with open(path, "rb") as f:
            (count,) = struct.unpack("<q", f.read(HEADER_BYTES))
        if count < 0 or bin_size(count) != size:
            raise LabError(
                f"not a valid bin dataset: header says {count} images "
                f"({bin_size(max(count, 0))} bytes) but the file has {size} bytes",
                where=str(path),
                hint="the file is truncated or not a dataset; regenerate it with "
                     "`invoke preprocess`")
        return int(count)

    def labels(self, path: Path, count: int):
        import numpy as np

        return np.fromfile(path, dtype="<i8", count=count,
                           offset=labels_offset(count)).astype(np.int64)

    def images(self, path: Path, start: int, stop: int):
        buf = bytearray((stop - start) * IMAGE_BYTES)
        with open(path, "rb", buffering=0) as f:
            got = os.preadv(f.fileno(), [buf], image_offset(start))
        if got != len(buf):
            raise LabError(f"{path} ended while reading images {start}..{stop - 1}",
                           where=str(path), hint="regenerate it with `invoke preprocess`")
        return _images_array(buf, stop - start)

    def records(self, path: Path, count: int, labels) -> Iterator[tuple[bytes, int]]:
        with open(path, "rb") as f:
            f.seek(HEADER_BYTES)
            for i in range(count):
                yield f.read(IMAGE_BYTES), int(labels[i])

    def stored_slot(self, target: Path, slot: int) -> bytes:
        """The bytes the dataset stores for one slot (its image)."""
        with open(target, "rb", buffering=0) as f:
            return os.pread(f.fileno(), IMAGE_BYTES, image_offset(slot))

    def header(self, count: int) -> bytes:
        return int64_bytes([count])

    def trailer(self, labels) -> bytes:
        return int64_bytes(labels)

    def holds_labels(self, target: Path, labels) -> bool:
        """Whether the file's count and stored labels are exactly `labels` (no numpy)."""
        want = self.trailer(labels)
        with open(target, "rb") as f:
            head = f.read(HEADER_BYTES)
            f.seek(labels_offset(len(labels)))
            return head == self.header(len(labels)) and f.read(len(want) + 1) == want

    # writing ------------------------------------------------------------------
    def refuse_output(self, output: Path) -> None:
        if output.is_dir():
            raise LabError(f"--out {output} is a directory; a bin dataset is a file",
                           where=str(output), hint="give a file name, or use --format slim-dir")

    def create(self, target: Path, size: int) -> None:
        with open(target, "xb") as f:
            os.ftruncate(f.fileno(), size)

    def allocated(self, target: Path) -> int:
        """Bytes of the disk already taken by `create` (counts as free for the output)."""
        return os.stat(target).st_blocks * 512

    def open_writer(self, target: Path) -> "BinWriter":
        return BinWriter(target)

    def finish(self, target: Path, labels) -> None:
        count = len(labels)
        with open(target, "r+b") as f:
            f.write(self.header(count))
            f.seek(labels_offset(count))
            f.write(self.trailer(labels))
            f.truncate(bin_size(count))

    def compact(self, target: Path, keep: list[int]) -> None:
        """Drop the slots not in `keep`: move the kept records down, in order."""
        fd = os.open(target, os.O_RDWR)
        try:
            for new, old in enumerate(keep):
                if new != old:
                    data = os.pread(fd, IMAGE_BYTES, image_offset(old))
                    pwrite_all(fd, data, image_offset(new))
            os.ftruncate(fd, labels_offset(len(keep)))
        finally:
            os.close(fd)

    def publish(self, src: Path, dst: Path) -> None:
        if dst.is_dir():
            raise LabError(f"{dst} is a directory; a bin output is a file", where=str(dst),
                           hint="choose a file name for --out, or use --format slim-dir")
        os.replace(src, dst)


class BinWriter:
    def __init__(self, target: Path):
        self._fd = os.open(target, os.O_WRONLY)

    def write(self, slot: int, image, label: int) -> None:
        pwrite_all(self._fd, image, image_offset(slot))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SlimDirFormat:
    """A directory of `<i>.data` records, one file per image, label last."""

    name = "slim-dir"
    label_dtype = "int32"
    default_name = "val"

    def size(self, count: int) -> int:
        return count * SLIM_RECORD_BYTES

    def data_files(self, path: Path, count: int) -> list[Path]:
        return [path / slim_name(i) for i in range(count)]

    # reading ------------------------------------------------------------------
    def count(self, path: Path) -> int:
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
        count = len(indices)
        for i in (0, count - 1):
            p = path / slim_name(i)
            if p.stat().st_size != SLIM_RECORD_BYTES:
                raise LabError(f"{p.name} is {p.stat().st_size} bytes, expected "
                               f"{SLIM_RECORD_BYTES}", where=str(p),
                               hint="regenerate it with `invoke preprocess --format slim-dir`")
        return count

    def labels(self, path: Path, count: int):
        import numpy as np

        out = np.empty(count, dtype=np.int64)
        for i in range(count):
            with open(path / slim_name(i), "rb") as f:
                f.seek(IMAGE_BYTES)
                out[i] = struct.unpack("<i", f.read(SLIM_LABEL_BYTES))[0]
        return out

    def images(self, path: Path, start: int, stop: int):
        buf = bytearray((stop - start) * IMAGE_BYTES)
        view = memoryview(buf)
        for j, i in enumerate(range(start, stop)):
            with open(path / slim_name(i), "rb", buffering=0) as f:
                f.readinto(view[j * IMAGE_BYTES:(j + 1) * IMAGE_BYTES])
        return _images_array(buf, stop - start)

    def record(self, path: Path, index: int) -> tuple[bytes, int]:
        with open(path / slim_name(index), "rb") as f:
            data = f.read(SLIM_RECORD_BYTES)
        return data[:IMAGE_BYTES], struct.unpack("<i", data[IMAGE_BYTES:])[0]

    def records(self, path: Path, count: int, labels) -> Iterator[tuple[bytes, int]]:
        for i in range(count):
            yield self.record(path, i)

    def stored_slot(self, target: Path, slot: int) -> bytes:
        """The bytes the dataset stores for one slot (its whole record file)."""
        with open(target / slim_name(slot), "rb") as f:
            return f.read()

    def header(self, count: int) -> bytes:
        return b""

    def trailer(self, labels) -> bytes:
        return b""

    def holds_labels(self, target: Path, labels) -> bool:
        """Whether the directory holds exactly len(labels) records with these labels."""
        if self.count(target) != len(labels):
            return False
        for i, label in enumerate(labels):
            with open(target / slim_name(i), "rb") as f:
                f.seek(IMAGE_BYTES)
                if f.read() != struct.pack("<i", int(label)):
                    return False
        return True

    # writing ------------------------------------------------------------------
    def refuse_output(self, output: Path) -> None:
        if output.exists() and not output.is_dir():
            raise LabError(f"--out {output} is a file; a slim-dir dataset is a directory",
                           where=str(output), hint="give a directory name, or use --format bin")

    def create(self, target: Path, size: int) -> None:
        target.mkdir()

    def allocated(self, target: Path) -> int:
        return 0

    def open_writer(self, target: Path) -> "SlimDirWriter":
        return SlimDirWriter(target)

    def finish(self, target: Path, labels) -> None:
        pass

    def compact(self, target: Path, keep: list[int]) -> None:
        """Drop the slots not in `keep`: rename the kept records down, in order."""
        keep_set = set(keep)
        for name in os.listdir(target):
            if int(name.split(".")[0]) not in keep_set:
                os.unlink(target / name)
        for new, old in enumerate(keep):
            if new != old:
                os.rename(target / slim_name(old), target / slim_name(new))

    def publish(self, src: Path, dst: Path) -> None:
        """Move a finished slim-dir onto `dst`, replacing an older slim-dir there."""
        from ..fsio import swap_in_directory

        if dst.is_dir():
            stray = [e.name for e in os.scandir(dst) if not _SLIM_NAME.match(e.name)]
            if stray:
                raise LabError(f"{dst} exists and is not a slim-dir dataset "
                               f"(it holds {stray[0]!r})", where=str(dst),
                               hint="choose another --out or remove that directory")
        elif dst.exists():
            raise LabError(f"{dst} exists and is a file; a slim-dir output is a directory",
                           where=str(dst), hint="choose another --out or remove the file")
        swap_in_directory(src, dst)


class SlimDirWriter:
    def __init__(self, target: Path):
        self._dir = str(target)

    def write(self, slot: int, image, label: int) -> None:
        if not INT32_MIN <= int(label) <= INT32_MAX:
            raise LabError(f"label {label} of image {slot} does not fit the slim-dir 4-byte int")
        with open(os.path.join(self._dir, slim_name(slot)), "wb") as f:
            f.write(memoryview(image).cast("B"))
            f.write(struct.pack("<i", int(label)))

    def close(self) -> None:
        pass


DatasetFormat = BinFormat | SlimDirFormat
BIN = BinFormat()
SLIM_DIR = SlimDirFormat()
FORMATS: dict[str, DatasetFormat] = {f.name: f for f in (BIN, SLIM_DIR)}


def format_named(name: str, flag: str = "--format") -> DatasetFormat:
    """The format called `name`; LabError naming the choices otherwise."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise LabError(f"unknown {flag} {name!r}",
                       hint="use " + " or ".join(f"{flag} {n}" for n in FORMATS)) from None


def format_of(path: Path) -> DatasetFormat:
    """bin for a file, slim-dir for a directory; LabError if neither exists."""
    if path.is_dir():
        return SLIM_DIR
    if path.is_file():
        return BIN
    raise LabError(f"dataset not found: {path}", where=str(path),
                   hint="run `invoke preprocess` (or `invoke sample-data` then preprocess) first")
