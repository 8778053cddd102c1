"""Run a demo build plan: cmake configure + build (reported as progress), ldd check, record.

The edge around plan.py: subprocesses with argument lists and timeouts, a log
in the build folder, and the record for the cpp runner
(toolchain.state.save_demo_build) written only when both binaries exist and
every library they need resolves.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import LabError
from ..progress import NO_PROGRESS, ProgressSink, Tracker
from ..results import JsonResult
from ..settings import LabSettings
from .ldd import BinaryCheck, check_binary
from .plan import DemoBuildPlan, DemoBuildRequest, plan_demo_build

CONFIGURE_TIMEOUT = 600
BUILD_TIMEOUT = 3600
_NINJA_STEP = re.compile(r"^\[(\d+)/(\d+)\]")
_MAKE_STEP = re.compile(r"^\[\s*(\d+)%\]")


@dataclass
class DemoBuildResult(JsonResult):
    status: str                               # "built" | "dry-run"
    lib: Path
    paddle_api: str
    gpu: bool
    with_tensorrt: bool
    build_dir: Path
    cmake_args: list[str]
    binaries: dict[str, Path] = field(default_factory=dict)
    checks: list[BinaryCheck] = field(default_factory=list)
    ok: bool = True
    elapsed_s: float = 0.0
    log_file: Path | None = None
    record_file: Path | None = None
    notes: list[str] = field(default_factory=list)
    script: str = ""


def resolve_library(settings: LabSettings, lib: str | Path | None) -> Path:
    """--lib, else the current library of fetch-lib / build-lib."""
    if lib:
        return Path(lib).expanduser().resolve()
    from ..library.installed import first_library_steps
    from ..state import current_library, current_library_file

    current = current_library(settings.lib_dir)
    if not current or not current.get("path"):
        raise LabError("no Paddle Inference library chosen yet",
                       where=str(current_library_file(settings.lib_dir)),
                       hint=first_library_steps("`invoke build-demo` again") + "; or pass "
                            "--lib DIR")
    return Path(current["path"])


def make_plan(settings: LabSettings, req: DemoBuildRequest) -> DemoBuildPlan:
    from ..library.installed import validate_library

    found = validate_library(req.lib)
    req.lib = found.path
    version = found.version
    if req.cuda_root is None and settings.cuda_root:
        req.cuda_root = settings.cuda_root
    env_trt = settings.trt_root or os.environ.get("TENSORRT_ROOT") or None
    return plan_demo_build(settings.work_dir, req,
                           lib_with_gpu=version.with_gpu if version else None,
                           lib_with_tensorrt=version.with_tensorrt if version else None,
                           ninja_available=shutil.which("ninja") is not None,
                           env_trt_root=env_trt, include_dir=found.include_dir)


def build_demo(settings: LabSettings, req: DemoBuildRequest, dry_run: bool = False,
               progress: ProgressSink = NO_PROGRESS) -> DemoBuildResult:
    plan = make_plan(settings, req)
    result = DemoBuildResult(status="dry-run" if dry_run else "built", lib=plan.lib,
                             paddle_api=plan.paddle_api, gpu=plan.gpu,
                             with_tensorrt=plan.with_tensorrt, build_dir=plan.build_dir,
                             cmake_args=plan.cmake_args, binaries=dict(plan.binaries),
                             notes=list(plan.notes), script=plan.script())
    if dry_run:
        return result
    if shutil.which("cmake") is None:
        raise LabError("cmake is not installed", hint="apt-get install cmake (>= 3.16), or "
                       "pip install cmake")
    started = time.monotonic()
    if plan.clean:
        _clean(plan.build_dir)
    plan.build_dir.mkdir(parents=True, exist_ok=True)
    log = plan.build_dir / "build-demo.log"
    result.log_file = log
    with open(log, "w") as log_fh:
        result.notes += _configure(plan, log_fh, log)
        _build(plan, log_fh, log, progress)
    missing = [str(p) for p in plan.binaries.values() if not p.is_file()]
    if missing:
        raise LabError(f"the build finished but did not produce {', '.join(missing)}", where=str(log))
    result.checks = [check_binary(p) for p in plan.binaries.values()]
    result.ok = all(c.ok for c in result.checks)
    result.elapsed_s = round(time.monotonic() - started, 2)
    if result.ok:
        from ..state import demo_build_file, save_demo_build

        save_demo_build(settings.work_dir, {
            "lib": str(plan.lib),
            "binaries": {k: str(v) for k, v in plan.binaries.items()},
            "gpu": plan.gpu,
            "with_tensorrt": plan.with_tensorrt,
            "paddle_api": plan.paddle_api,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cmake_args": plan.cmake_args,
            "build_dir": str(plan.build_dir),
        })
        result.record_file = demo_build_file(settings.work_dir)
    return result


def _clean(build_dir: Path) -> None:
    if not build_dir.exists():
        return
    if not (build_dir / "CMakeCache.txt").is_file() and any(build_dir.iterdir()):
        raise LabError(f"refusing to delete {build_dir}: it is not a CMake build folder",
                       hint="pick another --build-dir, or remove it yourself")
    shutil.rmtree(build_dir)


def _configure(plan: DemoBuildPlan, log_fh, log: Path) -> list[str]:
    """Run cmake configure; return its warnings (one line each) as notes."""
    log_fh.write("$ " + " ".join(plan.configure) + "\n")
    log_fh.flush()
    try:
        proc = subprocess.run(plan.configure, capture_output=True, text=True,
                              timeout=CONFIGURE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise LabError(f"cmake configure took over {CONFIGURE_TIMEOUT} s", where=str(log)) from None
    log_fh.write(proc.stdout + proc.stderr)
    log_fh.flush()
    if proc.returncode != 0:
        raise LabError("cmake could not configure the demo: " + _cmake_error(proc.stderr),
                       where=str(log),
                       hint="see the log; `invoke build-demo --clean` starts from an empty "
                            "build folder")
    return ["cmake: " + w for w in _cmake_blocks(proc.stderr, "CMake Warning")]


def _cmake_blocks(stderr: str, kind: str) -> list[str]:
    """The text of each `CMake Error ...:` / `CMake Warning ...:` block, one line each."""
    lines = stderr.splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.startswith(kind):
            block = []
            for nxt in lines[i + 1:]:
                if nxt.startswith(("CMake ", "-- ", "Call Stack", "This warning is for")):
                    break
                if nxt.strip():
                    block.append(nxt.strip())
            out.append(" ".join(block) or line)
    return out


def _cmake_error(stderr: str) -> str:
    """The first `CMake Error` block on one line (else the last lines of stderr)."""
    blocks = _cmake_blocks(stderr, "CMake Error")
    if blocks:
        return blocks[0]
    tail = [ln for ln in stderr.splitlines() if ln.strip()][-3:]
    return " ".join(tail) or "(no message)"


def _build(plan: DemoBuildPlan, log_fh, log: Path, progress: ProgressSink) -> None:
    log_fh.write("$ " + " ".join(plan.build) + "\n")
    log_fh.flush()
    errors: list[str] = []
    unit = "percent" if plan.generator == "Unix Makefiles" else "steps"
    with progress.track("building the demo", total=None, unit=unit) as bar:
        proc = subprocess.Popen(plan.build, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        deadline = time.monotonic() + BUILD_TIMEOUT
        assert proc.stdout is not None
        for line in proc.stdout:
            log_fh.write(line)
            _report_step(bar, line)
            if "error" in line.lower() or "undefined reference" in line:
                errors.append(line.strip())
            if time.monotonic() > deadline:
                proc.kill()
                raise LabError(f"the demo build took over {BUILD_TIMEOUT} s", where=str(log))
        rc = proc.wait()
    log_fh.flush()
    if rc != 0:
        text = " | ".join(errors[:4]) or f"exit status {rc}"
        hint = "see the log"
        if any("__cxx11" in e or "undefined reference" in e for e in errors):
            hint = ("undefined references to the Paddle API usually mean a C++ ABI mismatch: "
                    "configure by hand with -DPADDLE_CXX11_ABI=0 (or 1) and see demo/README.md")
        raise LabError("the demo did not compile: " + text, where=str(log), hint=hint)


def build_step(line: str) -> tuple[int, int, str] | None:
    """(done, total, what) from Ninja's `[n/m] what` or make's `[ nn%]` (total 100); else None."""
    m = _NINJA_STEP.match(line)
    if m:
        what = line[m.end():].strip().rsplit("/", 1)[-1][:40]
        return int(m.group(1)), int(m.group(2)), what
    m = _MAKE_STEP.match(line)
    if m:
        return int(m.group(1)), 100, ""
    return None


def _report_step(bar: Tracker, line: str) -> None:
    step = build_step(line)
    if step:
        done, total, what = step
        bar.update(completed=done, total=total, note=what or None)
