"""OpenVINO reading Paddle's legacy .pdmodel directly (its Paddle front end), on the CPU."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from .base import CannotRun, TimedEngine

# The precision of everything that is not already INT8: set explicitly, because OpenVINO's
# default on a CPU with bf16 is bf16, which would make its "fp32" row a BF16 one.
PRECISION_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


def available() -> str | None:
    """None when openvino imports, else why not."""
    try:
        importlib.import_module("openvino")
    except ImportError as err:
        return f"openvino is not installed ({err})"
    return None


def version() -> str:
    import openvino as ov

    return ov.get_version() if hasattr(ov, "get_version") else getattr(ov, "__version__", "?")


def first_line(err: BaseException, limit: int = 300) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    # OpenVINO's messages start with the C++ source location: the useful line is later
    useful = [ln for ln in lines if not ln.startswith(("Exception from", "Check '"))]
    return ((useful or lines or [type(err).__name__])[0])[:limit]


class OpenVinoEngine(TimedEngine):
    def __init__(self, files, precision: str, threads: int):
        import numpy as np
        import openvino as ov

        self._np = np
        self.model = str(files.dir)
        if files.format != "legacy":
            raise CannotRun(f"OpenVINO reads the legacy .pdmodel; {Path(files.program).name} "
                            "is a PIR (.json) model")
        if precision not in PRECISION_HINT:
            raise CannotRun(f"OpenVINO has no {precision} mode here")
        config = {"INFERENCE_PRECISION_HINT": PRECISION_HINT[precision],
                  "INFERENCE_NUM_THREADS": int(threads), "PERFORMANCE_HINT": "LATENCY"}
        self.applied = [[k, v] for k, v in config.items()]
        t0 = time.perf_counter()
        try:
            core = ov.Core()
            compiled = core.compile_model(core.read_model(str(files.program), str(files.params)),
                                          "CPU", config)
        except Exception as err:    # the front end raises its own exception types
            raise CannotRun(f"OpenVINO {version()} cannot read the model: {first_line(err)}")
        self.create_ms = (time.perf_counter() - t0) * 1000.0
        self._request = compiled.create_infer_request()

    def infer(self, images):
        self._request.infer({0: images})
        return self._np.array(self._request.get_output_tensor(0).data, copy=True)


def load(files, precision: str, threads: int, cache_dir: Path | None = None) -> OpenVinoEngine:
    return OpenVinoEngine(files, precision, threads)
