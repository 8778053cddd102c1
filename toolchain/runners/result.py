"""RunResult: what one run (latency or accuracy) measured, from either runner."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..results import JsonResult


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of an ascending list."""
    if not sorted_ms:
        return float("nan")
    pos = (len(sorted_ms) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo)


@dataclass
class LatencyStats(JsonResult):
    """Per-batch latency in milliseconds. The timer covers input copy, run and output copy."""

    count: int
    min: float
    mean: float
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float]) -> "LatencyStats":
        s = sorted(float(x) for x in samples_ms)
        if not s:
            raise ValueError("no latency samples")
        return cls(count=len(s), min=s[0], mean=sum(s) / len(s), p50=percentile(s, 50),
                   p90=percentile(s, 90), p99=percentile(s, 99), max=s[-1])

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LatencyStats":
        return cls(**{k: d[k] for k in ("count", "min", "mean", "p50", "p90", "p99", "max")})


@dataclass
class RunResult(JsonResult):
    """One run of a model, by one runner, on one device and precision.

    kind: "latency" (trt_clas / `invoke run`) or "accuracy" (test_acc / `invoke test-acc`).
    """

    kind: str
    runner: str                      # "cpp" | "python"
    model: str                       # model name or dir
    model_dir: str
    device: str                      # "cpu" | "gpu"
    precision: str                   # "fp32" | "fp16" | "int8"
    batch_size: int
    threads: int
    warmup: int = 0
    repeats: int = 0
    latency_ms: LatencyStats | None = None
    throughput_ips: float | None = None       # images per second
    images: int | None = None                 # accuracy runs: images scored
    top1: float | None = None                 # fraction in [0, 1]
    top5: float | None = None
    first_batch: dict[str, Any] | None = None  # {"predicted": [...], "labels": [...]}
    config_calls: list[Any] = field(default_factory=list)  # the applied config plan
    runner_reason: str = ""                   # why this runner ran (--runner auto)
    provenance: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)      # e.g. the demo's JSON line
