"""Run a paddle job in a fresh Python process and read its final JSON line.

Why a process: FLAGS_enable_pir_api must be set before paddle is imported, and
the legacy (.pdmodel) and PIR (.json) exports need opposite values of it. A
worker also keeps paddle out of the invoke process and its glog noise out of
the user's terminal (stderr goes to a log file, quoted on failure).

Protocol: the worker prints `progress <done> <total> <text>` lines while it
works and one JSON object as its last stdout line. A LabError inside the
worker is printed as {"error": ..., "hint": ..., "where": ...} and re-raised here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

from ..errors import LabError
from ..results import JsonResult

ProgressFn = Callable[[int, int, str], None]


def worker_env(pir: bool) -> dict:
    env = dict(os.environ)
    env["FLAGS_enable_pir_api"] = "1" if pir else "0"
    env.setdefault("GLOG_minloglevel", "2")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_worker(module: str, args: list[str], pir: bool, timeout: float = 900,
               on_progress: ProgressFn | None = None, what: str = "paddle worker") -> dict:
    """`python -m module args...` with FLAGS_enable_pir_api=0|1; returns its JSON result."""
    cmd = [sys.executable, "-m", module, *args]
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True,
                                env=worker_env(pir))
        last = ""
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                if line.startswith("progress ") and on_progress:
                    parts = line.split(" ", 3)
                    try:
                        on_progress(int(parts[1]), int(parts[2]),
                                    parts[3] if len(parts) > 3 else "")
                    except ValueError:
                        pass
                elif line.strip():
                    last = line
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise LabError(f"{what} ran longer than {timeout:.0f} s and was stopped",
                           hint="see `invoke --debug` for the command") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        log.seek(0)
        tail = log.read()[-3000:]
    try:
        result = json.loads(last) if last.startswith("{") else None
    except ValueError:
        result = None
    if isinstance(result, dict) and "error" in result:
        raise LabError(result["error"], hint=result.get("hint"), where=result.get("where"))
    if proc.returncode != 0 or result is None:
        raise LabError(f"{what} failed (exit {proc.returncode}): {tail.strip()[-1500:]}",
                       where=" ".join(cmd),
                       hint="rerun with PADDLE_TRT_LAB_DEBUG=1 for details")
    return result


@dataclass(frozen=True)
class WorkerStep(JsonResult):
    """One worker run a plan holds: `python -m module args` with FLAGS_enable_pir_api."""
    module: str
    args: tuple[str, ...]
    pir: bool
    what: str

    def run(self, on_progress: ProgressFn | None = None) -> dict:
        return run_worker(self.module, list(self.args), pir=self.pir, on_progress=on_progress,
                          what=self.what)

    def add_to(self, script) -> None:
        """Append the same run to a toolchain.shellscript.ShellScript."""
        script.run([sys.executable, "-m", self.module, *self.args],
                   env={"FLAGS_enable_pir_api": "1" if self.pir else "0"})


def worker_main(body: Callable[[], dict]) -> None:
    """Inside a worker: run `body`, print its result (or the LabError) as the last line."""
    try:
        result = body()
    except LabError as err:
        print(json.dumps({"error": err.message, "hint": err.hint, "where": err.where}))
        sys.exit(2)
    print(json.dumps(result))


def report_progress(done: int, total: int, text: str = "") -> None:
    print(f"progress {done} {total} {text}", flush=True)


def check_pir_flag(expect_pir: bool) -> None:
    """Fail loudly when the worker was started with the wrong FLAGS_enable_pir_api."""
    value = os.environ.get("FLAGS_enable_pir_api", "1")
    if (value not in ("0", "false", "False")) != expect_pir:
        raise LabError(f"worker started with FLAGS_enable_pir_api={value}",
                       hint="start workers through toolchain.models.worker.run_worker")
