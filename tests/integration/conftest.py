"""Integration fixtures: a real HTTP mirror, a real tmpfs, the real CLI, the C++ demo built
against the stand-in SDK, and a real trained little lab (each built once per session)."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager

import pytest

from support import run_invoke
from support.demo import build_demo, standin_model_dir
from support.runner import build_trained_lab


@pytest.fixture
def mirror(tmp_path):
    """A real HTTP mirror on 127.0.0.1 serving files under tmp_path/www."""
    from support.fetch_server import FetchServer

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


@pytest.fixture
def invoke_cli():
    return run_invoke


@pytest.fixture(scope="session")
def demo_2x(tmp_path_factory):
    """The demo built against a 2.x/3.x-shaped stand-in SDK (third_party, C++11 ABI 1)."""
    return build_demo(tmp_path_factory, "2.x")


@pytest.fixture(scope="session")
def demo_1x(tmp_path_factory):
    """The demo built against a 1.8-shaped stand-in SDK (no third_party, ABI 0)."""
    return build_demo(tmp_path_factory, "1.x")


@pytest.fixture(scope="session")
def standin_model(tmp_path_factory):
    return standin_model_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def trained_lab(tmp_path_factory):
    """sample-data -> preprocess -> small_cnn trained and exported -> INT8, for real."""
    return build_trained_lab(tmp_path_factory)
