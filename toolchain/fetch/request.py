"""fetch-lib's flags -> the LibraryRequest the resolver takes (the task only parses)."""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..settings import LabSettings
from .resolve import DEVICES, MATH_LIBS, LibraryRequest


def chosen_device(flags: dict[str, Any]) -> str | None:
    """--cpu / --gpu / --jetson / --device X: at most one device, a known one."""
    given = [d for d in ("cpu", "gpu", "jetson") if flags.get(d)]
    if flags.get("device"):
        given.append(flags["device"])
    if len(set(given)) > 1:
        raise LabError(f"conflicting device flags: {', '.join(sorted(set(given)))}",
                       hint="give one of --cpu, --gpu, --jetson (or --device)")
    device = given[0] if given else None
    if device and device not in DEVICES:
        raise LabError(f"unknown device {device!r}", hint="use cpu, gpu or jetson")
    return device


def parse_request(flags: dict[str, Any], settings: LabSettings) -> LibraryRequest:
    """What row fetch-lib looks for, from its flags (None = not given)."""
    device = chosen_device(flags)
    math = flags.get("math")
    if math and math not in MATH_LIBS:
        raise LabError(f"unknown math library {math!r}", hint="use mkl or openblas")
    gpu_versions = any(flags.get(k) for k in ("cuda", "cudnn", "trt"))
    if device == "cpu" and gpu_versions:
        raise LabError("--cpu contradicts --cuda/--cudnn/--trt",
                       hint="drop --cpu, or drop the GPU versions")
    paddle = flags.get("paddle")
    return LibraryRequest(paddle=paddle, cuda=flags.get("cuda"), cudnn=flags.get("cudnn"),
                          trt=flags.get("trt"), gcc=flags.get("gcc"), device=device,
                          math=math, no_avx=bool(flags.get("no_avx")),
                          include_removed=bool(flags.get("include_removed")),
                          preferred_paddle=None if paddle else settings.paddle_version)
