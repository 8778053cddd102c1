"""Small records the tasks hand to each other inside the work dir.

- the current Paddle Inference library (fetch-lib / build-lib set it, build-demo,
  run and lock read it): <lib_dir>/current.json
- the demo build (build-demo writes it, the cpp runner reads it):
  <work_dir>/demo/build.json
Each is written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any



def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to `path` through a temporary file in the same directory (keeps the
    file's mode; see toolchain.fsio)."""
    from .fsio import atomic_write_json

    atomic_write_json(path, data)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None


def current_library_file(lib_dir: Path) -> Path:
    return Path(lib_dir) / "current.json"


def current_library(lib_dir: Path) -> dict | None:
    """{"path": ..., "row_id": ..., "source": "fetch"|"build"|"manual", ...} or None."""
    return _read_json(current_library_file(lib_dir))


def set_current_library(lib_dir: Path, path: Path, row_id: str | None,
                        source: str, **extra: Any) -> dict:
    record = {"path": str(Path(path).resolve()), "row_id": row_id, "source": source, **extra}
    write_json_atomic(current_library_file(lib_dir), record)
    return record


def demo_build_file(work_dir: Path) -> Path:
    return Path(work_dir) / "demo" / "build.json"


def demo_build(work_dir: Path) -> dict | None:
    """{"lib": abs library path, "binaries": {"trt_clas": path, "test_acc": path}, ...}."""
    return _read_json(demo_build_file(work_dir))


def save_demo_build(work_dir: Path, record: dict) -> None:
    write_json_atomic(demo_build_file(work_dir), record)
