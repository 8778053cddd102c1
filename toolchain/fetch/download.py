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

import hashlib
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LabError
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


def make_session(retries: int = 5, backoff: float = 0.5):
    """A requests Session whose adapter retries connects, 429 and 5xx."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def get_retry_after(self, response):
            value = super().get_retry_after(response)
            return None if value is None else min(value, MAX_RETRY_AFTER_S)

    retry = CappedRetry(total=retries, connect=retries, read=retries, status=retries,
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


def _progress(enabled: bool, name: str):
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), disable=not enabled, transient=False)


def download(url: str, part: Path, *, expected_size: int | None = None,
             want_md5: bool = False, connect_timeout: float = 10, read_timeout: float = 60,
             retries: int = 5, attempts: int = 6, progress: bool = True,
             session=None) -> DownloadOutcome:
    """Download `url` into `part` (resuming what is there); returns sizes and digests."""
    import requests
    import urllib3

    part = Path(part)
    part.parent.mkdir(parents=True, exist_ok=True)
    session = session or make_session(retries)
    timeout = (connect_timeout, read_timeout)
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
    with _progress(progress, part.name.removesuffix(".part")) as bar:
        task = bar.add_task(part.name.removesuffix(".part"), total=total, completed=have)
        for attempt in range(1, attempts + 1):
            headers = {"Range": f"bytes={have}-"} if have else {}
            try:
                resp = session.get(url, stream=True, timeout=timeout, headers=headers)
            except requests.RequestException as exc:
                raise LabError(f"cannot download {url}: {exc}",
                               hint="check the URL/mirror and the network (proxies come from "
                                    "HTTP_PROXY/HTTPS_PROXY/NO_PROXY)") from None
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
                                   f"for {resp.url}",
                                   hint="check the URL, or point --mirror at a server that "
                                        "has the file; 429/5xx were already retried")
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
                                   f"the lock/manifest expects {expected_size}",
                                   hint="the file on the server changed or the mirror serves "
                                        "another file; check --mirror and the lock file")
                bar.update(task, total=total, completed=have)
                try:
                    with open(part, mode) as out, _Sink(out, hashes) as sink:
                        raw = resp.raw
                        while True:
                            block = raw.read(CHUNK, decode_content=False)
                            if not block:
                                break
                            sink.put(block)
                            n = len(block)
                            have += n
                            received += n
                            bar.advance(task, n)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
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


def hash_file(path: Path, want_md5: bool = False) -> tuple[str, str | None, int]:
    """(sha256, md5 or None, size) of a file on disk."""
    h = _hash_existing(Path(path), want_md5)
    return h.sha256.hexdigest(), (h.md5.hexdigest() if h.md5 else None), Path(path).stat().st_size
