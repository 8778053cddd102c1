"""Fixtures both kinds of tests use. tests/unit/ holds the pure, fast tests (parsers,
verdicts, plans, settings); tests/integration/ the ones with real servers, compilers and
the real Paddle engine. Shared code is in tests/support/."""

from __future__ import annotations

import pytest

from support.lab import lab_env as _lab_env


@pytest.fixture
def lab_env(tmp_path, monkeypatch):
    """An isolated lab: work, cache and lib dirs under tmp_path, set through INVOKE_LAB_*."""
    env = _lab_env(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env
