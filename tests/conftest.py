"""Shared test fixtures. Tests use real servers, tools and the real Paddle engine."""

from __future__ import annotations

import os
import subprocess
import sys
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
