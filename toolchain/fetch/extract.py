"""Safe extraction and atomic installation of a library archive.

Every member is checked before anything is written: no absolute paths, no `..`,
no symbolic or hard links that point outside the archive's tree, no device files
or FIFOs. Then tarfile's `data` filter (Python >= 3.11.4/3.12) extracts, which
repeats those checks and drops set-uid bits. Extraction goes to a temporary dir
inside the lib dir (same file system), the tree is validated, and only then is it
renamed to <lib dir>/<row id>/: an interrupted run never leaves a half-installed
library under that name (leftover `.tmp-*` dirs are removed by the next run).
"""

from __future__ import annotations

import posixpath
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from ..errors import LabError
from ..library import InstalledLibrary, library_root, validate_library

MARKER = ".fetch-lib.json"


def _bad_path(name: str) -> str | None:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in path"
    return None


def _outside(base_dir: str, target: str) -> bool:
    """True when `target` (relative to directory `base_dir` in the archive) leaves the tree."""
    if target.startswith("/"):
        return True
    joined = posixpath.normpath(posixpath.join(base_dir, target))
    return joined == ".." or joined.startswith("../")


def tar_problems(tar: tarfile.TarFile) -> list[str]:
    """Every unsafe member of a tar archive, one line each."""
    problems = []
    for m in tar.getmembers():
        why = _bad_path(m.name)
        if why:
            problems.append(f"{m.name}: {why}")
            continue
        if m.issym() and _outside(posixpath.dirname(m.name), m.linkname):
            problems.append(f"{m.name}: symbolic link to {m.linkname} points outside")
        elif m.islnk() and (_bad_path(m.linkname) or _outside("", m.linkname)):
            problems.append(f"{m.name}: hard link to {m.linkname} points outside")
        elif m.ischr() or m.isblk() or m.isfifo() or m.isdev():
            problems.append(f"{m.name}: device file or FIFO")
        elif not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            problems.append(f"{m.name}: unsupported member type {m.type!r}")
    return problems


def zip_problems(zf: zipfile.ZipFile) -> list[str]:
    problems = []
    for info in zf.infolist():
        why = _bad_path(info.filename)
        if why:
            problems.append(f"{info.filename}: {why}")
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000):
            problems.append(f"{info.filename}: links/special files are not allowed in zip")
    return problems


def safe_extract(archive: Path, dest: Path,
                 on_member: Callable[[str], None] | None = None) -> None:
    """Extract a .tgz/.tar.gz/.zip into `dest`, refusing unsafe members (LabError)."""
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            problems = zip_problems(zf)
            if problems:
                _refuse(archive, problems)
            for info in zf.infolist():
                if on_member:
                    on_member(info.filename)
                zf.extract(info, dest)
        return
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise LabError(f"not a readable tar/zip archive: {exc}", where=str(archive),
                       hint="the download is damaged or not a library archive; delete it "
                            "and fetch again") from None
    with tar:
        try:
            problems = tar_problems(tar)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise LabError(f"the archive is damaged: {exc}", where=str(archive),
                           hint="delete it and fetch again") from None
        if problems:
            _refuse(archive, problems)
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        try:
            for member in tar.getmembers():
                if on_member:
                    on_member(member.name)
                tar.extract(member, dest, **kwargs)
        except tarfile.FilterError as exc:
            _refuse(archive, [str(exc)])
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise LabError(f"extracting the archive failed: {exc}", where=str(archive),
                           hint="delete it and fetch again") from None


def _refuse(archive: Path, problems: list[str]) -> None:
    shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
    raise LabError("refusing to extract an unsafe archive:\n  " + "\n  ".join(shown),
                   where=str(archive),
                   hint="this is not an official library archive; check the mirror/file")


def clean_stale(lib_dir: Path, row_id: str) -> None:
    """Remove temporary dirs an interrupted install of `row_id` left behind."""
    for pattern in (f".tmp-{row_id}-*", f".old-{row_id}-*"):
        for p in Path(lib_dir).glob(pattern):
            shutil.rmtree(p, ignore_errors=True)


def _single_child_root(tmp: Path) -> Path:
    root = library_root(tmp)
    if root != tmp:
        return root
    children = [p for p in tmp.iterdir() if p.is_dir()]
    if not (tmp / "paddle").exists() and len(children) == 1:
        return library_root(children[0])
    return root


def install_archive(archive: Path, lib_dir: Path, row_id: str,
                    check: Callable[[InstalledLibrary], None], marker: dict,
                    on_member: Callable[[str], None] | None = None) -> Path:
    """Extract, validate (+ `check`), then rename into <lib_dir>/<row_id>/."""
    import json

    lib_dir = Path(lib_dir)
    lib_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(lib_dir, row_id)
    dest = lib_dir / row_id
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{row_id}-", dir=lib_dir))
    old: Path | None = None
    try:
        safe_extract(archive, tmp, on_member)
        root = _single_child_root(tmp)
        found = validate_library(root)
        check(found)
        (root / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".old-{row_id}-", dir=lib_dir))
            dest.rename(old / "lib")
        try:
            root.rename(dest)
        except BaseException:
            if old is not None:
                (old / "lib").rename(dest)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return dest


def installed_marker(lib_dir: Path, row_id: str) -> dict | None:
    import json

    try:
        return json.loads((Path(lib_dir) / row_id / MARKER).read_text())
    except (FileNotFoundError, ValueError):
        return None
