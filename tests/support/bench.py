"""One real quickstart lab shared by the bench and quickstart end-to-end tests.

`quickstart_lab()` runs `invoke quickstart --json` once per test session (through
the real CLI, in a fresh isolated lab under a temporary folder) and caches the
result; test_quickstart_e2e checks that first run, test_bench_e2e benches the
models it made. The latency-only zoo models are limited to mobilenet_v1
(INVOKE_LAB_QUICKSTART_MODELS) to keep the suite's slowest test short; CI's
README command runs the full list.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from support import run_invoke
from support.lab import lab_env

TEST_MODELS = "small_cnn,mobilenet_v1"


@dataclass
class QuickstartLab:
    base: Path
    env: dict
    seconds: float
    result: dict            # the --json output of the first run
    stderr: str

    @property
    def work_dir(self) -> Path:
        return self.base / "work"


def quickstart_env(base: Path) -> dict:
    return {**lab_env(base),
            "INVOKE_LAB_QUICKSTART_MODELS": TEST_MODELS,
            # short windows: the test checks the pipeline, not the machine
            "INVOKE_LAB_QUICKSTART_REPEATS": "10",
            "INVOKE_LAB_QUICKSTART_TIME_BUDGET": "4"}


@functools.lru_cache(maxsize=None)
def quickstart_lab() -> QuickstartLab:
    base = Path(tempfile.mkdtemp(prefix="lab-quickstart-test-"))
    atexit.register(shutil.rmtree, base, True)
    env = quickstart_env(base)
    t0 = time.monotonic()
    proc = run_invoke("quickstart", "--json", env=env, timeout=900)
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, f"quickstart failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return QuickstartLab(base, env, seconds, json.loads(proc.stdout), proc.stderr)
