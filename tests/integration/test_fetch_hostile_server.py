"""Hostile or broken servers: no network, refused, endless, slow, silent, wrong content,
redirects elsewhere, a full disk. Real sockets on 127.0.0.1 started here; the limits are
set small through the same settings a user has (lab.fetch.* / INVOKE_LAB_FETCH_*)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from support import run_invoke
from support.fetch import build_library_archive, mirror_path
from support.fetch_server import FetchServer
from toolchain.errors import LabError
from toolchain.fetch.download import download
from toolchain.lock.file import load_lock
from toolchain.library.manifest import find_recipe

ROW = "2.5.2-linux-gpu-cuda10.2-cudnn8.1.1-trt7.2.3.4-gcc8.2-mkl-avx"


class RawServer:
    """A socket server on 127.0.0.1 whose handler(conn) does whatever the test needs."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.handler, self.stop_flag, self.conns = handler, threading.Event(), 0
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def _loop(self):
        while not self.stop_flag.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.recv(65536)
            self.handler(conn, self.stop_flag)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop_flag.set()
        self.sock.close()


@pytest.fixture
def raw():
    servers = []

    def start(handler):
        s = RawServer(handler)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.close()


def endless(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 b"Connection: close\r\n\r\n")
    block = b"\0" * 65536
    while not stop.is_set():
        conn.sendall(block)


def trickle(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while not stop.is_set():
        conn.sendall(b"x")
        time.sleep(0.05)


def silent(conn, stop):
    stop.wait(30)


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_refused_mirror_on_this_host_fails_fast_and_says_what_to_do(lab_env):
    t0 = time.monotonic()
    proc = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror",
                      f"http://127.0.0.1:{_closed_port()}", env=lab_env, timeout=60)
    took = time.monotonic() - t0
    err = proc.stderr
    assert proc.returncode != 0 and "Traceback" not in err and took < 8, (took, err)
    assert err.index(f"fetching {ROW}") < err.index("refused the connection")
    for needle in ("--mirror URL", "--archive FILE", "HTTPS_PROXY", "--dry-run"):
        assert needle in err
    assert "urllib3" not in err and "Max retries" not in err


def test_dns_failure_is_not_retried(tmp_path, monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    t0 = time.monotonic()
    with pytest.raises(LabError) as err:
        download("http://paddle-inference-lib.invalid/x.tgz", tmp_path / "a.part")
    assert time.monotonic() - t0 < 3
    assert "could not be resolved" in err.value.message and "--archive FILE" in err.value.hint


def test_endless_body_is_capped_and_deleted(tmp_path, raw):
    srv = raw(endless)
    part = tmp_path / "a.part"
    with pytest.raises(LabError, match="more than the 2,097,152 bytes allowed"):
        download(srv.url + "/x.tgz", part, max_bytes=2 << 20)
    assert not part.exists()


def test_trickling_server_hits_the_minimum_speed(tmp_path, raw):
    srv = raw(trickle)
    t0 = time.monotonic()
    with pytest.raises(LabError, match="too slow"):
        download(srv.url + "/x.tgz", tmp_path / "a.part", min_speed=1000,
                 speed_window=0.5)
    assert time.monotonic() - t0 < 5


def test_silent_server_meets_the_deadline(tmp_path, raw):
    srv = raw(silent)
    t0 = time.monotonic()
    with pytest.raises(LabError) as err:
        download(srv.url + "/x.tgz", tmp_path / "a.part", read_timeout=0.5,
                 deadline=1.5)
    took = time.monotonic() - t0
    assert took < 4, took
    assert "deadline" in err.value.message or "sent no answer" in err.value.message
    assert srv.conns <= 3


def test_refused_archive_is_neither_pinned_nor_cached_and_a_fixed_mirror_is_asked(
        lab_env, mirror):
    row = find_recipe(ROW)
    target = mirror.root / mirror_path(row).lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text("<html><body>login required</body></html>\n")    # a 200 HTML page
    bad = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, env=lab_env,
                     timeout=60)
    assert bad.returncode != 0 and "not a readable tar" in bad.stderr
    assert load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"])) == {}
    cache = Path(lab_env["INVOKE_LAB_CACHE_DIR"])
    assert not list(cache.rglob("index/*.json")) and not (cache / "sha256").exists()
    assert not list(cache.rglob("*.part"))
    build_library_archive(target, row)                                  # mirror fixed
    good = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, "--json",
                      env=lab_env, timeout=60, check=True)
    assert json.loads(good.stdout)["status"] == "installed"
    assert len(mirror.gets(mirror_path(row))) == 2


def test_force_downloads_again_and_says_what_it_re_pins(lab_env, mirror):
    row = find_recipe(ROW)
    target = mirror.root / mirror_path(row).lstrip("/")
    build_library_archive(target, row)
    first = hashlib.sha256(target.read_bytes()).hexdigest()
    run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, env=lab_env,
               timeout=60, check=True)
    build_library_archive(target, row)                  # another build, another digest
    second = hashlib.sha256(target.read_bytes()).hexdigest()
    plain = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, "--lib-dir",
                       lab_env["INVOKE_LAB_WORK_DIR"] + "/lib2", env=lab_env, timeout=60)
    assert plain.returncode == 0                        # cached copy, pinned digest: no request
    assert len(mirror.gets(mirror_path(row))) == 1
    out = json.loads(run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url,
                                "--force", "--json", env=lab_env, timeout=60,
                                check=True).stdout)
    assert len(mirror.gets(mirror_path(row))) == 2
    assert any(f"sha256 {first} -> {second}" in r for r in out["reasons"])
    entry = load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]))["libraries"][ROW]
    assert entry["sha256"] == second


def test_size_mismatch_names_the_lock_entry(lab_env, mirror):
    from toolchain.lock.file import save_lock

    row = find_recipe(ROW)
    build_library_archive(mirror.root / mirror_path(row).lstrip("/"), row)
    lock = Path(lab_env["INVOKE_LAB_LOCK_FILE"])
    save_lock(lock, {"libraries": {ROW: {"sha256": "0" * 64, "size": 12}}})
    proc = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, env=lab_env,
                      timeout=60)
    assert proc.returncode != 0
    assert f'[libraries."{ROW}"] in {lock}' in proc.stderr and "--force" in proc.stderr


def test_redirect_to_another_server_is_recorded(lab_env, mirror, tmp_path):
    row = find_recipe(ROW)
    root2 = tmp_path / "www2"
    build_library_archive(root2 / mirror_path(row).lstrip("/"), row)
    with FetchServer(root2) as other:
        mirror.redirect[mirror_path(row)] = other.url + mirror_path(row)
        out = json.loads(run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url,
                                    "--json", env=lab_env, timeout=60, check=True).stdout)
    assert out["final_url"] == other.url + mirror_path(row)
    assert any("redirected to another server" in r for r in out["reasons"])
    entry = load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"]))["libraries"][ROW]
    assert entry["downloaded_from"] == other.url + mirror_path(row)
    assert entry["url"] == row.url


def test_full_disk_while_downloading(raw, tmpfs):
    """A real 2 MB tmpfs as the cache; the server sends 3 MB with no Content-Length."""
    with tmpfs("2m") as small:
        def three_mb(conn, stop):
            conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            conn.sendall(b"\1" * (3 << 20))
        srv = raw(three_mb)
        part = small / "partial" / "a.part"
        with pytest.raises(LabError) as err:
            download(srv.url + "/x.tgz", part)
        assert "no space left" in err.value.message and err.value.where == str(part)
        assert "free" in err.value.message and "lab.cache_dir" in err.value.hint
        assert srv.conns == 1                            # not retried into a splice


def test_read_only_cache_is_one_clear_error(lab_env, mirror, tmpfs):
    """A real read-only tmpfs as lab.cache_dir."""
    with tmpfs("1m", ro=True) as ro:
        row = find_recipe(ROW)
        build_library_archive(mirror.root / mirror_path(row).lstrip("/"), row)
        env = dict(lab_env, INVOKE_LAB_CACHE_DIR=str(ro / "cache"))
        proc = run_invoke("fetch-lib", "--cuda", "10.2", "--mirror", mirror.url, env=env,
                          timeout=60)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("error:") == 1
        assert str(ro) in proc.stderr and "fix:" in proc.stderr
        assert "read-only" in proc.stderr.lower() or "cannot write" in proc.stderr.lower()
        assert load_lock(Path(lab_env["INVOKE_LAB_LOCK_FILE"])) == {}
        assert not Path(lab_env["INVOKE_LAB_LIB_DIR"]).exists() or \
            not list(Path(lab_env["INVOKE_LAB_LIB_DIR"]).iterdir())
