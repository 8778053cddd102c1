"""download(): resume, restarts, drops, 503 + Retry-After, wrong length, redirects.

Against tests/support/fetch_server.py, a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import time

import pytest

from support.fetch_server import FetchServer
from toolchain.errors import LabError
from toolchain.fetch.download import download

SIZE = 3 * 1024 * 1024 + 123
PATH = "/lib/paddle_inference.tgz"


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    (root / "lib").mkdir(parents=True)
    data = os.urandom(SIZE)
    (root / "lib" / "paddle_inference.tgz").write_bytes(data)
    with FetchServer(root) as srv:
        yield srv, data, tmp_path


def _get(srv, part, **kw):
    return download(srv.url + PATH, part, **kw)


def test_plain_download(served):
    srv, data, tmp = served
    out = _get(srv, tmp / "a.part")
    assert out.sha256 == hashlib.sha256(data).hexdigest() and out.size == SIZE
    assert (tmp / "a.part").read_bytes() == data and out.bytes_received == SIZE


def test_resume_from_part_with_range(served):
    srv, data, tmp = served
    part = tmp / "a.part"
    part.write_bytes(data[:1_000_000])
    out = _get(srv, part)
    assert srv.gets(PATH)[0][2] == "bytes=1000000-" and srv.gets(PATH)[0][3] == 206
    assert out.resumed_from == 1_000_000 and out.bytes_received == SIZE - 1_000_000
    assert out.sha256 == hashlib.sha256(data).hexdigest()


def test_server_ignoring_range_restarts_cleanly(served):
    srv, data, tmp = served
    srv.ignore_range.add(PATH)
    part = tmp / "a.part"
    part.write_bytes(b"garbage!" * 1000)   # wrong bytes: must not survive
    out = _get(srv, part)
    assert srv.gets(PATH)[0][3] == 200 and out.restarts == 1
    assert part.read_bytes() == data and out.sha256 == hashlib.sha256(data).hexdigest()


def test_bad_content_range_restarts(served):
    srv, data, tmp = served
    srv.bad_content_range.add(PATH)
    part = tmp / "a.part"
    part.write_bytes(data[:5000])
    out = _get(srv, part)
    assert out.restarts == 1 and part.read_bytes() == data
    assert [r[2] for r in srv.gets(PATH)] == ["bytes=5000-", None]


def test_drop_mid_transfer_then_resume(served):
    srv, data, tmp = served
    srv.drop_after[PATH] = (SIZE // 2, 1)
    out = _get(srv, tmp / "a.part")
    gets = srv.gets(PATH)
    assert len(gets) == 2 and gets[1][2] == f"bytes={SIZE // 2}-" and gets[1][3] == 206
    assert out.sha256 == hashlib.sha256(data).hexdigest()
    assert out.bytes_received == SIZE   # nothing transferred twice


def test_503_then_success_honours_retry_after(served):
    srv, data, tmp = served
    srv.fail_status[PATH] = (503, 1, 1)
    t0 = time.monotonic()
    out = _get(srv, tmp / "a.part")
    assert time.monotonic() - t0 >= 0.9          # waited Retry-After: 1
    assert [g[3] for g in srv.gets(PATH)] == [503, 200]
    assert out.sha256 == hashlib.sha256(data).hexdigest()


def test_persistent_503_is_a_clear_error(served):
    srv, data, tmp = served
    srv.fail_status[PATH] = (503, 100, 0)
    with pytest.raises(LabError, match="HTTP 503"):
        _get(srv, tmp / "a.part", retries=2)
    assert len(srv.gets(PATH)) == 3


def test_wrong_content_length_once_recovers(served):
    srv, data, tmp = served
    srv.wrong_length[PATH] = (1000, 1)
    out = _get(srv, tmp / "a.part")
    assert out.sha256 == hashlib.sha256(data).hexdigest() and out.size == SIZE
    assert len(srv.gets(PATH)) >= 2


def test_wrong_content_length_always_ends_at_the_real_size(served):
    # The body ends before the announced length; the resume request gets a 416
    # whose Content-Range states the real total, which matches what arrived.
    srv, data, tmp = served
    srv.wrong_length[PATH] = (1000, 100)
    out = _get(srv, tmp / "a.part")
    assert [g[3] for g in srv.gets(PATH)] == [200, 416]
    assert out.size == SIZE and out.sha256 == hashlib.sha256(data).hexdigest()


def test_gives_up_after_attempts_and_keeps_part(served):
    srv, data, tmp = served
    srv.ignore_range.add(PATH)
    srv.drop_after[PATH] = (100_000, 100)
    with pytest.raises(LabError) as err:
        _get(srv, tmp / "a.part", attempts=3)
    assert "did not complete after 3 attempts" in err.value.message
    assert "run the same command again" in err.value.hint
    assert (tmp / "a.part").stat().st_size == 100_000


def test_redirect_is_followed(served):
    srv, data, tmp = served
    srv.redirect["/moved.tgz"] = PATH
    out = download(srv.url + "/moved.tgz", tmp / "a.part")
    assert out.final_url.endswith(PATH) and out.sha256 == hashlib.sha256(data).hexdigest()


def test_404_is_a_clear_error(served):
    srv, data, tmp = served
    with pytest.raises(LabError, match="HTTP 404"):
        download(srv.url + "/nope.tgz", tmp / "a.part", retries=0)


def test_expected_size_mismatch_is_refused(served):
    srv, data, tmp = served
    with pytest.raises(LabError, match="the lock/manifest expects"):
        _get(srv, tmp / "a.part", expected_size=SIZE + 1)


def test_complete_part_gets_416_and_is_accepted(served):
    srv, data, tmp = served
    part = tmp / "a.part"
    part.write_bytes(data)
    out = _get(srv, part)
    assert srv.gets(PATH)[0][3] == 416 and out.bytes_received == 0
    assert out.sha256 == hashlib.sha256(data).hexdigest()


def test_proxy_from_environment(served, monkeypatch):
    srv, data, tmp = served
    for var in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTP_PROXY", srv.url)
    url = "http://paddle-inference-lib.invalid" + PATH
    out = download(url, tmp / "a.part")
    assert srv.proxied == [url] and out.sha256 == hashlib.sha256(data).hexdigest()


def test_reports_bytes_up_to_the_file_size(served):
    """A resumed download starts its bar at the bytes on disk and ends at the file size."""
    from toolchain.progress import RecordingProgress

    srv, data, tmp = served
    part = tmp / "paddle_inference.tgz.part"
    part.write_bytes(data[:1_000_000])
    rec = RecordingProgress()
    out = _get(srv, part, progress=rec)
    assert rec.of("start") == [("start", "paddle_inference.tgz", None, "bytes")]
    updates = rec.of("update")
    assert updates[0][2] == 1_000_000                       # what was on disk
    assert (updates[-1][2], updates[-1][3]) == (1_000_000, SIZE)   # the server's total
    advanced = sum(e[2] for e in rec.of("advance"))
    assert advanced == out.bytes_received == SIZE - 1_000_000
    assert rec.events[-1] == ("done", "paddle_inference.tgz")
