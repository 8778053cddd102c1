"""Where a dataset is built before it is renamed into place: a temporary sibling.

The temporary name sits in the output's directory (same file system, so the
final rename is atomic) and carries the writer's pid, so that a later run can
remove what a killed run (SIGKILL, power loss) left behind.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import LabError

if TYPE_CHECKING:
    from .formats import DatasetFormat


def temp_sibling(path: Path) -> Path:
    """A temporary name in the same directory (same file system, so rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def remove_path(path: Path) -> None:
    """Remove a file or a directory tree; nothing if it is already gone."""
    path = Path(path)
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(output: Path) -> None:
    """Temporary outputs of runs that were killed (SIGKILL, power loss) are removed."""
    try:
        candidates = list(output.parent.glob(f".{output.name}.partial-*"))
    except OSError:
        return
    for stale in candidates:
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                remove_path(stale)
            except OSError:
                pass


def stage_output(output: Path, fmt: "DatasetFormat", need_bytes: int) -> Path:
    """Check the output location and create the empty temporary output; LabError if
    it cannot be written or the disk has less than `need_bytes` free."""
    fmt.refuse_output(output)
    parent = output.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LabError(f"cannot create the output directory {parent}: {err.strerror or err}",
                       where=str(parent), hint="choose an --out in a writable directory") \
            from None
    tmp = temp_sibling(output)
    remove_path(tmp)
    remove_stale_partials(output)
    try:
        fmt.create(tmp, need_bytes)
    except OSError as err:
        remove_path(tmp)
        raise LabError(f"cannot write the output in {parent}: {err.strerror or err}",
                       where=str(output),
                       hint="the directory is read-only or not writable by you; choose an "
                            "--out in a writable directory") from None
    try:
        free = shutil.disk_usage(parent).free
    except OSError:
        free = None
    if free is not None and free + fmt.allocated(tmp) < need_bytes:
        remove_path(tmp)
        raise LabError(f"not enough disk space in {parent}: need {need_bytes / 1e9:.2f} GB, "
                       f"{free / 1e9:.2f} GB free", where=str(parent),
                       hint="free space or choose another --out")
    return tmp
