"""What the tests share: project paths, the real `invoke` CLI, and one module per area.

- lab: the one lab environment (INVOKE_LAB_* under a folder) and a small complete lab
- fetch, fetch_server: library archives and a real HTTP mirror on 127.0.0.1
- demo: the C++ demo built against the stand-in SDK; runner: a real trained little lab
- data, probe, srcbuild, bench, sshd: images, host captures, fake roots, quickstart, sshd
Fixtures live in tests/conftest.py (shared), tests/unit/ and tests/integration/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
# Real outputs captured on GPU hosts, kept in the repository (it stands alone).
H100_FIXTURES = FIXTURES / "hosts" / "h100"
H200_FIXTURES = FIXTURES / "hosts" / "h200"


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
