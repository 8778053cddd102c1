"""Hostile lock files and hosts: one error block, no traceback, the right verdict.

- a lock that is not UTF-8, not TOML, or has values of the wrong type (issue 13.6)
- a lock a newer paddle-trt-lab wrote: higher meta.schema, unknown required tables (13.8)
- the lock (and every atomically written record) keeps its file mode (13.10)
- a port that accepts TCP but does not speak SSH: paramiko's traceback stays off
  stderr, our verdict stays (13.6)
All through the real CLI (invoke in a subprocess) or the real reader; the SSH case
uses real TCP servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest

from support import run_invoke
from support.lab import lab_env
from toolchain import __version__
from toolchain.errors import LabError
from toolchain.fsio import atomic_write_bytes
from toolchain.lock.file import SCHEMA, load_lock, save_lock
from toolchain.state import write_json_atomic

GOOD_SHA = "ab" * 32


def _lock_env(tmp_path: Path, content: bytes | str) -> tuple[dict, Path]:
    env = lab_env(tmp_path)
    lock = Path(env["INVOKE_LAB_LOCK_FILE"])
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(content.encode() if isinstance(content, str) else content)
    return env, lock


def _one_error_block(proc, lock: Path, *needles: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    err = proc.stderr
    assert "Traceback" not in err
    assert err.count("error:") == 1, err
    assert f"where: {lock}" in err, err
    for needle in needles:
        assert needle in err, (needle, err)


# -- bad bytes, bad TOML, bad types -------------------------------------------------------

def test_a_lock_that_is_not_utf8_is_one_error_in_verify_and_fetch_lib(tmp_path):
    env, lock = _lock_env(tmp_path, b'[tool]\nversion = "0.1.0"\n# caf\xe9 \xff\n')
    for args in (("verify",), ("fetch-lib", "--locked", "--dry-run")):
        proc = run_invoke(*args, env=env, timeout=120)
        _one_error_block(proc, lock, "not UTF-8", "line 3", "invoke lock", "git")


def test_a_lock_that_is_not_toml_names_the_line(tmp_path):
    env, lock = _lock_env(tmp_path, '[tool\nversion = "0.1.0"\n')
    proc = run_invoke("fetch-lib", "--locked", "--dry-run", env=env, timeout=120)
    _one_error_block(proc, lock, "not valid TOML", "line 1", "invoke lock")


WRONG_TYPES = [
    (f'[libraries."3.0.0-cpu"]\nurl = "https://x/a.tgz"\nsha256 = 12\n',
     '[libraries."3.0.0-cpu"] sha256 must be a string, not an integer'),
    ('[libraries."3.0.0-cpu"]\nsha256 = "nothex"\n', "must be 64 hex digits"),
    (f'[libraries."3.0.0-cpu"]\nsha256 = "{GOOD_SHA}"\nsize = "big"\n',
     '[libraries."3.0.0-cpu"] size must be an integer, not a string'),
    ('[libraries]\n"3.0.0-cpu" = "abc"\n', '[libraries."3.0.0-cpu"] must be a table'),
    ('libraries = 3\n', "[libraries] must be a table, not an integer"),
    ('missing = "all"\n[tool]\nversion = "0.1.0"\n', "[missing] must be a table"),
    ('[tool]\nversion = "0.1.0"\n[missing]\n"system.cuda" = 5\n',
     '[missing] "system.cuda" must be a string'),
    ('[models."r50/x.pdmodel"]\nsha256 = 5\nsize = 3\n', '[models."r50/x.pdmodel"] sha256'),
    ('[data]\n"val.bin" = 7\n', '[data."val.bin"] must be a table'),
    ('[meta]\nschema = "one"\n[tool]\nversion = "0.1.0"\n', "[meta] schema must be a whole"),
    ('[meta]\nrequired = "tool"\n', "[meta] required must be an array"),
    ('[library]\narchive_size = true\n', "[library] archive_size must be an integer"),
]


@pytest.mark.parametrize("text, message", WRONG_TYPES)
def test_wrong_value_types_are_refused_naming_the_key(tmp_path, text, message):
    path = tmp_path / "lab.lock.toml"
    path.write_text(text)
    with pytest.raises(LabError) as err:
        load_lock(path)
    assert message in err.value.message
    assert err.value.where == str(path)
    assert "invoke lock" in err.value.hint


@pytest.mark.parametrize("text, message", [WRONG_TYPES[0], WRONG_TYPES[6]])
def test_wrong_types_through_verify_and_fetch_lib(tmp_path, text, message):
    env, lock = _lock_env(tmp_path, text)
    for args in (("verify",), ("fetch-lib", "--locked", "--dry-run")):
        proc = run_invoke(*args, env=env, timeout=120)
        _one_error_block(proc, lock, message, "invoke lock")


# -- a lock from a newer tool ----------------------------------------------------------------

NEWER = f"""[meta]
schema = {SCHEMA + 1}
[tool]
version = "9.4.0"
[library]
row_id = "3.0.0-cpu"
[libraries."3.0.0-cpu"]
url = "https://x/a.tgz"
sha256 = "{GOOD_SHA}"
"""

UNKNOWN_TABLE = f"""[meta]
schema = {SCHEMA}
required = ["tool", "container"]
[tool]
version = "0.2.0"
[container]
image_sha256 = "{GOOD_SHA}"
"""


def test_a_newer_schema_is_refused_naming_both_versions(tmp_path):
    env, lock = _lock_env(tmp_path, NEWER)
    for args in (("verify",), ("fetch-lib", "--locked", "--dry-run"), ("lock",)):
        proc = run_invoke(*args, env=env, timeout=120)
        _one_error_block(proc, lock, f"lock schema {SCHEMA + 1}", "paddle-trt-lab 9.4.0",
                         f"paddle-trt-lab {__version__}", f"schema {SCHEMA} only", "upgrade")
    assert lock.read_text() == NEWER                   # `invoke lock` did not overwrite it


def test_an_unknown_required_table_is_refused(tmp_path):
    env, lock = _lock_env(tmp_path, UNKNOWN_TABLE)
    proc = run_invoke("verify", env=env, timeout=120)
    _one_error_block(proc, lock, "container", "paddle-trt-lab 0.2.0",
                     f"paddle-trt-lab {__version__} does not know")
    # an unknown table the lock does not call required is only not compared
    lock.write_text(UNKNOWN_TABLE.replace('required = ["tool", "container"]\n', ""))
    load_lock(lock)


def test_invoke_lock_writes_its_schema_and_required_tables(tmp_path):
    env = lab_env(tmp_path)
    proc = run_invoke("lock", env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = load_lock(Path(env["INVOKE_LAB_LOCK_FILE"]))
    assert data["meta"]["schema"] == SCHEMA
    required = data["meta"]["required"]
    assert "tool" in required and "python" in required
    assert all(t in data for t in required)


def test_fetch_lib_records_carry_the_schema(tmp_path):
    path = tmp_path / "lab.lock.toml"
    save_lock(path, {"libraries": {"r": {"sha256": GOOD_SHA, "size": 1}}})
    assert load_lock(path)["meta"]["schema"] == SCHEMA


# -- file modes ---------------------------------------------------------------------------

@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_writes_keep_the_mode_or_get_0644(tmp_path, umask022):
    lock = tmp_path / "lab.lock.toml"
    save_lock(lock, {"tool": {"version": "1"}})
    assert _mode(lock) == 0o644                        # new: 0666 minus the umask
    os.chmod(lock, 0o664)
    save_lock(lock, {"tool": {"version": "2"}})
    assert _mode(lock) == 0o664                        # rewritten: keeps its mode
    os.chmod(lock, 0o600)
    save_lock(lock, {"tool": {"version": "3"}})
    assert _mode(lock) == 0o600 and load_lock(lock)["tool"]["version"] == "3"
    record = tmp_path / "lib" / "current.json"
    write_json_atomic(record, {"a": 1})
    assert _mode(record) == 0o644
    os.umask(0o077)
    other = tmp_path / "private.json"
    write_json_atomic(other, {"a": 1})
    assert _mode(other) == 0o600                       # the umask is respected
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "x.toml"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")        # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]


def test_invoke_lock_keeps_the_mode_of_a_shared_lock(tmp_path):
    env = lab_env(tmp_path)
    lock = Path(env["INVOKE_LAB_LOCK_FILE"])
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    os.chmod(lock, 0o644)
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    assert _mode(lock) == 0o644
    os.chmod(lock, 0o660)
    assert run_invoke("lock", env=env, timeout=120).returncode == 0
    assert _mode(lock) == 0o660


# -- a port that is not SSH ----------------------------------------------------------------

class _NotSsh:
    """A real TCP server on 127.0.0.1 that accepts and then sends garbage (an HTTP
    reply and binary bytes) or nothing at all; each connection is closed after
    `hold_s`, the server by stop()."""

    def __init__(self, mode: str, hold_s: float = 8):
        self.mode, self.hold_s = mode, hold_s
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.mode == "garbage":
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"\x00\xff\xfe" * 300)
                    return
                self._stop.wait(self.hold_s)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("mode", ["garbage", "silent"])
def test_a_port_that_does_not_speak_ssh_gives_a_verdict_and_no_traceback(tmp_path, mode):
    server = _NotSsh(mode)
    try:
        env = {**lab_env(tmp_path), "INVOKE_LAB_LAB_CONNECT_TIMEOUT": "2"}
        proc = run_invoke("lab", "--hosts", f"127.0.0.1:{server.port}", "--task", "doctor",
                          "--timeout", "20", env=env, timeout=120)
    finally:
        server.stop()
    assert server.accepted >= 1                        # the client really connected
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "unreachable" in proc.stdout and "no SSH handshake" in proc.stdout
    assert proc.stderr.count("error:") == 1
    summary = json.loads((tmp_path / "results" / "lab" / "doctor.json").read_text())
    host = summary["hosts"][0]
    assert host["status"] == "unreachable"
    if mode == "garbage":                              # paramiko's account: in the host log
        log = Path(host["log_file"]).read_text()
        assert "## ssh (paramiko)" in log and "SSH protocol banner" in log
