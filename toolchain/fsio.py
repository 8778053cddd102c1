"""File-system mechanisms every step shares: atomic writes that keep a file's mode, a
staged directory swapped into place, and the sha256 of a file or a tree.

`atomic_write_bytes` / `atomic_write_text` / `atomic_write_json` write to a
temporary file in the target's directory (same file system), flush it, give it
the mode the target had (or, for a new file, 0666 minus the umask: 0644 under the
usual umask 022, the mode `open()` would give) and rename it over the target. A
reader sees the old file or the new one, never half of one; a failure leaves the
target as it was and no temporary file behind.

(tempfile.mkstemp creates 0600 files: renamed as they are, every lock file, record
and result would turn private, which is wrong for files meant to be shared.)

`atomic_output` is the same for a file written piece by piece (a file object).

`swap_in_directory` puts a finished directory, built beside its destination, in
place of whatever was there: the old one is renamed aside first and removed only
after the new one is in, so a failure at any point leaves either the old tree or
the new one at `dest`, never nothing and never half of one. `staged_directory` is
the usual way in: build inside the folder it gives, and it is swapped in on success
and removed on failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

CHUNK = 1 << 20


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
    with atomic_output(path, mode) as fh:
        fh.write(data)


@contextmanager
def atomic_output(path: Path, mode: int | None = None) -> Iterator[BinaryIO]:
    """A binary file object whose contents replace `path` when the block ends without error.

    Same rules as `atomic_write_bytes` (temporary sibling, mode kept, fsync, rename); an
    exception in the block leaves `path` as it was and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bits = mode_for(path) if mode is None else mode
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), bits)
            yield fh
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


# -- directories -----------------------------------------------------------------------

def swap_in_directory(staged: Path, dest: Path, aside_prefix: str | None = None) -> None:
    """Rename `staged` to `dest`, replacing what is there (a directory, file or link).

    `staged` must be on dest's file system (a sibling). The old `dest` is first renamed
    into a fresh sibling folder (`aside_prefix`, default ".<name>.old-"), so it is never
    deleted before the new tree is in place; if the second rename fails the old one is
    put back. The old tree is removed last.
    """
    staged, dest = Path(staged), Path(dest)
    if not (dest.exists() or dest.is_symlink()):
        os.rename(staged, dest)
        return
    aside = Path(tempfile.mkdtemp(prefix=aside_prefix or f".{dest.name}.old-", dir=dest.parent))
    try:
        os.rename(dest, aside / dest.name)
        try:
            os.rename(staged, dest)
        except BaseException:
            os.rename(aside / dest.name, dest)
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def staged_directory(dest: Path, aside_prefix: str | None = None) -> Iterator[Path]:
    """An empty sibling folder of `dest` to build in, swapped in when the block ends.

    On success the folder replaces `dest` through `swap_in_directory`; if the block
    (or the swap) raises, the folder is removed and `dest` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        yield staged
        swap_in_directory(staged, dest, aside_prefix)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


# -- digests ---------------------------------------------------------------------------

def hash_file_into(digest: Any, path: Path, on_bytes: Callable[[int], None] | None = None
                   ) -> int:
    """Feed a file to a hashlib object in CHUNK reads (never whole in memory); its size."""
    total = 0
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            total += len(chunk)
            if on_bytes:
                on_bytes(len(chunk))
    return total


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """sha256 hex of a file; `on_bytes(n)` is told of every chunk read (progress)."""
    digest = hashlib.sha256()
    hash_file_into(digest, path, on_bytes)
    return digest.hexdigest()


def sha256_tree(path: Path) -> str:
    """One digest for a folder: sha256 over sorted 'relative name  file sha256' lines.

    Hidden files and caches (engine caches, shape files under _opt_cache) are left
    out so the digest names the contents, not what running them left behind. A file
    gets its own sha256.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    lines = []
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path)
        if any(part.startswith((".", "_opt_cache")) for part in rel.parts):
            continue
        lines.append(f"{rel.as_posix()}  {sha256_file(f)}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def tree_listing_digest(root: Path) -> tuple[str, int]:
    """sha256 over the sorted (relative path, size) listing of a tree, and its file count.

    Cheap (no file contents) yet catches added, removed and resized files in a
    multi-GB library; where contents matter, hash the files themselves.
    """
    digest = hashlib.sha256()
    count = 0
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(root).as_posix()}\0{path.stat().st_size}\n".encode())
        count += 1
    return digest.hexdigest(), count
