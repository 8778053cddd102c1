"""fetch-lib end to end: resolve -> plan -> (cache | download) -> verify -> install.

Checksums: the manifest's sha256/md5 when it has one, else the lock file's
[libraries."<row id>"] entry; with neither, the first download's sha256 is
recorded there (trust on first use) and enforced on every later fetch.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..library.installed import LibraryVersionInfo, version_mismatches
from ..lock.file import library_entry, load_lock, save_lock, set_library_entry
from ..library.manifest import LibraryRecipe, find_recipe, load_manifest
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from ..settings import FetchSettings, LabSettings
from .cache import ArtifactCache
from .plan import FetchPlan, mirror_url
from .resolve import LibraryRequest, Resolution, apply_auto, filter_rows, resolve

@dataclass
class FetchOptions:
    mirror: str | None = None
    archive: Path | None = None
    locked: bool = False
    dry_run: bool = False
    auto: bool = False
    progress: ProgressSink = NO_PROGRESS
    force: bool = False
    # Called with the plan before anything is downloaded (the CLI prints the row).
    announce: Any = None


@dataclass
class FetchResult(JsonResult):
    row_id: str
    status: str                       # planned | installed | already-installed
    url: str
    install_dir: str
    archive: str | None = None
    sha256: str | None = None
    size: int | None = None
    checksum_source: str | None = None   # manifest | lock | recorded (first use)
    cache_hit: bool = False
    bytes_downloaded: int = 0
    final_url: str | None = None          # where the bytes came from (after redirects)
    resumed_from: int = 0
    restarts: int = 0
    reasons: list[str] = field(default_factory=list)
    version_txt: LibraryVersionInfo | None = None
    row: LibraryRecipe | None = None
    script: str | None = None


@dataclass
class LibraryList(JsonResult):
    """--list: the matching rows (best first) and any --auto notes."""

    rows: list[LibraryRecipe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _pinned_row(lock: dict) -> str | None:
    """The row `invoke lock` pinned ([library] row_id), else the only [libraries] entry."""
    row_id = (lock.get("library") or {}).get("row_id")
    if row_id:
        return row_id
    libs = lock.get("libraries") or {}
    return next(iter(libs)) if len(libs) == 1 else None


def choose_row(settings: LabSettings, req: LibraryRequest, opts: FetchOptions,
               lock: dict, rows: list[LibraryRecipe], report: Any = None) -> Resolution:
    """Which row to fetch: the lock's pin with --locked, else the resolver's pick."""
    notes: list[str] = []
    if opts.auto:
        if report is None:
            from ..doctor import collect_report  # imported only for --auto

            report = collect_report(settings)
        req, notes = apply_auto(req, report)
    if opts.locked:
        pinned = _pinned_row(lock)
        if pinned:
            row = find_recipe(pinned, rows)
            if row is None:
                raise LabError(f"the lock pins library row {pinned!r}, which is not in the "
                               "manifest", where=str(settings.lock_file),
                               hint="update the lock (`invoke lock`) or the manifest")
            if filter_rows(req, [row], include_unselectable=True) == [] and _has_filters(req):
                raise LabError(f"--locked: the lock pins {pinned}, which does not match the "
                               "flags given", where=str(settings.lock_file),
                               hint="drop the flags to fetch the pinned row, or drop --locked")
            return Resolution(row=row, reasons=notes + [f"pinned by the lock file: {pinned}"],
                              candidates=1)
    res = resolve(req, rows)
    res.reasons[:0] = notes
    return res


def _has_filters(req: LibraryRequest) -> bool:
    return any([req.paddle, req.cuda, req.cudnn, req.trt, req.gcc, req.device, req.math,
                req.no_avx])


def make_plan(settings: LabSettings, res: Resolution, opts: FetchOptions, lock: dict
              ) -> FetchPlan:
    row = res.row
    cfg = settings.fetch
    cache = ArtifactCache(settings.cache_dir)
    entry = library_entry(lock, row.id) or {}
    sha, md5, size, source = row.sha256, row.md5, None, None
    if sha:
        source = "manifest"
        if entry.get("sha256") and entry["sha256"] != sha:
            raise LabError(f"the manifest and the lock disagree about {row.id}: manifest "
                           f"sha256 {sha}, lock sha256 {entry['sha256']}",
                           where=str(settings.lock_file),
                           hint="find out which is right; fix or remove the lock entry "
                                + lock_entry_name(settings, row.id))
    elif entry.get("sha256") and opts.force and not opts.locked:
        pass            # --force: download again and pin what arrives (said in the result)
    elif entry.get("sha256"):
        sha, size, source = entry["sha256"], entry.get("size"), "lock"
        md5 = md5 or entry.get("md5")
    if opts.locked and not sha:
        raise LabError(f"--locked: the lock has no checksum for {row.id}",
                       where=str(settings.lock_file),
                       hint="fetch it once without --locked to record it (trust on first use), "
                            "or add [libraries.\"" + row.id + "\"] sha256 = ... by hand")
    return FetchPlan(
        row=row, url=mirror_url(row.url, opts.mirror or cfg.mirror or None),
        archive=Path(opts.archive).resolve() if opts.archive else None,
        part_path=cache.part_path(row.id, row.lib_file),
        cache_path=cache.blob_path(sha, row.lib_file) if sha else None,
        install_dir=settings.lib_dir / row.id,
        expected_sha256=sha, expected_md5=md5, expected_size=size, checksum_source=source,
        reasons=list(res.reasons))


def lock_entry_name(settings: LabSettings, row_id: str) -> str:
    return f'[libraries."{row_id}"] in {settings.lock_file}'


def _source_name(settings: LabSettings, plan: FetchPlan) -> str:
    if plan.checksum_source == "lock":
        return "the lock entry " + lock_entry_name(settings, plan.row.id)
    return f"the manifest row {plan.row.id}"


def extract_limits(cfg: FetchSettings):
    from .extract import ExtractLimits

    return ExtractLimits(max_bytes=int(cfg.extract_max_mb * (1 << 20)),
                         max_ratio=cfg.extract_max_ratio,
                         max_members=cfg.extract_max_members)


def _version_check(row: LibraryRecipe):
    def check(found) -> None:
        info = found.version
        problems = version_mismatches(info, row.cuda, row.cudnn, row.tensorrt)
        if row.device in ("gpu", "jetson") and info.with_gpu is False:
            problems.append("version.txt says WITH_GPU: OFF for a GPU row")
        if row.device == "cpu" and info.with_gpu:
            problems.append("version.txt says WITH_GPU: ON for a CPU row")
        if info.paddle_version and not info.paddle_version.startswith(
                row.paddle_version.split("-")[0]):
            problems.append(f"Paddle: expected {row.paddle_version}, version.txt says "
                            f"{info.paddle_version}")
        if problems:
            raise LabError(f"the archive's version.txt disagrees with row {row.id}: "
                           + "; ".join(problems), where=str(found.path / "version.txt"),
                           hint="the mirror/file holds another build; pick the row that matches "
                                "it, or fix the mirror")
    return check


def _digest_error(what: str, expected: str, actual: str, path: Path | None,
                  deleted: bool, source: str = "the lock entry") -> LabError:
    return LabError(f"{what} mismatch: expected {expected}, got {actual}"
                    + (" (the download was deleted)" if deleted else ""),
                    where=str(path) if path else None,
                    hint=f"the server/mirror sent a different file; check --mirror, or if "
                         f"{source} is wrong remove it, or run with --force to download and "
                         "pin it again")


def fetch_library(settings: LabSettings, req: LibraryRequest, opts: FetchOptions,
                  report: Any = None, rows: list[LibraryRecipe] | None = None
                  ) -> FetchResult:
    """Resolve, download (or take from cache / --archive), verify, install."""
    rows = rows if rows is not None else load_manifest()
    lock = load_lock(settings.lock_file)
    res = choose_row(settings, req, opts, lock, rows, report)
    plan = make_plan(settings, res, opts, lock)
    row = plan.row
    result = FetchResult(row_id=row.id, status="planned", url=plan.url,
                         install_dir=str(plan.install_dir), reasons=plan.reasons, row=row,
                         checksum_source=plan.checksum_source, sha256=plan.expected_sha256)
    if opts.dry_run:
        from .plan import render_script

        result.script = render_script(plan)
        return result
    if plan.archive and not plan.archive.is_file():
        raise LabError("--archive: no such file", where=str(plan.archive),
                       hint="give the path of a downloaded paddle_inference.tgz")
    cfg = settings.fetch
    cache = ArtifactCache(settings.cache_dir)

    def waiting() -> None:
        opts.progress.note(f"waiting for another fetch of {row.id} ...")

    old_pin = library_entry(lock, row.id) or {}
    try:
        with cache.lock(row.id, on_wait=waiting):
            return _fetch_locked(settings, plan, opts, cache, cfg, result, old_pin)
    except OSError as exc:
        from .extract import _disk_error

        raise _disk_error(exc, Path(exc.filename) if exc.filename else settings.cache_dir
                          ) from None


def _fetch_locked(settings: LabSettings, plan: FetchPlan, opts: FetchOptions,
                  cache: ArtifactCache, cfg: FetchSettings, result: FetchResult, old_pin: dict
                  ) -> FetchResult:
    from ..library.installed import inspect_library
    from .extract import install_archive, installed_marker

    row = plan.row
    marker = installed_marker(settings.lib_dir, row.id)
    if (marker and not opts.force and not plan.archive
            and (plan.expected_sha256 is None or marker.get("sha256") == plan.expected_sha256)
            and (plan.expected_sha256 or cache.lookup_key(row.id))
            and inspect_library(plan.install_dir).ok):
        return _finish(settings, result, plan, marker["sha256"], marker.get("size"),
                       "already-installed", cache_hit=True)
    if opts.announce:
        opts.announce(plan)
    got = _obtain(settings, plan, cache, cfg, opts, result)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    origin = result.final_url or row.url
    marker = {"row_id": row.id, "sha256": got.sha, "size": got.size, "url": row.url,
              "downloaded_from": origin, "installed": now}
    try:
        install_archive(got.path, settings.lib_dir, row.id, _version_check(row), marker,
                        limits=extract_limits(cfg))
    except LabError as exc:
        # Refused or not a valid library: nothing of it is kept or pinned, so a fixed
        # mirror is asked again on the next run.
        if not getattr(exc, "disk", False):
            if got.fresh:
                got.path.unlink(missing_ok=True)
            elif got.cache_hit:
                got.path.unlink(missing_ok=True)
                cache.index_path(row.id).unlink(missing_ok=True)
                exc.hint = (exc.hint or "") + ("; the cached copy was removed" + (
                    f"; if {lock_entry_name(settings, row.id)} pins this file, run with "
                    "--force to download and pin it again" if plan.checksum_source == "lock"
                    else ""))
        raise
    if got.fresh:
        cache.store(got.path, got.sha, row.lib_file)
        cache.record(row.id, {"sha256": got.sha, "size": got.size, "name": row.lib_file,
                              "url": plan.url, "downloaded_from": origin})
    if plan.expected_sha256 is None:
        _pin(settings, row, got, plan, origin, now)
        result.checksum_source = "recorded"
        if old_pin.get("sha256") and old_pin["sha256"] != got.sha:
            result.reasons.append(f"--force: lock entry {lock_entry_name(settings, row.id)} "
                                  f"re-pinned: sha256 {old_pin['sha256']} -> {got.sha}, size "
                                  f"{old_pin.get('size')} -> {got.size}")
    return _finish(settings, result, plan, got.sha, got.size, "installed",
                   cache_hit=got.cache_hit)


def _pin(settings: LabSettings, row: LibraryRecipe, got: "_Obtained", plan: FetchPlan,
         origin: str, now: str) -> None:
    """Trust on first use: record what was verified, extracted and validated."""
    import hashlib

    cache = ArtifactCache(settings.cache_dir)
    # Fetches of other rows may record at the same time: serialise the
    # read-modify-write of the lock file.
    key = "lockfile-" + hashlib.sha1(str(settings.lock_file.resolve()).encode()
                                     ).hexdigest()[:16]
    with cache.lock(key):
        lock = load_lock(settings.lock_file)
        entry = {"url": row.url, "sha256": got.sha, "size": got.size, "recorded": now,
                 "source": "archive" if plan.archive else "download"}
        if not plan.archive and origin != row.url:
            entry["downloaded_from"] = origin
        set_library_entry(lock, row.id, entry)
        save_lock(settings.lock_file, lock)


@dataclass
class _Obtained:
    path: Path
    sha: str
    size: int
    cache_hit: bool
    fresh: bool                      # a new download (a .part, not yet in the cache)


def _obtain(settings: LabSettings, plan: FetchPlan, cache: ArtifactCache, cfg: FetchSettings,
            opts: FetchOptions, result: FetchResult) -> _Obtained:
    """The archive on disk, its digests checked against what is known."""
    from urllib.parse import urlsplit

    from .download import download, hash_file

    row = plan.row
    want_md5 = bool(plan.expected_md5)
    if plan.archive:
        sha, md5, size = hash_file(plan.archive, want_md5)
        _verify(settings, plan, sha, md5, size, plan.archive, delete=False)
        result.archive = str(plan.archive)
        return _Obtained(plan.archive, sha, size, False, False)
    if not opts.force:
        if plan.expected_sha256:
            hit = cache.lookup(plan.expected_sha256, row.lib_file, plan.expected_size)
            if hit:
                return _Obtained(hit, plan.expected_sha256, hit.stat().st_size, True, False)
        else:
            found = cache.lookup_key(row.id)
            if found:
                path, entry = found
                return _Obtained(path, entry["sha256"], entry["size"], True, False)
    else:
        plan.part_path.unlink(missing_ok=True)      # --force: every byte again
    max_mb = float(cfg.max_download_mb)
    out = download(plan.url, plan.part_path, expected_size=plan.expected_size,
                   want_md5=want_md5, connect_timeout=cfg.connect_timeout,
                   read_timeout=cfg.read_timeout, retries=cfg.retries,
                   attempts=cfg.attempts, progress=opts.progress,
                   max_bytes=int(max_mb * (1 << 20)) if max_mb > 0 else None,
                   min_speed=cfg.min_speed_bps,
                   speed_window=cfg.speed_window_s,
                   deadline=cfg.deadline_s or None,
                   size_source=_source_name(settings, plan))
    result.bytes_downloaded = out.bytes_received
    result.resumed_from = out.resumed_from
    result.restarts = out.restarts
    result.final_url = out.final_url
    if urlsplit(out.final_url).netloc != urlsplit(plan.url).netloc:
        result.reasons.append(f"{urlsplit(plan.url).netloc} redirected to another server: "
                              f"the bytes came from {out.final_url}")
    _verify(settings, plan, out.sha256, out.md5, out.size, out.path, delete=True)
    return _Obtained(out.path, out.sha256, out.size, False, True)


def _verify(settings: LabSettings, plan: FetchPlan, sha: str, md5: str | None, size: int,
            path: Path, delete: bool) -> None:
    checks = [("sha256", plan.expected_sha256, sha), ("md5", plan.expected_md5, md5)]
    for name, expected, actual in checks:
        if expected and expected.lower() != (actual or "").lower():
            if delete:
                Path(path).unlink(missing_ok=True)
            raise _digest_error(f"{name} ({_source_name(settings, plan)})", expected,
                                actual or "?", path, delete, _source_name(settings, plan))


def _finish(settings: LabSettings, result: FetchResult, plan: FetchPlan, sha: str,
            size: int | None, status: str, cache_hit: bool) -> FetchResult:
    from ..library.installed import inspect_library
    from ..state import set_current_library

    set_current_library(settings.lib_dir, plan.install_dir, plan.row.id, "fetch", sha256=sha,
                        size=size, url=plan.row.url)
    result.status, result.sha256, result.size, result.cache_hit = status, sha, size, cache_hit
    result.version_txt = inspect_library(plan.install_dir).version
    return result


def list_libraries(req: LibraryRequest, rows: list[LibraryRecipe] | None = None,
                   ) -> list[LibraryRecipe]:
    """Rows for --list: every row matching the filters, removed ones included (marked)."""
    from .resolve import ranking

    from dataclasses import replace

    from .resolve import DEVICES

    rows = rows if rows is not None else load_manifest()
    if req.device or req.cuda or req.cudnn or req.trt or req.cuda_max:
        matches = filter_rows(req, rows, include_unselectable=True)
    else:  # no device asked for: every device
        matches = [r for d in DEVICES
                   for r in filter_rows(replace(req, device=d), rows, include_unselectable=True)]
    return sorted(matches, key=ranking(req), reverse=True)
