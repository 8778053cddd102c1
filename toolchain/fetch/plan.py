"""What a fetch will do, decided before anything happens (pure), and its shell form.

`--dry-run` prints `render_script(plan)`: a POSIX shell script that does the same
by hand (curl with resume, sha256sum -c, tar into a temp dir, mv into place).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import LabError
from ..manifest import LibraryRecipe
from ..results import JsonResult


@dataclass
class FetchPlan(JsonResult):
    row: LibraryRecipe
    url: str                          # after --mirror
    archive: Path | None              # --archive FILE (no download)
    part_path: Path                   # resumable download
    cache_path: Path | None           # content-addressed blob, when the digest is known
    install_dir: Path
    expected_sha256: str | None
    expected_md5: str | None
    expected_size: int | None
    checksum_source: str | None       # "manifest" | "lock" | None (trust on first use)
    reasons: list[str]


def mirror_url(url: str, mirror: str | None) -> str:
    """Replace scheme and host of `url` by the mirror's; keep the path (after the
    mirror's own path prefix, if it has one)."""
    if not mirror:
        return url
    m = urlsplit(mirror if "://" in mirror else f"http://{mirror}")
    if m.scheme not in ("http", "https") or not m.netloc:
        raise LabError(f"--mirror must be an http(s) URL, got {mirror!r}",
                       hint="e.g. --mirror http://mirror.lab:8080 or "
                            "--mirror https://files.lab/paddle")
    u = urlsplit(url)
    path = m.path.rstrip("/") + u.path
    return urlunsplit((m.scheme, m.netloc, path, u.query, ""))


def render_script(plan: FetchPlan) -> str:
    q = shlex.quote
    row = plan.row
    lines = ["#!/bin/sh", "# invoke fetch-lib --dry-run: the same steps by hand", "set -eu",
             f"# row: {row.id} ({row.status})"]
    lines += [f"# why: {r}" for r in plan.reasons]
    lines += [f"# url:     {plan.url}",
              f"# cache:   {plan.cache_path or plan.part_path.parent.parent.parent / 'sha256'}"
              + ("" if plan.cache_path else "/<2 hex>/<sha256>/ (known after the first download)"),
              f"# install: {plan.install_dir}"]
    lib_dir = plan.install_dir.parent
    tmp = lib_dir / f".tmp-{row.id}-manual"
    if plan.archive:
        src = plan.archive
        lines.append(f"# installing from the local archive {src}")
    else:
        src = plan.part_path
        lines += [f"mkdir -p {q(str(plan.part_path.parent))}",
                  f"curl -fL --retry 5 --connect-timeout 10 -C - -o {q(str(src))} {q(plan.url)}"]
    if plan.expected_sha256:
        lines.append(f"# sha256 from the {plan.checksum_source}")
        lines.append(f"echo {q(plan.expected_sha256 + '  ' + str(src))} | sha256sum -c -")
    else:
        lines.append("# no published checksum: record this digest (fetch-lib writes it to the "
                     "lock file, trust on first use)")
        lines.append(f"sha256sum {q(str(src))}")
    if plan.expected_md5:
        lines.append(f"echo {q(plan.expected_md5 + '  ' + str(src))} | md5sum -c -")
    if plan.cache_path and not plan.archive:
        lines += [f"mkdir -p {q(str(plan.cache_path.parent))}",
                  f"mv {q(str(src))} {q(str(plan.cache_path))}"]
        src = plan.cache_path
    extract = (f"unzip -q {q(str(src))} -d {q(str(tmp))}" if row.lib_file.endswith(".zip")
               else f"tar -xzf {q(str(src))} -C {q(str(tmp))} --no-same-owner")
    lines += [f"rm -rf {q(str(tmp))} && mkdir -p {q(str(tmp))}", extract,
              f"test -f {q(str(tmp))}/*/paddle/include/paddle_inference_api.h",
              f"cat {q(str(tmp))}/*/version.txt",
              f"rm -rf {q(str(plan.install_dir))}",
              f"mv {q(str(tmp))}/* {q(str(plan.install_dir))} && rmdir {q(str(tmp))}",
              f"echo installed {q(str(plan.install_dir))}"]
    return "\n".join(lines) + "\n"
