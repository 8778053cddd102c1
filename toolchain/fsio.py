"""File-system mechanisms every step shares: atomic writes that keep a file's mode.

`atomic_write_bytes` / `atomic_write_text` / `atomic_write_json` write to a
temporary file in the target's directory (same file system), flush it, give it
the mode the target had (or, for a new file, 0666 minus the umask: 0644 under the
usual umask 022, the mode `open()` would give) and rename it over the target. A
reader sees the old file or the new one, never half of one; a failure leaves the
target as it was and no temporary file behind.

(tempfile.mkstemp creates 0600 files: renamed as they are, every lock file, record
and result would turn private, which is wrong for files meant to be shared.)
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)   # elsewhere: the classic set-and-restore
    os.umask(old)
    return old


def mode_for(path: Path) -> int:
    """The permission bits a rewrite of `path` gets: its own, or 0666 & ~umask if new."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~current_umask()


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write `data` to `path` atomically (temporary file + rename), keeping its mode.

    `mode` forces the permission bits; by default the existing file's are kept and a
    new file gets 0666 minus the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bits = mode_for(path) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), bits)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, mode: int | None = None,
                      encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding), mode)


def atomic_write_json(path: Path, data: Any, mode: int | None = None) -> None:
    """JSON (indent 2, sorted keys, trailing newline) written atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode)
