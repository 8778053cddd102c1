"""The JSON sidecar beside every dataset (`<output>.json`) and its check.

It records what the dataset is (format, count, shape, label range), how it was
made (label list sha256, Pillow/numpy versions, options) and the sha256 of the
data, so later steps can refuse a dataset that changed or does not match.
For a slim-dir the sha256 is over the concatenation of 0.data .. N-1.data.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import LabError
from ..fsio import atomic_write_text
from .formats import FORMATS, IMAGE_SHAPE

SIDECAR_VERSION = 1
_CHUNK = 1 << 20


def sidecar_path(path: Path | str) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def _data_files(path: Path, fmt: str, count: int) -> list[Path]:
    return FORMATS[fmt].data_files(path, count)


def dataset_digest(path: Path | str, fmt: str | None = None, count: int | None = None
                   ) -> tuple[str, int]:
    """(sha256 hex, total bytes) of a dataset's data, streamed."""
    from .binfmt import DatasetReader

    path = Path(path)
    if fmt is None or count is None:
        with DatasetReader(path) as reader:
            fmt, count = reader.format, reader.count
    h = hashlib.sha256()
    total = 0
    buf = bytearray(_CHUNK)
    view = memoryview(buf)
    for file in _data_files(path, fmt, count):
        with open(file, "rb", buffering=0) as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                h.update(view[:n])
                total += n
    return h.hexdigest(), total


def build_sidecar(path: Path, fmt: str, count: int, labels, sha256: str, size: int,
                  **extra) -> dict:
    import numpy as np

    labels = np.asarray(labels)
    data = {
        "sidecar_version": SIDECAR_VERSION,
        "file": Path(path).name,
        "format": fmt,
        "count": int(count),
        "shape": list(IMAGE_SHAPE),
        "dtype": "float32",
        "label_dtype": FORMATS[fmt].label_dtype,
        "label_min": int(labels.min()) if count else None,
        "label_max": int(labels.max()) if count else None,
        "size_bytes": int(size),
        "sha256": sha256,
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
    unless check_hash=False, the sha256. Raises LabError on any mismatch.
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
    size = sum(f.stat().st_size for f in _data_files(path, fmt, count))
    if int(data.get("size_bytes", -1)) != size:
        raise LabError(f"sidecar says {data.get('size_bytes')} bytes but {path} has {size}",
                       where=str(side), hint=hint)
    if check_hash:
        digest, _ = dataset_digest(path, fmt, count)
        if digest != data["sha256"]:
            raise LabError(f"sha256 of {path} does not match its sidecar "
                           f"({digest[:16]}... vs {str(data['sha256'])[:16]}...)",
                           where=str(side), hint=hint)
    return data
