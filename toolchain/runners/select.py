"""`--runner auto|cpp|python`: which runner runs, and why (shown in every result)."""

from __future__ import annotations

from pathlib import Path

from ..errors import LabError
from ..settings import LabSettings

RUNNERS = ("auto", "cpp", "python")


def demo_binaries(record: dict | None) -> dict[str, Path]:
    """The demo's binaries that exist on disk ({} without a usable record)."""
    if not record:
        return {}
    bins = record.get("binaries") or {}
    return {k: Path(v) for k, v in bins.items() if v and Path(v).is_file()}


def demo_next_step(settings: LabSettings) -> str:
    """The first command towards a usable demo build from where this lab is."""
    from ..library.installed import first_library_steps
    from ..state import current_library

    current = current_library(settings.lib_dir)
    if not current or not current.get("path") or not Path(current["path"]).is_dir():
        return first_library_steps("`invoke build-demo`")
    return "run `invoke build-demo`"


def cpp_status(settings: LabSettings, program: str) -> tuple[bool, str]:
    """(usable, reason): is the demo built, with `program`, for the current library?"""
    from ..state import current_library, demo_build

    record = demo_build(settings.work_dir)
    if not record:
        current = current_library(settings.lib_dir)
        if not current or not current.get("path"):
            return False, ("no demo build and no Paddle Inference library (run `invoke "
                           "fetch-lib --from-wheel`, then `invoke build-demo`)")
        return False, "no demo build (run `invoke build-demo`)"
    if program not in demo_binaries(record):
        return False, f"the demo build has no {program} binary (rerun `invoke build-demo`)"
    current = current_library(settings.lib_dir)
    built_for = str(Path(record.get("lib", "")).resolve()) if record.get("lib") else ""
    if current and built_for and str(Path(current["path"]).resolve()) != built_for:
        return False, (f"the demo was built for {built_for}, the current library is "
                       f"{current['path']} (rerun `invoke build-demo`)")
    where = built_for or "an unrecorded library"
    return True, f"demo built for the current library ({where})"


def select_runner(settings: LabSettings, requested: str = "auto",
                  program: str = "trt_clas") -> tuple[str, str]:
    """("cpp"|"python", reason). `program` is trt_clas (latency) or test_acc (accuracy)."""
    if requested not in RUNNERS:
        raise LabError(f"unknown runner {requested!r}", hint="use --runner auto, cpp or python")
    if requested == "python":
        return "python", "asked for --runner python"
    usable, reason = cpp_status(settings, program)
    if requested == "cpp":
        if not usable:
            raise LabError(f"--runner cpp asked, but {reason}",
                           hint=demo_next_step(settings) + "; or use --runner python")
        return "cpp", f"asked for --runner cpp; {reason}"
    if usable:
        return "cpp", reason
    return "python", f"{reason}; using paddle.inference in Python"
