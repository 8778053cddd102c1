"""Run a BuildPlan: git, cmake and make as argument lists, output to a log file.

Each step is reported to a progress sink, make's `[ NN%]` lines as its share
done. A failed step raises one LabError with the last lines of the log, the log
path and a hint for known failures. Re-running resumes: the checkout is reused,
cmake is skipped when the build dir was configured with the same flags, make
continues where it stopped; only --clean wipes the build dir. The installed
tree is copied to its final place under a temporary name, validated with
toolchain.library.installed.validate_library and registered like a fetched library
(source="build").
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import LabError
from ..fsio import swap_in_directory
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from ..settings import LabSettings
from .facts import BuildFacts
from .plan import BuildPlan, Step

PERCENT = re.compile(r"^\[\s*(\d{1,3})%\]")
STAMP = ".build-lib-configure.json"


@dataclass
class StepRecord(JsonResult):
    name: str
    status: str             # ran | skipped
    seconds: float = 0.0
    reason: str = ""


@dataclass
class BuildResult(JsonResult):
    ref: str
    era: str
    paddle_version: str | None
    commit: str | None
    library: Path
    row_id: str
    log_file: Path
    steps: list[StepRecord] = field(default_factory=list)
    seconds: float = 0.0
    library_info: dict | None = None
    registered: dict | None = None
    preflight: dict | None = None


class StepFailed(Exception):
    def __init__(self, step: Step, code: int | None, reason: str = ""):
        super().__init__(step.name)
        self.step, self.code, self.reason = step, code, reason


def configure_fingerprint(plan: BuildPlan) -> str:
    data = {"src": str(plan.request.src_dir), "args": plan.cmake_args}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class _Log:
    """The build log: every line of every step, appended across runs."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fh = open(path, "a", buffering=1, errors="replace")

    def write(self, line: str) -> None:
        self.fh.write(line if line.endswith("\n") else line + "\n")

    def tail(self, n: int) -> list[str]:
        self.fh.flush()
        with open(self.path, errors="replace") as fh:
            return [line.rstrip("\n") for line in collections.deque(fh, maxlen=n)]

    def close(self) -> None:
        self.fh.close()


def _run_step(step: Step, log: _Log, on_line: Callable[[str], None], recent: collections.deque
              ) -> None:
    if step.cwd is not None:
        Path(step.cwd).mkdir(parents=True, exist_ok=True)
    log.write(f"$ {' '.join(step.argv)}" + (f"    (in {step.cwd})" if step.cwd else ""))
    try:
        proc = subprocess.Popen(step.argv, cwd=step.cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                                errors="replace", bufsize=1, start_new_session=True)
    except FileNotFoundError:
        raise StepFailed(step, None, f"{step.argv[0]} not found") from None
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        _kill_group(proc)

    timer = threading.Timer(step.timeout_s, kill)
    timer.daemon = True
    timer.start()
    try:
        for line in proc.stdout:
            log.write(line)
            recent.append(line.rstrip("\n"))
            on_line(line)
        code = proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        timer.cancel()
    if timed_out.is_set():
        raise StepFailed(step, code, f"timed out after {step.timeout_s:.0f} s")
    if code != 0:
        raise StepFailed(step, code)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _git(src: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(src), *args], capture_output=True, text=True,
                          timeout=60)


def _skip_reason(step: Step, plan: BuildPlan) -> str | None:
    src, build = plan.request.src_dir, plan.request.build_dir
    if step.skip_if == "checkout_exists" and (src / ".git").exists():
        return "checkout exists"
    if step.skip_if == "has_commit" and (src / ".git").exists():
        if _git(src, "rev-parse", "-q", "--verify", f"{plan.request.ref}^{{commit}}").returncode == 0:
            return f"{plan.request.ref} already in the checkout"
    if step.skip_if == "configured":
        stamp = build / STAMP
        try:
            same = json.loads(stamp.read_text()).get("fingerprint") == configure_fingerprint(plan)
        except (OSError, ValueError):
            same = False
        if same and (build / "CMakeCache.txt").is_file():
            return "configured with the same flags (make re-runs cmake if CMakeLists changed)"
    return None


def failure_hints(facts: BuildFacts, lines: list[str], plan: BuildPlan | None = None
                  ) -> list[str]:
    """Hints of the known failures whose pattern is in `lines` (<src>/<build> filled in)."""
    text = "\n".join(lines)
    hints = []
    for kf in facts.known_failures:
        if re.search(kf.pattern, text, re.M):
            hint = kf.hint
            if plan is not None:
                hint = hint.replace("<src>", str(plan.request.src_dir)).replace(
                    "<build>", str(plan.request.build_dir))
            hints.append(f"{kf.name}: {hint}")
    return hints


def _publish(plan: BuildPlan, log: _Log):
    from ..library.installed import validate_library

    stage, dest = plan.stage_dir, plan.install_dir
    if not stage.is_dir():
        raise LabError(f"make inference_lib_dist left no library in {stage}", where=str(log.path),
                       hint="look at the end of the log for the install step")
    if stage.resolve() == dest.resolve():
        return validate_library(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.parent / f".{dest.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(stage, partial, symlinks=True)
    try:
        validate_library(partial)
    except LabError as err:
        shutil.rmtree(partial, ignore_errors=True)
        err.where = str(stage)
        raise
    try:
        swap_in_directory(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    log.write(f"# installed {dest}")
    return validate_library(dest)


def execute_plan(plan: BuildPlan, settings: LabSettings, facts: BuildFacts, *,
                 trt_version: str | None = None, progress: ProgressSink = NO_PROGRESS,
                 preflight: dict | None = None) -> BuildResult:
    """Run the plan's steps; return what was built and registered, or raise LabError."""
    from ..state import set_current_library
    from .preflight import FAIL, check_enterprise_macros

    if plan.request.gpu and plan.request.trt_root is None:
        # plan_build plans it (for --dry-run), the preflight refuses it; never run it.
        raise LabError("a GPU build needs TensorRT: no TensorRT root given",
                       hint="pass --trt-root DIR (the unpacked TensorRT tar), set "
                            "TENSORRT_ROOT, or build for CPU with --cpu")
    started = time.monotonic()
    log = _Log(plan.log_file)
    log.write(f"# ---- invoke build-lib {plan.request.ref} at "
              f"{dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} ----")
    records: list[StepRecord] = []
    recent: collections.deque = collections.deque(maxlen=2000)
    tail_n = int(facts.defaults.get("log_tail_lines", 40))
    try:
        for step in plan.steps:
            reason = _skip_reason(step, plan)
            if reason:
                records.append(StepRecord(step.name, "skipped", reason=reason))
                log.write(f"# skip {step.name}: {reason}")
                progress.note(f"skip {step.name}: {reason}")
                continue
            t0 = time.monotonic()
            if step.name == "configure":
                check = check_enterprise_macros(facts, plan.request.src_dir, trt_version)
                if check and check.status == FAIL:
                    raise LabError(check.detail, hint=check.fix,
                                   where=str(plan.request.src_dir / "cmake/tensorrt.cmake"))
            if step.kind == "remove":
                shutil.rmtree(plan.request.build_dir, ignore_errors=True)
                log.write(f"# removed {plan.request.build_dir}")
            elif step.kind == "publish":
                with progress.track(step.name, unit="percent") as bar:
                    found = _publish(plan, log)
                    bar.update(completed=100, total=100)
            else:
                with progress.track(step.name, total=100 if step.progress else None,
                                    unit="percent") as bar:

                    def on_line(line: str, bar=bar, step=step) -> None:
                        m = PERCENT.match(line) if step.progress else None
                        if m:
                            bar.update(completed=min(100, int(m.group(1))))

                    recent.clear()
                    _run_step(step, log, on_line, recent)
                    bar.update(completed=100, total=100)
                if step.name == "configure":
                    (plan.request.build_dir / STAMP).write_text(json.dumps(
                        {"fingerprint": configure_fingerprint(plan),
                         "cmake_args": plan.cmake_args}, indent=2))
            records.append(StepRecord(step.name, "ran", round(time.monotonic() - t0, 2)))
    except StepFailed as failed:
        tail = log.tail(tail_n)
        hints = failure_hints(facts, list(recent), plan)
        log.write(f"# step {failed.step.name} failed ({failed.reason or f'exit {failed.code}'})")
        log.close()
        shown = "\n".join(f"  | {line}" for line in tail)
        raise LabError(
            f"build-lib step '{failed.step.name}' failed ("
            f"{failed.reason or f'exit code {failed.code}'}): {' '.join(failed.step.argv[:3])} ...\n"
            f"last {len(tail)} lines of the log:\n{shown}",
            where=str(plan.log_file),
            hint=" | ".join(hints) if hints else
            "fix the cause shown in the log and run the same command again: it resumes "
            "(add --clean to start the build dir over)") from None
    except BaseException:
        log.close()
        raise
    commit = None
    if (plan.request.src_dir / ".git").exists():
        out = _git(plan.request.src_dir, "rev-parse", "HEAD")
        commit = out.stdout.strip() or None if out.returncode == 0 else None
    record = set_current_library(settings.lib_dir, plan.install_dir, plan.row_id, source="build",
                                 ref=plan.request.ref, commit=commit,
                                 paddle_version=plan.request.paddle_version, era=plan.era,
                                 cmake_args=plan.cmake_args, log=str(plan.log_file))
    log.write(f"# registered {plan.install_dir} as {plan.row_id}")
    log.close()
    return BuildResult(ref=plan.request.ref, era=plan.era,
                       paddle_version=plan.request.paddle_version, commit=commit,
                       library=plan.install_dir, row_id=plan.row_id, log_file=plan.log_file,
                       steps=records, seconds=round(time.monotonic() - started, 2),
                       library_info=found.to_dict(), registered=record, preflight=preflight)
