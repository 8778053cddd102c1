"""What a fetch will do, decided before anything happens (pure), and its shell form.

`--dry-run` prints `render_script(plan)`: a bash script that does the same
by hand (curl with resume, sha256sum -c, tar into a temp dir, mv into place).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import LabError
from ..library.manifest import LibraryRecipe
from ..results import JsonResult
from ..shellscript import ShellScript


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
    row = plan.row
    sh = ShellScript("fetch-lib --dry-run", "the same steps by hand")
    sh.note(f"row: {row.id} ({row.status})")
    for r in plan.reasons:
        sh.note(f"why: {r}")
    sh.note(f"url:     {plan.url}")
    sh.note(f"cache:   {plan.cache_path or plan.part_path.parent.parent.parent / 'sha256'}"
            + ("" if plan.cache_path else "/<2 hex>/<sha256>/ (known after the first download)"))
    sh.note(f"install: {plan.install_dir}")
    tmp = str(plan.install_dir.parent / f".tmp-{row.id}-manual")
    if plan.archive:
        src = str(plan.archive)
        sh.comment(f"installing from the local archive {src}")
    else:
        src = str(plan.part_path)
        sh.run(["mkdir", "-p", str(plan.part_path.parent)])
        sh.run(["curl", "-fL", "--retry", "5", "--connect-timeout", "10", "-C", "-", "-o", src,
                plan.url])
    if plan.expected_sha256:
        sh.comment(f"sha256 from the {plan.checksum_source}")
        sh.pipe(["echo", f"{plan.expected_sha256}  {src}"], ["sha256sum", "-c", "-"])
    else:
        sh.comment("no published checksum: record this digest (fetch-lib writes it to the "
                   "lock file, trust on first use)")
        sh.run(["sha256sum", src])
    if plan.expected_md5:
        sh.pipe(["echo", f"{plan.expected_md5}  {src}"], ["md5sum", "-c", "-"])
    if plan.cache_path and not plan.archive:
        sh.run(["mkdir", "-p", str(plan.cache_path.parent)])
        sh.run(["mv", src, str(plan.cache_path)])
        src = str(plan.cache_path)
    sh.run(["rm", "-rf", tmp]).run(["mkdir", "-p", tmp])
    if row.lib_file.endswith(".zip"):
        sh.run(["unzip", "-q", src, "-d", tmp])
    else:
        sh.run(["tar", "-xzf", src, "-C", tmp, "--no-same-owner"])
    q = sh.quote       # the globs below stay outside the quotes
    sh.line(f"test -f {q(tmp)}/*/paddle/include/paddle_inference_api.h")
    sh.line(f"cat {q(tmp)}/*/version.txt")
    sh.run(["rm", "-rf", str(plan.install_dir)])
    sh.line(f"mv {q(tmp)}/* {q(str(plan.install_dir))}")
    sh.run(["rmdir", tmp])
    sh.run(["echo", "installed", str(plan.install_dir)])
    return sh.render()
