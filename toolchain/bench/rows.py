"""The bench result records: one PrecisionResult per precision, one BenchRow per group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results import JsonResult
from ..doctor.machine import MachineReading
from ..runners.result import LatencyStats
from .stability import Stability
from .tails import Tail

BASELINE = "fp32"
PADDLE = "paddle"


def variant_key(backend: str, precision: str) -> str:
    """How a measured variant is keyed: Paddle's by precision (the main table), another
    backend's as "backend:precision" (BenchRow.backends)."""
    return precision if backend == PADDLE else f"{backend}:{precision}"


@dataclass
class PrecisionResult(JsonResult):
    """One model at one batch size and precision: latency (stable windows) and accuracy."""

    precision: str
    model_dir: str
    model_sha256: str | None = None
    runner: str = ""
    runner_reason: str = ""
    device: str = ""
    threads: int = 0
    warmup: int = 0
    repeats: int = 0                          # per window
    latency_ms: LatencyStats | None = None    # of the used (last, stable) windows
    throughput_ips: float | None = None
    stability: Stability | None = None
    windows: list[LatencyStats] = field(default_factory=list)  # every window, in order
    tails: dict[str, Tail] = field(default_factory=dict)        # p90, p99: counts and bounds
    machine: list[MachineReading] = field(default_factory=list)  # per window, in order
    window_cov: list[float | None] = field(default_factory=list)  # None: no samples kept
    busy: bool = False                        # a used window ran on a busy machine
    top1: float | None = None                 # fraction
    top5: float | None = None
    images: int | None = None
    accuracy_runner: str = ""
    config_calls: list[Any] = field(default_factory=list)
    backend: str = PADDLE
    cannot_run: str = ""                      # why this backend has no numbers for it


@dataclass
class BenchRow(JsonResult):
    """One model at one batch size, every precision measured in the same interleaved rounds."""

    model: str
    kind: str                    # "trained" | "seeded" | "custom"
    note: str
    batch_size: int
    results: dict[str, PrecisionResult] = field(default_factory=dict)
    speedup: dict[str, float] = field(default_factory=dict)        # baseline p50 / p50
    reduction_pct: dict[str, float] = field(default_factory=dict)  # (1 - p50/baseline p50)*100
    top1_drop_pts: dict[str, float] = field(default_factory=dict)  # baseline top1 - top1, points
    backends: dict[str, PrecisionResult] = field(default_factory=dict)  # "openvino:int8": ...
    fastest: dict[str, str] = field(default_factory=dict)    # precision -> backend (--backends)

    @property
    def latency_only(self) -> bool:
        return all(r.top1 is None for r in self.results.values())

    def derive(self, baseline: str = BASELINE) -> "BenchRow":
        """Fill speedup, reduction and top-1 drop of every precision against `baseline`."""
        base = self.results.get(baseline)
        self.speedup, self.reduction_pct, self.top1_drop_pts = {}, {}, {}
        if base is None:
            return self
        for name, res in self.results.items():
            if name == baseline:
                continue
            if base.latency_ms and res.latency_ms and res.latency_ms.p50 > 0:
                self.speedup[name] = base.latency_ms.p50 / res.latency_ms.p50
                self.reduction_pct[name] = (1 - res.latency_ms.p50 / base.latency_ms.p50) * 100
            if base.top1 is not None and res.top1 is not None:
                self.top1_drop_pts[name] = (base.top1 - res.top1) * 100
        self.fastest = {}
        for precision, options in self.by_precision().items():
            timed = [r for r in options if r.latency_ms and r.latency_ms.p50 > 0]
            if len(options) > 1 and timed:
                self.fastest[precision] = min(timed, key=lambda r: r.latency_ms.p50).backend
        return self

    def by_precision(self) -> dict[str, list[PrecisionResult]]:
        """Each precision's results over the backends, Paddle's first."""
        out: dict[str, list[PrecisionResult]] = {}
        for res in [*self.results.values(), *self.backends.values()]:
            out.setdefault(res.precision, []).append(res)
        return out
