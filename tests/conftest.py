"""Shared test fixtures. Tests use real servers, tools and the real Paddle engine."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
# Real outputs captured on GPU hosts (copies of what reached us in ../shared/fixtures; the
# repository stands alone, so nothing here reads ../shared).
H100_FIXTURES = FIXTURES / "hosts" / "h100"
H200_FIXTURES = FIXTURES / "hosts" / "h200"


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    """An isolated lab: work, cache and lib dirs under tmp_path, set through INVOKE_LAB_*."""
    env = {
        "INVOKE_LAB_WORK_DIR": str(tmp_path / "work"),
        "INVOKE_LAB_CACHE_DIR": str(tmp_path / "cache"),
        "INVOKE_LAB_LIB_DIR": str(tmp_path / "work" / "lib"),
        "INVOKE_LAB_RESULTS_DIR": str(tmp_path / "results"),
        "INVOKE_LAB_LOCK_FILE": str(tmp_path / "lab.lock.toml"),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def mirror(tmp_path):
    """A real HTTP mirror on 127.0.0.1 serving files under tmp_path/www."""
    from fetch_server import FetchServer

    root = tmp_path / "www"
    root.mkdir()
    with FetchServer(root) as srv:
        yield srv


@pytest.fixture
def tmpfs(tmp_path):
    """A real small file system: `with tmpfs("2m") as folder:` (`ro=True` read-only).

    Root ignores file modes, a read-only mount not; skipped where mounting is not allowed."""
    @contextmanager
    def mount(size: str, ro: bool = False):
        folder = tmp_path / f"tmpfs-{size}{'-ro' if ro else ''}"
        folder.mkdir()
        options = f"{'ro,' if ro else ''}size={size}"
        if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        try:
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
    return mount


def run_invoke(*args: str, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """Run `invoke ARGS` for real, from the project root (where tasks.py is)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(ROOT), *args],
        cwd=str(cwd or ROOT), env=full_env, capture_output=True, text=True, timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"invoke {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def invoke_cli():
    return run_invoke
