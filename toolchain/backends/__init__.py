"""Second-opinion CPU engines run on the same model files as Paddle Inference.

    load(name, files, precision, threads, cache_dir) -> a TimedEngine (or CannotRun)
    require_installed(names)                         -> LabError naming the extra

"paddle" is Paddle Inference itself (toolchain.runners); "openvino" reads the legacy
.pdmodel; "onnxruntime" runs it after paddle2onnx. Their packages come with the `backends`
extra and are imported only when a backend is used.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Sequence

from ..errors import LabError
from .base import CannotRun, TimedEngine

PADDLE = "paddle"
BACKENDS = (PADDLE, "openvino", "onnxruntime")
EXTRA_HINT = "pip install -c constraints.txt -e '.[backends]' (from the repository's root)"

__all__ = ["BACKENDS", "CannotRun", "EXTRA_HINT", "PADDLE", "TimedEngine", "load",
           "require_installed", "version"]


def _module(name: str):
    if name not in BACKENDS or name == PADDLE:
        raise LabError(f"unknown backend {name!r}",
                       hint=f"use one of {', '.join(BACKENDS)}")
    return importlib.import_module(f"{__name__}.{name}")


def require_installed(names: Sequence[str]) -> None:
    """LabError (naming the extra) when a backend's package does not import."""
    missing = [(n, why) for n in names if n != PADDLE and (why := _module(n).available())]
    if missing:
        raise LabError("; ".join(f"backend {n}: {why}" for n, why in missing),
                       hint=f"install the backends extra: {EXTRA_HINT}")


def version(name: str) -> str:
    return _module(name).version()


def load(name: str, files, precision: str, threads: int, cache_dir: Path) -> TimedEngine:
    """Load `files` (a models.layout.ModelFiles) in backend `name`; CannotRun when it cannot."""
    return _module(name).load(files, precision, threads, cache_dir)
