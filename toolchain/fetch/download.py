"""Streamed HTTP download into a `.part` file that survives interruptions.

- urllib3 retries (with backoff) connection errors, 429 and 5xx before the body
  starts, honouring Retry-After (capped, so a bad header cannot hang a lab);
- a body that breaks off midway is resumed with `Range: bytes=<have>-`; a 206
  must carry a Content-Range starting at <have>, otherwise, and when the server
  ignores Range (200), the file restarts from zero;
- connect/read timeouts on every request; proxies from the environment
  (HTTP(S)_PROXY / NO_PROXY, requests' trust_env);
- sha256 (and md5 when asked) computed while the bytes arrive.
"""

from __future__ import annotations

import errno
import hashlib
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult

CHUNK = 1 << 20        # read size; blocks are written/hashed on a second thread
RETRY_STATUS = (429, 500, 502, 503, 504)
MAX_RETRY_AFTER_S = 60.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass
class DownloadOutcome(JsonResult):
    path: Path
    size: int
    sha256: str
    md5: str | None
    bytes_received: int      # over the network in this call, all attempts together
    resumed_from: int        # bytes of an earlier .part kept at the start
    attempts: int
    restarts: int            # times the file had to start over (Range ignored/invalid)
    final_url: str


def _unretryable(error) -> bool:
    """Errors a retry cannot fix: the name does not resolve, or a server on this
    host refuses the connection (nothing is listening there)."""
    import socket

    import urllib3

    if isinstance(error, urllib3.exceptions.NameResolutionError):
        return True
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        host = getattr(getattr(error, "conn", None), "host", "") or ""
        refused = "refused" in str(error).lower()
        local = host in ("localhost", "::1", socket.gethostname()) or host.startswith("127.")
        return refused and local
    return False


def make_session(retries: int = 5, backoff: float = 0.5):
    """A requests Session whose adapter retries connects, 429 and 5xx (not what a
    retry cannot fix: DNS failures, a refused connection on this host)."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def get_retry_after(self, response):
            value = super().get_retry_after(response)
            return None if value is None else min(value, MAX_RETRY_AFTER_S)

        def increment(self, method=None, url=None, response=None, error=None, _pool=None,
                      _stacktrace=None):
            if error is not None and _unretryable(error):
                raise MaxRetryError(_pool, url, error)
            return super().increment(method, url, response, error, _pool, _stacktrace)

    # A read timeout (server accepted, never answered) is retried once at most.
    retry = CappedRetry(total=retries, connect=retries, read=min(retries, 1), status=retries,
                        backoff_factor=backoff, status_forcelist=RETRY_STATUS,
                        allowed_methods=frozenset({"GET", "HEAD"}),
                        respect_retry_after_header=True, raise_on_status=False)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": "paddle-trt-lab fetch-lib",
                            "Accept-Encoding": "identity"})
    return session


CANNOT_START_HINT = ("if this machine has no way to that server: --mirror URL (a lab server "
                     "that has the file), --archive FILE (the archive downloaded elsewhere), "
                     "HTTPS_PROXY=http://proxy:port (a proxy), or --dry-run (prints the URL "
                     "to fetch on another machine)")


def connect_cause(exc: BaseException, url: str) -> str:
    """One short cause, in plain words, for a request that could not start."""
    from urllib.parse import urlsplit

    import urllib3

    u = urlsplit(url)
    host = u.hostname or "?"
    seen, e = set(), exc
    chain = []
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        chain.append(e)
        e = getattr(e, "reason", None) or e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, urllib3.exceptions.NameResolutionError):
            return f"the host name {host} could not be resolved (DNS: no network or no such host)"
    if any("refused" in str(e).lower() for e in chain):
        return f"{u.netloc} refused the connection (nothing listening there?)"
    for e in chain:
        if isinstance(e, urllib3.exceptions.NewConnectionError):
            return f"cannot connect to {u.netloc} (no route to it?)"
        if isinstance(e, (urllib3.exceptions.ConnectTimeoutError,)):
            return f"connecting to {u.netloc} timed out"
        if isinstance(e, urllib3.exceptions.ReadTimeoutError):
            return f"{u.netloc} accepted the connection but sent no answer in time"
        if isinstance(e, urllib3.exceptions.ProxyError):
            return "the proxy (HTTP(S)_PROXY) refused or failed the request"
        if isinstance(e, urllib3.exceptions.SSLError):
            return f"the TLS handshake with {u.netloc} failed"
    if any("refused" in str(e).lower() for e in chain):
        return f"{u.netloc} refused the connection (nothing listening there?)"
    return f"the connection to {u.netloc} failed ({type(chain[-1]).__name__})"


class _Hashes:
    def __init__(self, md5: bool):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5() if md5 else None

    def update(self, data) -> None:
        self.sha256.update(data)
        if self.md5 is not None:
            self.md5.update(data)


class _Sink:
    """Writes and hashes received blocks on two more threads, so reading the socket,
    writing the file and hashing overlap (all three release the GIL)."""

    def __init__(self, out, hashes: _Hashes):
        self.error: BaseException | None = None
        self.queues: list[queue.Queue] = []
        self.threads = []
        for consume in (out.write, hashes.update):
            q: queue.Queue = queue.Queue(maxsize=16)
            self.queues.append(q)
            self.threads.append(threading.Thread(target=self._run, args=(q, consume),
                                                 daemon=True))

    def _run(self, q: queue.Queue, consume) -> None:
        while (block := q.get()) is not None:
            if self.error is None:
                try:
                    consume(block)
                except BaseException as exc:  # re-raised in the reading thread
                    self.error = exc

    def put(self, block: bytes) -> None:
        if self.error is not None:
            raise self.error
        for q in self.queues:
            q.put(block)

    def __enter__(self) -> "_Sink":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        for q in self.queues:
            q.put(None)
        for t in self.threads:
            t.join()
        if self.error is not None and exc[0] is None:
            raise self.error


def _hash_existing(path: Path, want_md5: bool) -> _Hashes:
    hashes = _Hashes(want_md5)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            hashes.update(block)
    return hashes


def _free_bytes(path: Path) -> int:
    import shutil

    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


def _disk_full(exc: OSError, part: Path, have: int, total: int | None) -> LabError:
    need = f"{total - have:,} more bytes needed, " if total else ""
    if exc.errno == errno.EROFS:
        return LabError(f"cannot write the download: {part.parent} is on a read-only file "
                        "system", where=str(part),
                        hint="point lab.cache_dir (INVOKE_LAB_CACHE_DIR) at a writable folder")
    return LabError(f"no space left while downloading: {have:,} bytes written, {need}"
                    f"{_free_bytes(part.parent):,} free", where=str(part),
                    hint="free space there or point lab.cache_dir (INVOKE_LAB_CACHE_DIR) at a "
                         "disk with room; the next run resumes from the bytes on disk")


DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def download(url: str, part: Path, *, expected_size: int | None = None,
             want_md5: bool = False, connect_timeout: float = 10, read_timeout: float = 60,
             retries: int = 5, attempts: int = 6, progress: ProgressSink = NO_PROGRESS,
             session=None, max_bytes: int | None = None, min_speed: float = 0,
             speed_window: float = 30, deadline: float | None = None,
             size_source: str = "the lock/manifest") -> DownloadOutcome:
    """Download `url` into `part` (resuming what is on disk); returns sizes and digests.

    max_bytes: refuse a body larger than this; min_speed/speed_window: give up when
    fewer than min_speed bytes/s arrive over speed_window seconds; deadline: seconds
    for the whole download, all attempts together."""
    import requests
    import urllib3

    part = Path(part)
    try:
        part.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_full(exc, part, 0, expected_size) if exc.errno in DISK_ERRNOS else \
            LabError(f"cannot create {part.parent}: {exc.strerror}", where=str(part.parent),
                     hint="make it writable or point lab.cache_dir (INVOKE_LAB_CACHE_DIR) "
                          "elsewhere") from None
    session = session or make_session(retries)
    start_t = time.monotonic()
    end_t = start_t + deadline if deadline else None

    def timeout():
        if end_t is None:
            return (connect_timeout, read_timeout)
        left = end_t - time.monotonic()
        if left <= 0:
            raise LabError(f"the download of {url} passed its deadline ({deadline:g} s, "
                           "lab.fetch.deadline_s)", where=str(part),
                           hint="run again to resume from the .part file, use a faster "
                                "--mirror, or raise lab.fetch.deadline_s")
        return (min(connect_timeout, left), min(read_timeout, left))

    have = part.stat().st_size if part.exists() else 0
    if expected_size is not None and have > expected_size:
        part.unlink()
        have = 0
    resumed_from = have
    hashes = _hash_existing(part, want_md5) if have else _Hashes(want_md5)
    received = restarts = 0
    total: int | None = expected_size
    final_url = url
    errors: list[str] = []
    with progress.track(part.name.removesuffix(".part"), total=total, unit="bytes") as bar:
        bar.update(completed=have)
        for attempt in range(1, attempts + 1):
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                resp = session.get(url, stream=True, timeout=timeout(), headers=headers)
            except requests.RequestException as exc:
                raise LabError(f"cannot download {url}: {connect_cause(exc, url)}",
                               where=url, hint=CANNOT_START_HINT) from None
            with resp:
                final_url = resp.url
                if resp.status_code == 416 and have:
                    # Nothing left to send: complete if the server's total agrees.
                    m = re.match(r"bytes \*/(\d+)", resp.headers.get("Content-Range", ""))
                    if m and int(m.group(1)) == have:
                        total = have
                        break
                    part.unlink(missing_ok=True)
                    have, hashes, restarts = 0, _Hashes(want_md5), restarts + 1
                    continue
                if resp.status_code not in (200, 206):
                    raise LabError(f"download failed: HTTP {resp.status_code} {resp.reason} "
                                   f"for {resp.url}", where=resp.url,
                                   hint="check the URL, or " + CANNOT_START_HINT.split(": ", 1)[1]
                                        + "; 429/5xx were already retried")
                mode = "ab"
                if resp.status_code == 206:
                    m = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                    if not m or int(m.group(1)) != have:
                        # A range we did not ask for: start over without Range.
                        errors.append(f"bad Content-Range {resp.headers.get('Content-Range')!r}")
                        part.unlink(missing_ok=True)
                        have, hashes, restarts = 0, _Hashes(want_md5), restarts + 1
                        continue
                    if m.group(3) != "*":
                        total = int(m.group(3))
                else:
                    if have:
                        restarts += 1      # server ignored Range: restart cleanly
                    mode, have, hashes = "wb", 0, _Hashes(want_md5)
                    length = resp.headers.get("Content-Length")
                    if length is not None and length.isdigit():
                        total = int(length)
                if expected_size is not None and total is not None and total != expected_size:
                    raise LabError(f"the server announces {total} bytes for {resp.url}, "
                                   f"{size_source} expects {expected_size}",
                                   where=resp.url,
                                   hint="the mirror serves another file (check --mirror), or "
                                        f"{size_source} is out of date: remove that entry or "
                                        "run with --force to download and pin it again")
                if max_bytes and total is not None and total > max_bytes:
                    raise LabError(f"the server announces {total:,} bytes for {resp.url}, more "
                                   f"than the {max_bytes:,} allowed (lab.fetch.max_download_mb)",
                                   where=resp.url,
                                   hint="check --mirror; raise lab.fetch.max_download_mb if the "
                                        "file is really that big")
                if total is not None and total - have > _free_bytes(part.parent) > 0:
                    raise LabError(f"not enough free disk space to download: {total - have:,} "
                                   f"bytes needed, {_free_bytes(part.parent):,} free",
                                   where=str(part.parent),
                                   hint="free space there or point lab.cache_dir "
                                        "(INVOKE_LAB_CACHE_DIR) at a disk with room")
                bar.update(completed=have, total=total)
                win_t, win_bytes = time.monotonic(), 0
                try:
                    with open(part, mode) as out, _Sink(out, hashes) as sink:
                        raw = resp.raw
                        while True:
                            block = raw.read1(CHUNK)
                            if not block:
                                break
                            sink.put(block)
                            n = len(block)
                            have += n
                            received += n
                            win_bytes += n
                            bar.advance(n)
                            if max_bytes and have > max_bytes:
                                raise _TooBig()
                            now = time.monotonic()
                            if end_t is not None and now > end_t:
                                timeout()                      # raises the deadline error
                            if min_speed and now - win_t >= speed_window:
                                if win_bytes / (now - win_t) < min_speed:
                                    raise _TooSlow(win_bytes / (now - win_t))
                                win_t, win_bytes = now, 0
                except _TooBig:
                    part.unlink(missing_ok=True)
                    raise LabError(f"{resp.url} sent more than the {max_bytes:,} bytes allowed "
                                   "(lab.fetch.max_download_mb); the download was deleted",
                                   where=resp.url,
                                   hint="check --mirror; raise lab.fetch.max_download_mb if the "
                                        "file is really that big") from None
                except _TooSlow as slow:
                    raise LabError(f"the transfer from {resp.url} is too slow: "
                                   f"{slow.rate:,.0f} bytes/s over {speed_window:g} s, below "
                                   f"lab.fetch.min_speed_bps ({min_speed:,.0f}); "
                                   f"{_disk_size(part):,} bytes kept in {part}",
                                   where=resp.url,
                                   hint="run again to resume, or use a faster --mirror / "
                                        "--archive FILE") from None
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                    if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
                        raise _disk_full(exc, part, _disk_size(part), total) from None
                    if isinstance(exc, (urllib3.exceptions.ReadTimeoutError,
                                        requests.exceptions.ConnectionError)) \
                            and end_t is not None and time.monotonic() >= end_t:
                        timeout()
                    # Resume from what is on disk, not from what was received.
                    have = _disk_size(part)
                    hashes = _hash_existing(part, want_md5) if have else _Hashes(want_md5)
                    errors.append(f"attempt {attempt}: {type(exc).__name__} after {have} bytes")
                    time.sleep(min(0.2 * attempt, 2.0))
                    continue
            if total is None or have == total:
                break
            if have > total:
                errors.append(f"attempt {attempt}: got {have} bytes, more than {total}")
                part.unlink(missing_ok=True)
                have, hashes, restarts = 0, _Hashes(want_md5), restarts + 1
            else:
                errors.append(f"attempt {attempt}: body ended at {have} of {total} bytes")
        else:
            raise LabError(
                f"download of {url} did not complete after {attempts} attempts "
                f"({have} of {total if total is not None else '?'} bytes kept in {part}): "
                + "; ".join(errors[-3:]),
                hint="run the same command again to resume from the .part file",
            )
    return DownloadOutcome(path=part, size=have, sha256=hashes.sha256.hexdigest(),
                           md5=hashes.md5.hexdigest() if hashes.md5 else None,
                           bytes_received=received, resumed_from=resumed_from,
                           attempts=attempt, restarts=restarts, final_url=final_url)


class _TooBig(Exception):
    pass


class _TooSlow(Exception):
    def __init__(self, rate: float):
        super().__init__(rate)
        self.rate = rate


def _disk_size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except FileNotFoundError:
        return 0


def hash_file(path: Path, want_md5: bool = False) -> tuple[str, str | None, int]:
    """(sha256, md5 or None, size) of a file on disk."""
    h = _hash_existing(Path(path), want_md5)
    return h.sha256.hexdigest(), (h.md5.hexdigest() if h.md5 else None), Path(path).stat().st_size
