"""What every backend engine is: a timed `infer`, and the refusal of a model it cannot run."""

from __future__ import annotations

import time
from typing import Any

from ..errors import LabError


class CannotRun(LabError):
    """This backend cannot run this model at this precision. The message is one line,
    the reason a bench row shows instead of numbers."""

    @property
    def reason(self) -> str:
        return self.message


class TimedEngine:
    """One loaded model: `infer(images) -> logits` (a copy), and `timed` around it.

    model: the model folder (for messages); create_ms: loading and compiling, untimed;
    applied: the settings it was created with, as [name, value] pairs; engine_cache: only
    Paddle's TensorRT plans have one."""

    model: str = ""
    create_ms: float = 0.0
    applied: list[Any] = []
    engine_cache: str | None = None

    def infer(self, images) -> Any:
        raise NotImplementedError

    def timed(self, images) -> tuple[Any, float]:
        """(logits, milliseconds): input copy + run + output copy."""
        t0 = time.perf_counter()
        out = self.infer(images)
        return out, (time.perf_counter() - t0) * 1000.0
