"""lab.lock.toml: read and write, atomically, keeping tables this code does not own.

Tables:
  [libraries."<row id>"]  url, sha256, size, md5 (optional), recorded  (fetch-lib,
                          trust on first use when the manifest has no checksum)
  everything else         owned by `invoke lock` (toolchain.lab_lock)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .errors import LabError


def load_lock(path: Path) -> dict[str, Any]:
    """The lock as a dict; {} when the file does not exist."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise LabError(f"the lock file is not valid TOML: {exc}", where=str(path),
                       hint="fix the file by hand, or move it away and run `invoke lock` again")


def save_lock(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def library_entry(data: dict[str, Any], row_id: str) -> dict[str, Any] | None:
    return (data.get("libraries") or {}).get(row_id)


def set_library_entry(data: dict[str, Any], row_id: str, entry: dict[str, Any]) -> None:
    data.setdefault("libraries", {})[row_id] = entry
