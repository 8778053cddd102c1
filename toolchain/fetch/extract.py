"""Safe extraction and atomic installation of a library archive.

Safe by construction on every Python the project supports (tarfile's own `data`
filter is not relied on: on 3.11.7 a chain of directory symlinks whose resolved
path passes PATH_MAX gets past it, CVE-2025-4517):

- `plan_tar(members)` (pure) decides every member's destination before anything is
  written, resolving each path component against an in-memory map of what the
  archive has created so far (never the OS's realpath). It refuses absolute names,
  `..` that leaves the tree, NUL bytes, names/components/resolved paths over the OS
  limits, device files and FIFOs, symbolic links whose target resolves outside (or
  through a chain of links outside), hard links whose target is not a regular file
  already extracted inside, members that would replace a link, and archives over
  the size / member-count limits (read from the headers, before any data is read);
- members are written by hand to their resolved physical paths (which contain no
  links), files with O_NOFOLLOW | O_EXCL, modes without set-uid/set-gid bits;
- the finished tree is walked and every entry's realpath must lie inside it.
Extraction goes to a temporary dir inside the lib dir (same file system), the tree
is validated, and only then is it renamed to <lib dir>/<row id>/: an interrupted
run never leaves a half-installed library under that name (leftover `.tmp-*` dirs
are removed by the next run).
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..errors import LabError
from ..fsio import swap_in_directory
from ..library.installed import InstalledLibrary, library_root, validate_library

MARKER = ".fetch-lib.json"
PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096
NAME_MAX = 255
MAX_LINK_HOPS = 40                      # like the kernel's ELOOP limit


@dataclass(frozen=True)
class ExtractLimits:
    """What an archive may expand to (lab.fetch.extract_*)."""

    max_bytes: int = 32 << 30           # extracted bytes, absolute cap
    max_ratio: float = 50.0             # extracted bytes per archive byte
    min_allowance: int = 64 << 20       # the ratio never caps below this
    max_members: int = 200_000

    def cap(self, archive_size: int) -> int:
        return int(min(self.max_bytes, max(self.min_allowance, self.max_ratio * archive_size)))


@dataclass(frozen=True)
class MemberAction:
    """One member's decision: kind is dir | file | symlink | hardlink."""

    member: tarfile.TarInfo
    kind: str
    dest: str                           # resolved physical path below the root (no links)
    link_target: str | None = None      # symlink: the text; hardlink: resolved path of target


class _Escape(Exception):
    pass


def _bad_path(name: str) -> str | None:
    if "\x00" in name:
        return "NUL byte in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "'..' in path"
    return None


class _Tree:
    """The tree the archive has built so far, in memory: path -> dir | file | (symlink text)."""

    def __init__(self, root_len: int):
        self.nodes: dict[str, str | tuple[str]] = {"": "dir"}
        self.root_len = root_len

    def resolve(self, path: str, follow_last: bool) -> str:
        """`path` (relative to the root) with every symlink replaced by its target,
        lexically; raises _Escape when it leaves the root or loops."""
        todo = [p for p in path.split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if not done:
                    raise _Escape("leaves the archive's tree")
                done.pop()
                continue
            if len(part.encode()) > NAME_MAX:
                raise _Escape(f"a path component is longer than {NAME_MAX} bytes")
            done.append(part)
            node = self.nodes.get("/".join(done))
            if isinstance(node, tuple) and (todo or follow_last):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise _Escape("too many levels of symbolic links")
                target = node[0]
                if target.startswith("/"):
                    raise _Escape("goes through a link to an absolute path")
                done.pop()
                todo[:0] = [p for p in target.split("/") if p not in ("", ".")]
            elif node == "file" and todo:
                raise _Escape("uses a file as a directory")
            if self.root_len + 1 + len("/".join(done).encode()) >= PATH_MAX:
                raise _Escape(f"its resolved path is longer than the OS limit ({PATH_MAX})")
        return "/".join(done)

    def add_parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.nodes.setdefault("/".join(parts[:i]), "dir")


def plan_tar(members: Iterable[tarfile.TarInfo], root_len: int = 0,
             limits: ExtractLimits | None = None, archive_size: int = 0
             ) -> tuple[list[MemberAction], list[str]]:
    """Decide where every member goes (pure); (actions, problems). Nothing may be
    written when problems is not empty. `root_len`: length of the extraction dir."""
    limits = limits or ExtractLimits()
    cap = limits.cap(archive_size)
    tree = _Tree(root_len)
    actions: list[MemberAction] = []
    problems: list[str] = []
    total = count = 0
    for m in members:
        count += 1
        if count > limits.max_members:
            problems.append(f"more than {limits.max_members} members (lab.fetch."
                            "extract_max_members)")
            break
        if m.isfile():
            total += m.size
            if total > cap:
                problems.append(f"expands to more than {cap:,} bytes (lab.fetch."
                                f"extract_max_bytes / extract_max_ratio x the archive's "
                                f"{archive_size:,} bytes): a decompression bomb?")
                break
        name = m.name
        why = _bad_path(name)
        if not why and len(name.encode()) >= PATH_MAX:
            why = f"name longer than the OS limit ({PATH_MAX})"
        if not why and (m.issym() or m.islnk()) and "\x00" in m.linkname:
            why = "NUL byte in the link target"
        if not why and (m.ischr() or m.isblk() or m.isfifo() or m.isdev()):
            why = "device file or FIFO"
        if not why and not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            why = f"unsupported member type {m.type!r}"
        if why:
            problems.append(f"{name}: {why}")
            continue
        clean = "/".join(p for p in name.split("/") if p not in ("", "."))
        if not clean:
            continue                                   # "./" itself
        try:
            parent = tree.resolve(posixpath.dirname(clean), follow_last=True)
            dest = posixpath.join(parent, posixpath.basename(clean))
            tree.resolve(dest, follow_last=False)      # lengths of the final path
            existing = tree.nodes.get(dest)
            if isinstance(existing, tuple):
                raise _Escape("would replace a symbolic link")
            if existing == "dir" and not m.isdir():
                raise _Escape("would replace a directory")
            if m.issym():
                target = m.linkname
                if target.startswith("/"):
                    raise _Escape(f"symbolic link to {target} points outside")
                try:
                    tree.resolve(posixpath.join(parent, target), follow_last=True)
                except _Escape as exc:
                    raise _Escape(f"symbolic link to {target} points outside ({exc})")
                tree.add_parents(dest)
                tree.nodes[dest] = (target,)
                actions.append(MemberAction(m, "symlink", dest, target))
            elif m.islnk():
                if _bad_path(m.linkname):
                    raise _Escape(f"hard link to {m.linkname} points outside")
                try:
                    target = tree.resolve(m.linkname, follow_last=True)
                except _Escape:
                    raise _Escape(f"hard link to {m.linkname} points outside")
                if tree.nodes.get(target) != "file":
                    raise _Escape(f"hard link to {m.linkname}, which is not a regular file "
                                  "extracted before it")
                tree.add_parents(dest)
                tree.nodes[dest] = "file"
                actions.append(MemberAction(m, "hardlink", dest, target))
            elif m.isdir():
                tree.add_parents(dest)
                tree.nodes[dest] = "dir"
                actions.append(MemberAction(m, "dir", dest))
            else:
                tree.add_parents(dest)
                tree.nodes[dest] = "file"
                actions.append(MemberAction(m, "file", dest))
        except _Escape as exc:
            problems.append(f"{name}: {exc}")
    return actions, problems


def tar_problems(tar: tarfile.TarFile) -> list[str]:
    """Every unsafe member of a tar archive, one line each."""
    return plan_tar(tar.getmembers())[1]


def zip_problems(zf: zipfile.ZipFile, limits: ExtractLimits | None = None,
                 archive_size: int = 0) -> list[str]:
    limits = limits or ExtractLimits()
    problems = []
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        problems.append(f"more than {limits.max_members} members (lab.fetch.extract_max_members)")
    total = sum(i.file_size for i in infos)
    if total > limits.cap(archive_size):
        problems.append(f"expands to more than {limits.cap(archive_size):,} bytes: a "
                        "decompression bomb?")
    for info in infos:
        why = _bad_path(info.filename)
        if why:
            problems.append(f"{info.filename}: {why}")
        mode = info.external_attr >> 16
        if mode and (mode & 0o170000) not in (0, 0o100000, 0o040000):
            problems.append(f"{info.filename}: links/special files are not allowed in zip")
    return problems


def _scan_tar(tar: tarfile.TarFile, limits: ExtractLimits, archive_size: int
              ) -> list[tarfile.TarInfo]:
    """The members, read header by header: stops (without reading further data) as
    soon as the count or the announced sizes pass the limits."""
    members: list[tarfile.TarInfo] = []
    cap, total = limits.cap(archive_size), 0
    while True:
        m = tar.next()
        if m is None:
            return members
        members.append(m)
        total += m.size if m.isfile() else 0
        if total > cap or len(members) > limits.max_members:
            return members            # plan_tar reports which limit


def _disk_error(exc: OSError, where: Path, need: int | None = None) -> LabError:
    err = _disk_error_text(exc, where, need)
    err.disk = True            # not the archive's fault: keep the download
    return err


def _disk_error_text(exc: OSError, where: Path, need: int | None = None) -> LabError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        free = _free(where)
        return LabError(f"no space left on the device while writing {where}"
                        + (f": {need:,} bytes needed, {free:,} free" if need else ""),
                        where=str(where),
                        hint="free space there, or point lab.lib_dir / --lib-dir (or "
                             "lab.cache_dir) at a disk with room, then run again")
    if exc.errno == errno.EROFS:
        return LabError(f"{where} is on a read-only file system", where=str(where),
                        hint="point lab.lib_dir / --lib-dir (or lab.cache_dir) at a writable "
                             "folder")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return LabError(f"permission denied writing {where}", where=str(where),
                        hint="make the folder writable, or point lab.lib_dir / --lib-dir (or "
                             "lab.cache_dir) at one you own")
    return LabError(f"writing {where} failed: {exc.strerror or exc}", where=str(where),
                    hint="check the disk, then run again")


def _free(path: Path) -> int:
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return 0


def check_free(path: Path, need: int, what: str) -> None:
    """LabError when the file system of `path` has less than `need` bytes free."""
    free = _free(path)
    if free and need > free:
        err = LabError(f"not enough free disk space for {what}: {need:,} bytes needed, "
                       f"{free:,} free", where=str(path),
                       hint="free space there, or point lab.lib_dir / --lib-dir (or "
                            "lab.cache_dir) at a disk with room")
        err.disk = True
        raise err


def _write_tar(tar: tarfile.TarFile, actions: list[MemberAction], dest: Path,
               on_member: Callable[[str], None] | None) -> None:
    root = str(dest)
    for a in actions:
        if on_member:
            on_member(a.member.name)
        path = os.path.join(root, a.dest)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        if a.kind == "dir":
            os.makedirs(path, mode=0o755, exist_ok=True)
        elif a.kind == "symlink":
            os.symlink(a.link_target, path)
        elif a.kind == "hardlink":
            if os.path.lexists(path):
                os.unlink(path)
            os.link(os.path.join(root, a.link_target), path, follow_symlinks=False)
        else:
            if os.path.lexists(path):
                os.unlink(path)      # a repeated member: the later one wins, like tar
            mode = (a.member.mode & 0o755) | 0o600
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as out:
                src = tar.extractfile(a.member)
                if src is not None:
                    shutil.copyfileobj(src, out, 1 << 20)
            os.utime(path, (a.member.mtime, a.member.mtime), follow_symlinks=False)


def check_tree(dest: Path) -> list[str]:
    """Entries of the finished tree whose realpath is not inside it."""
    root = os.path.realpath(dest)
    bad = []
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            real = os.path.realpath(p)
            if real != root and not real.startswith(root + os.sep):
                bad.append(f"{os.path.relpath(p, dest)}: resolves to {real}, outside")
    return bad


def safe_extract(archive: Path, dest: Path,
                 on_member: Callable[[str], None] | None = None,
                 limits: ExtractLimits | None = None) -> None:
    """Extract a .tgz/.tar.gz/.zip into `dest`, refusing unsafe members (LabError)."""
    archive, dest = Path(archive), Path(dest)
    limits = limits or ExtractLimits()
    size = archive.stat().st_size
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            problems = zip_problems(zf, limits, size)
            if problems:
                _refuse(archive, problems)
            check_free(dest, sum(i.file_size for i in zf.infolist()), "extracting the archive")
            try:
                for info in zf.infolist():
                    if on_member:
                        on_member(info.filename)
                    zf.extract(info, dest)
            except OSError as exc:
                raise _disk_error(exc, dest) from None
        bad = check_tree(dest)
        if bad:
            _refuse(archive, bad)
        return
    try:
        tar = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError):
        raise LabError(f"not a readable tar/zip archive: {_what_it_looks_like(archive)}",
                       where=str(archive),
                       hint="the download is damaged or not a library archive (an HTML page?);"
                            " delete it and fetch again") from None
    with tar:
        try:
            members = _scan_tar(tar, limits, size)
        except (tarfile.TarError, EOFError, OSError, UnicodeError, ValueError) as exc:
            raise LabError(f"the archive is damaged: {exc}", where=str(archive),
                           hint="delete it and fetch again") from None
        actions, problems = plan_tar(members, len(os.fsencode(os.path.abspath(dest))),
                                     limits, size)
        if problems:
            _refuse(archive, problems)
        check_free(dest, sum(a.member.size for a in actions if a.kind == "file"),
                   "extracting the archive")
        try:
            _write_tar(tar, actions, dest, on_member)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                             errno.EPERM):
                raise _disk_error(exc, dest) from None
            raise LabError(f"extracting the archive failed: {exc}", where=str(archive),
                           hint="delete it and fetch again") from None
        except (tarfile.TarError, EOFError, ValueError) as exc:
            raise LabError(f"extracting the archive failed: {exc}", where=str(archive),
                           hint="delete it and fetch again") from None
    bad = check_tree(dest)
    if bad:
        _refuse(archive, bad)


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


def _what_it_looks_like(archive: Path) -> str:
    """One plain cause for an archive tarfile cannot open (tarfile's own text lists
    every method it tried)."""
    try:
        with open(archive, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    if not head:
        return "the file is empty"
    if head.lstrip()[:1] == b"<":
        return "it is an HTML/XML page, not an archive"
    if head[:2] == b"\x1f\x8b":
        return "a gzip stream that is truncated or holds no tar"
    return f"its first bytes ({head[:8]!r}) are not gzip, bzip2, xz, zip or tar"


def install_archive(archive: Path, lib_dir: Path, row_id: str,
                    check: Callable[[InstalledLibrary], None], marker: dict,
                    on_member: Callable[[str], None] | None = None,
                    limits: ExtractLimits | None = None) -> Path:
    """Extract, validate (+ `check`), then rename into <lib_dir>/<row_id>/."""
    import json

    lib_dir = Path(lib_dir)
    try:
        lib_dir.mkdir(parents=True, exist_ok=True)
        clean_stale(lib_dir, row_id)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{row_id}-", dir=lib_dir))
    except OSError as exc:
        raise _disk_error(exc, lib_dir) from None
    dest = lib_dir / row_id
    try:
        safe_extract(archive, tmp, on_member, limits)
        root = _single_child_root(tmp)
        found = validate_library(root)
        check(found)
        (root / MARKER).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n")
        # the ".old-<row id>-" prefix is what clean_stale sweeps after a killed run
        swap_in_directory(root, dest, aside_prefix=f".old-{row_id}-")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def installed_marker(lib_dir: Path, row_id: str) -> dict | None:
    import json

    try:
        return json.loads((Path(lib_dir) / row_id / MARKER).read_text())
    except (FileNotFoundError, ValueError):
        return None
