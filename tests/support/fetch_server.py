"""A real HTTP file server on 127.0.0.1 for fetch-lib's tests and benchmarks.

Serves files under a root directory (URL path = file path below root) with
Range support (206 + Content-Range, 416), using sendfile for speed, and fault
modes a test switches on per path:
  drop_after[path] = (n_bytes, times)      send n bytes of the body, then close
  fail_status[path] = (status, times, retry_after)   answer status first (e.g. 503)
  wrong_length[path] = (extra, times)      announce Content-Length + extra, then close
  redirect[path] = "/other/path"           302 to another path
  ignore_range = {path, ...}               answer 200 with the whole file to a Range
  bad_content_range = {path, ...}          206 whose Content-Range starts elsewhere
  delay_s[path] = seconds                  wait before answering (concurrency tests)
Every request is logged in `requests` as (method, path, range header, status).
"""

from __future__ import annotations

import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class FetchServer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[tuple[str, str, str | None, int]] = []
        self.arrived: list[str] = []          # paths, logged before any delay
        self.proxied: list[str] = []          # absolute-form requests (used as HTTP proxy)
        self.drop_after: dict[str, tuple[int, int]] = {}
        self.fail_status: dict[str, tuple[int, int, int | None]] = {}
        self.wrong_length: dict[str, tuple[int, int]] = {}
        self.redirect: dict[str, str] = {}
        self.ignore_range: set[str] = set()
        self.bad_content_range: set[str] = set()
        self.delay_s: dict[str, float] = {}
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> "FetchServer":
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "FetchServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def gets(self, path: str) -> list[tuple[str, str, str | None, int]]:
        return [r for r in self.requests if r[0] == "GET" and r[1] == path]

    def _take(self, table: dict, path: str):
        """A fault's parameters if it has uses left (and count one use)."""
        with self._lock:
            entry = table.get(path)
            if not entry:
                return None
            times = entry[1]
            if times <= 0:
                return None
            table[path] = (entry[0], times - 1, *entry[2:])
            return entry


_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class _Handler(BaseHTTPRequestHandler):
    owner: FetchServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _log(self, status: int) -> None:
        with self.owner._lock:
            self.owner.requests.append((self.command, self.path, self.headers.get("Range"),
                                        status))

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        o, path = self.owner, self.path.split("?", 1)[0]
        if path.startswith(("http://", "https://")):   # absolute form: we are the proxy
            from urllib.parse import urlsplit

            o.proxied.append(self.path)
            path = urlsplit(path).path
        with o._lock:
            o.arrived.append(path)
        if path in o.delay_s:
            time.sleep(o.delay_s[path])
        if path in o.redirect:
            self._log(302)
            self.send_response(302)
            self.send_header("Location", o.redirect[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fail = o._take(o.fail_status, path)
        if fail:
            status, _, retry_after = fail
            self._log(status)
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = (o.root / path.lstrip("/")).resolve()
        if not file.is_file() or o.root.resolve() not in file.parents:
            self._log(404)
            self.send_error(404)
            return
        size = file.stat().st_size
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and path not in o.ignore_range:
            m = _RANGE.match(rng.strip())
            if m:
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else size - 1
                if start >= size:
                    self._log(416)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
        count = end - start + 1
        self._log(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        announced = count
        wrong = o._take(o.wrong_length, path) if body else None
        if wrong:
            announced = count + wrong[0]
        self.send_header("Content-Length", str(announced))
        if status == 206:
            shown = start + 7 if path in o.bad_content_range else start
            self.send_header("Content-Range", f"bytes {shown}-{end}/{size}")
        self.end_headers()
        if not body:
            return
        limit = count
        drop = o._take(o.drop_after, path)
        if drop:
            # the connection breaks at absolute offset n (when the range reaches it)
            limit = min(count, drop[0] - start) if start < drop[0] else count
        self.wfile.flush()
        with open(file, "rb") as fh:
            sent = 0
            try:
                sent = self.connection.sendfile(fh, offset=start, count=limit) if limit else 0
            except OSError:
                pass
            with o._lock:
                o.bytes_sent += sent
        if drop or wrong:
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass


def main() -> None:
    """`python tests/support/fetch_server.py ROOT`: serve ROOT until interrupted (manual checks)."""
    import sys

    root = Path(sys.argv[1] if len(sys.argv) > 1 else os.getcwd())
    with FetchServer(root) as srv:
        print(srv.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
