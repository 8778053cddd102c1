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

    inputs: what was timed: "sample-set" (input_count images of the dataset, loaded once,
    drawn in the order seeded by input_seed, cycled), "hot" (one batch timed again and
    again), "seeded-noise" (no dataset) or "dataset" (accuracy: every image once).
    Start-up: create_ms (predictor creation), first_run_ms (the first inference, untimed
    warm-up or not), warm_p50_ms (p50 of the timed runs). engine_cache: "built" or "loaded"
    when a TensorRT engine was serialized or read from its cache, None on the CPU or when
    the runner cannot tell; engine_build_ms / engine_load_ms: the creation time it took.
    peak_rss_mb: the largest resident set of the run (peak_rss_scope "run"; "process" when
    the peak could not be reset at the start of the run; "child process": the C++ demo's
    own VmHWM, which it prints at its end (or, from a demo that does not, read while it runs)).
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
    inputs: str = ""
    input_count: int | None = None
    input_seed: int | None = None
    create_ms: float | None = None
    first_run_ms: float | None = None
    warm_p50_ms: float | None = None
    engine_cache: str | None = None
    engine_build_ms: float | None = None
    engine_load_ms: float | None = None
    peak_rss_mb: float | None = None
    peak_rss_scope: str = ""
    config_calls: list[Any] = field(default_factory=list)  # the applied config plan
    runner_reason: str = ""                   # why this runner ran (--runner auto)
    provenance: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)      # e.g. the demo's JSON line
    backend: str = "paddle"                   # or a second-opinion engine (toolchain.backends)


# Fields of RunResult a runner's JSON (the C++ demo's last line) may carry under the same name.
MEASURED_FIELDS = ("inputs", "input_count", "input_seed", "create_ms", "first_run_ms",
                   "warm_p50_ms", "engine_cache", "engine_build_ms", "engine_load_ms",
                   "peak_rss_mb", "peak_rss_scope")
ENGINE_CACHE_STATES = ("built", "loaded")


def measured_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The MEASURED_FIELDS present in `data`, checked: LabError for a value of the wrong kind."""
    from ..errors import LabError

    out: dict[str, Any] = {}
    for name in MEASURED_FIELDS:
        value = data.get(name)
        if value is None:
            continue
        if name in ("inputs", "peak_rss_scope", "engine_cache"):
            ok = isinstance(value, str) and (name != "engine_cache"
                                             or value in ENGINE_CACHE_STATES)
        elif name in ("input_count", "input_seed"):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and value >= 0
        if not ok:
            raise LabError(f"the runner's JSON has a bad {name}: {value!r}",
                           hint="engine_cache is \"built\" or \"loaded\"; times and sizes are "
                                "numbers >= 0; rebuild the demo (`invoke build-demo`)")
        out[name] = value
    return out


def check_cache_hit(result: RunResult) -> None:
    """`--expect-cache-hit`: LabError unless the run loaded its TensorRT engine from the cache.

    Refused on the CPU (there is no engine to cache), and when the runner did not say."""
    from ..errors import LabError

    if result.device != "gpu":
        raise LabError(f"--expect-cache-hit checks a TensorRT engine cache, but this run was "
                       f"on the {result.device or 'unknown device'}: there is no engine to cache",
                       hint="leave --expect-cache-hit out on the CPU, or run with --device gpu")
    if result.engine_cache == "built":
        took = f" in {result.engine_build_ms:.0f} ms" if result.engine_build_ms else ""
        raise LabError(f"the TensorRT engine was built{took}, not loaded from its cache",
                       where=next((str(c[1]) for c in result.config_calls
                                   if c and c[0] == "set_optim_cache_dir" and len(c) > 1), None),
                       hint="an engine is rebuilt when the GPU, TensorRT, model, precision or "
                            "batch size changed (the cache key); run once to fill the cache, "
                            "then again with --expect-cache-hit")
    if result.engine_cache != "loaded":
        raise LabError(f"the {result.runner} runner did not say whether the TensorRT engine "
                       "was built or loaded from its cache",
                       hint="use --runner python (it watches the engine cache folder) or a "
                            "demo build that reports engine_cache")
