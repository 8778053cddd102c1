"""Content-addressed download cache with per-artifact file locks.

Layout under the cache dir:
  sha256/<2 hex>/<sha256>/<file name>   verified archives, named by their digest
  partial/<row id>/<file name>.part     downloads in progress (resumable)
  index/<row id>.json                   row -> {sha256, size, url} (rows without a
                                        published checksum are found through it)
  locks/<row id>.lock                   fcntl.flock: one fetch of an artifact at a time,
                                        so two concurrent fetches download it once
A file enters sha256/ only after its digest was computed, so a hit needs only a
size check (no re-hash, no network).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Callable, Iterator

from ..state import write_json_atomic

_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


def safe_key(key: str) -> str:
    return _SAFE.sub("_", key)


class ArtifactCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def blob_path(self, sha256: str, name: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256 / name

    def part_path(self, key: str, name: str) -> Path:
        return self.root / "partial" / safe_key(key) / f"{name}.part"

    def index_path(self, key: str) -> Path:
        return self.root / "index" / f"{safe_key(key)}.json"

    def lookup(self, sha256: str, name: str, size: int | None = None) -> Path | None:
        path = self.blob_path(sha256, name)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return path if size is None or st.st_size == size else None

    def lookup_key(self, key: str) -> tuple[Path, dict] | None:
        """The cached archive of a row, via the index (None if absent or stale)."""
        try:
            entry = json.loads(self.index_path(key).read_text())
        except (FileNotFoundError, ValueError):
            return None
        path = self.lookup(entry.get("sha256", ""), entry.get("name", ""), entry.get("size"))
        return (path, entry) if path else None

    def store(self, src: Path, sha256: str, name: str) -> Path:
        """Move a verified download into the content-addressed store (atomic rename)."""
        dest = self.blob_path(sha256, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        with contextlib.suppress(OSError):
            src.parent.rmdir()
        return dest

    def record(self, key: str, entry: dict) -> None:
        write_json_atomic(self.index_path(key), entry)

    @contextlib.contextmanager
    def lock(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold an exclusive lock for `key` (blocks while another process holds it)."""
        path = self.root / "locks" / f"{safe_key(key)}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait:
                    on_wait()
                fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
