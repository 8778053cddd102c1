"""The JSON sidecar beside every dataset (`<output>.json`) and its check.

It records what the dataset is (format, count, shape, label range), how it was
made (label list sha256, Pillow version, options) and a sha256 of its
content, so later steps can refuse a dataset that changed or does not match.

Version 2 (written now): `sha256` is the dataset digest, sha256 over the count
(int64), the sha256 of each image's float32 bytes in order, then the labels
(int64), all little-endian (`dataset_digest`). Per-image digests let the
workers that write the images hash them in parallel, and the digest is the
same for a bin file and a slim-dir holding the same images and labels.
Version 1 (still read): `sha256` is the sha256 of the data files' bytes (a bin
file whole; a slim-dir's 0.data .. N-1.data concatenated in order).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import LabError
from ..fsio import atomic_write_text
from .formats import FORMATS, IMAGE_SHAPE, int64_bytes

SIDECAR_VERSION = 2
DIGEST = ("sha256 of: count int64 | sha256 of each image's float32 bytes | labels int64 "
          "(little-endian)")
_CHUNK = 1 << 20
_BATCH = 32             # images read at a time by dataset_digest


def sidecar_path(path: Path | str) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def _data_files(path: Path, fmt: str, count: int) -> list[Path]:
    return FORMATS[fmt].data_files(path, count)


def image_digest(image) -> bytes:
    """sha256 (32 bytes) of one image's float32 bytes, as the dataset stores them."""
    return hashlib.sha256(memoryview(image).cast("B")).digest()


def combine_digests(count: int, image_digests, labels) -> str:
    """The dataset digest (hex) from the per-image digests in order and the labels."""
    h = hashlib.sha256(int64_bytes([count]))
    for d in image_digests:
        h.update(d)
    h.update(int64_bytes(labels))
    return h.hexdigest()


def data_size(path: Path | str, fmt: str, count: int) -> int:
    """Bytes of a dataset's data files on disk."""
    return sum(f.stat().st_size for f in _data_files(Path(path), fmt, count))


def dataset_digest(path: Path | str) -> tuple[str, int]:
    """(dataset digest hex, data bytes on disk) of a dataset, read a batch at a time."""
    from .binfmt import DatasetReader

    with DatasetReader(path) as reader:
        digests = [image_digest(image) for images, _ in reader.iter_batches(_BATCH)
                   for image in images]
        sha = combine_digests(reader.count, digests, reader.labels)
        return sha, data_size(path, reader.format, reader.count)


def file_digest(path: Path | str, fmt: str, count: int) -> str:
    """sha256 hex of the data files' bytes in order (the version 1 sidecar digest)."""
    h = hashlib.sha256()
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    for file in _data_files(Path(path), fmt, count):
        with open(file, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
    return h.hexdigest()


def build_sidecar(path: Path, fmt: str, count: int, labels, sha256: str, size: int,
                  **extra) -> dict:
    labels = [int(v) for v in labels]
    data = {
        "sidecar_version": SIDECAR_VERSION,
        "file": Path(path).name,
        "format": fmt,
        "count": int(count),
        "shape": list(IMAGE_SHAPE),
        "dtype": "float32",
        "label_dtype": FORMATS[fmt].label_dtype,
        "label_min": min(labels) if count else None,
        "label_max": max(labels) if count else None,
        "size_bytes": int(size),
        "sha256": sha256,
        "digest": DIGEST,
    }
    data.update(extra)
    return data


def write_sidecar(path: Path, data: dict) -> Path:
    """Write `<path>.json` atomically."""
    target = sidecar_path(path)
    atomic_write_text(target, json.dumps(data, indent=2) + "\n")
    return target


def read_sidecar(path: Path | str) -> dict:
    side = sidecar_path(path)
    try:
        data = json.loads(side.read_text())
    except FileNotFoundError:
        raise LabError(f"dataset {path} has no sidecar {side.name}", where=str(side),
                       hint="datasets made by `invoke preprocess` carry one; regenerate the "
                            "dataset with it") from None
    except (OSError, ValueError) as err:
        raise LabError(f"sidecar {side} is unreadable: {err}", where=str(side),
                       hint="regenerate the dataset with `invoke preprocess`") from None
    if not isinstance(data, dict) or "sha256" not in data or "count" not in data:
        raise LabError(f"sidecar {side} is not a dataset sidecar", where=str(side),
                       hint="regenerate the dataset with `invoke preprocess`")
    return data


def verify_sidecar(path: Path | str, check_hash: bool = True) -> dict:
    """The sidecar of dataset `path`, after checking it matches the data.

    Checks format, count (from the data's own header / files), byte size and,
    unless check_hash=False, the sha256 (as the sidecar's version defines it).
    Raises LabError on any mismatch.
    """
    from .binfmt import DatasetReader

    path = Path(path)
    data = read_sidecar(path)
    side = sidecar_path(path)
    hint = ("the dataset changed after it was made, or the sidecar belongs to another "
            "file; regenerate it with `invoke preprocess`")
    with DatasetReader(path) as reader:
        fmt, count = reader.format, reader.count
    if data.get("format") != fmt:
        raise LabError(f"sidecar says format {data.get('format')!r} but {path} is {fmt!r}",
                       where=str(side), hint=hint)
    if int(data["count"]) != count:
        raise LabError(f"sidecar says {data['count']} images but {path} holds {count}",
                       where=str(side), hint=hint)
    size = data_size(path, fmt, count)
    if int(data.get("size_bytes", -1)) != size:
        raise LabError(f"sidecar says {data.get('size_bytes')} bytes but {path} has {size}",
                       where=str(side), hint=hint)
    if check_hash:
        version = data.get("sidecar_version", 1)
        if version == 1:
            digest = file_digest(path, fmt, count)
        elif version == SIDECAR_VERSION:
            digest, _ = dataset_digest(path)
        else:
            raise LabError(f"sidecar {side} has version {version!r}; this tool reads "
                           f"versions 1 and {SIDECAR_VERSION}", where=str(side),
                           hint="use the paddle-trt-lab release that wrote it, or regenerate "
                                "the dataset with `invoke preprocess`")
        if digest != data["sha256"]:
            raise LabError(f"sha256 of {path} does not match its sidecar "
                           f"({digest[:16]}... vs {str(data['sha256'])[:16]}...)",
                           where=str(side), hint=hint)
    return data
