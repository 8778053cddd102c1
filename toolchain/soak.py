"""`invoke soak`: create, run and destroy a predictor N times; does the memory grow?

Each cycle creates a predictor (Python runner), runs a few batches drawn from the
sample set, destroys it, collects garbage and samples this process's resident set
(VmRSS) and, on a GPU, the process's GPU memory (nvidia-smi; with --runner cpp the
demo's own cycles, and the GPU's used memory as cudaMemGetInfo reads it). After the warm-up
cycles (allocator pools and first-use caches fill there) the RSS series is fitted
with a least-squares line; its slope per cycle comes with a confidence interval
(Student t), and the gate fails when the interval's lower bound is above
--max-slope-kb: the memory grew by more than that per cycle, beyond its noise.

Pure: fit_slope, t_two_sided, slope_gate, gpu_process_memory_mb. Edges: soak()
(the engine, /proc, nvidia-smi) and write_soak_files (soak.json, soak.png).
"""

from __future__ import annotations

import datetime as _dt
import gc
import math
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .errors import LabError
from .progress import NO_PROGRESS, ProgressSink
from .results import JsonResult
from .settings import LabSettings

DEFAULT_CYCLES = 50
DEFAULT_BATCHES = 5
DEFAULT_MAX_SLOPE_KB = 64.0
CONFIDENCE = 0.95


def warmup_cycles_for(cycles: int) -> int:
    """Cycles left out of the fit by default: a tenth, at least 2, and 3 points kept."""
    return max(0, min(max(2, cycles // 10), cycles - 3))


def _t_coverage(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with integer df (Abramowitz & Stegun 26.7.3/4)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 0:
        term = total = 1.0
        for k in range(2, df, 2):      # 1/2 c^2, (1*3)/(2*4) c^4, ...
            term *= c2 * (k - 1) / k
            total += term
        return math.sin(theta) * total
    if df == 1:
        return 2.0 * theta / math.pi
    term = total = math.cos(theta)
    for k in range(3, df - 1, 2):      # (2/3) c^3, (2*4)/(3*5) c^5, ...
        term *= c2 * (k - 1) / k
        total += term
    return 2.0 / math.pi * (theta + math.sin(theta) * total)


def t_two_sided(confidence: float, df: int) -> float:
    """The t with P(|T| <= t) = confidence (the CI's half width in standard errors)."""
    if df < 1 or not 0 < confidence < 1:
        raise ValueError("df >= 1 and 0 < confidence < 1")
    lo, hi = 0.0, 1.0
    while _t_coverage(hi, df) < confidence:
        hi *= 2.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_coverage(mid, df) < confidence else (lo, mid)
    return (lo + hi) / 2


@dataclass
class SlopeFit(JsonResult):
    """y = intercept + slope * x by least squares; [low, high] is the slope's interval at
    `confidence` (t with points - 2 degrees of freedom)."""

    slope: float
    intercept: float
    stderr: float
    low: float
    high: float
    confidence: float
    points: int


def fit_slope(xs: Sequence[float], ys: Sequence[float],
              confidence: float = CONFIDENCE) -> SlopeFit:
    """Least-squares line through (xs, ys) with the slope's confidence interval."""
    n = len(xs)
    if n != len(ys):
        raise ValueError("xs and ys differ in length")
    if n < 3:
        raise ValueError("a slope with a confidence interval needs at least 3 points")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("all xs are equal")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    intercept = my - slope * mx
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    stderr = math.sqrt(residual / (n - 2) / sxx)
    half = t_two_sided(confidence, n - 2) * stderr
    return SlopeFit(float(slope), float(intercept), float(stderr), float(slope - half),
                    float(slope + half), confidence, n)


def slope_gate(fit: SlopeFit, max_slope_kb: float, what: str = "RSS") -> tuple[bool, str]:
    """(passed, why): fails when even the interval's lower bound grows faster than allowed."""
    shown = (f"{what} slope {fit.slope:+.1f} KB/cycle ({100 * fit.confidence:.0f} % interval "
             f"{fit.low:+.1f} to {fit.high:+.1f}, {fit.points} cycles)")
    if fit.low > max_slope_kb:
        return False, f"{shown}: grows by more than {max_slope_kb:g} KB/cycle (a leak)"
    if fit.high > max_slope_kb:
        return True, (f"{shown}: not shown to grow by more than {max_slope_kb:g} KB/cycle, "
                      "but not ruled out either (run more cycles to narrow it)")
    return True, f"{shown}: below {max_slope_kb:g} KB/cycle"


def gpu_process_memory_mb(text: str, pid: int) -> float | None:
    """MiB used by `pid` in `nvidia-smi --query-compute-apps=pid,used_memory
    --format=csv,noheader,nounits` output (None when the process is not listed)."""
    total, seen = 0.0, False
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0] == str(pid):
            try:
                total += float(parts[1])
                seen = True
            except ValueError:
                continue
    return total if seen else None


def sample_gpu_memory_mb(timeout: float = 10) -> float | None:
    """This process's GPU memory through nvidia-smi (None when it cannot tell)."""
    try:
        proc = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                               "--format=csv,noheader,nounits"], capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return gpu_process_memory_mb(proc.stdout, os.getpid()) if proc.returncode == 0 else None


@dataclass
class SoakCycle(JsonResult):
    cycle: int                 # 1-based
    rss_kb: int                # VmRSS after the predictor was destroyed
    create_ms: float
    batch_p50_ms: float
    gpu_mb: float | None = None


@dataclass
class SoakResult(JsonResult):
    """N create/run/destroy cycles of one model and the memory slope after warm-up."""

    model: str
    model_dir: str
    runner: str
    device: str
    precision: str
    batch_size: int
    threads: int
    cycles: int
    batches: int                       # batches run per cycle
    warmup_cycles: int                 # left out of the fit
    inputs: str
    input_count: int
    input_seed: int | None
    max_slope_kb: float
    samples: list[SoakCycle] = field(default_factory=list)
    rss_fit: SlopeFit | None = None
    gpu_fit: SlopeFit | None = None
    passed: bool = True
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    out_dir: str = ""
    files: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


def soak(settings: LabSettings, model_dir, precision: str = "fp32", device: str = "auto",
         runner: str = "python", cycles: int = DEFAULT_CYCLES, batches: int = DEFAULT_BATCHES,
         warmup_cycles: int | None = None, max_slope_kb: float = DEFAULT_MAX_SLOPE_KB,
         batch_size: int = 1, threads: int | None = None, data_file: Path | None = None,
         sample_size: int = 64, seed: int = 0, out: Path | None = None,
         progress: ProgressSink = NO_PROGRESS, write_files: bool = True) -> SoakResult:
    """Run the soak and (write_files) write soak.json and soak.png to `out`
    (default <results_dir>/soak-<UTC timestamp>)."""
    from .runners.run import python_engine_spec
    from .runners.python_engine import Engine, load_sample_set, proc_status_kb
    from .runners.result import LatencyStats

    if runner not in ("python", "cpp"):
        raise LabError(f"--runner must be python or cpp, got {runner!r}",
                       hint="--runner python (in this process) or cpp (trt_clas --soak_cycles)")
    warm = warmup_cycles_for(cycles) if warmup_cycles is None else warmup_cycles
    if cycles - warm < 3 or warm < 0:
        raise LabError(f"--cycles {cycles} with {warm} warm-up cycles leaves "
                       f"{cycles - warm} to fit; the slope needs at least 3",
                       hint=f"use --cycles {warm + 3} or more, or fewer --warmup-cycles")
    if batches < 1:
        raise LabError("--batches must be at least 1")
    if proc_status_kb("VmRSS") is None:
        raise LabError("cannot read this process's resident set (/proc/self/status VmRSS)",
                       hint="soak measures memory through Linux /proc; run it on Linux")
    if runner == "cpp":
        result = _soak_cpp(settings, model_dir, precision, device, cycles, batches, warm,
                           max_slope_kb, batch_size, threads, data_file, sample_size, seed,
                           progress)
        return _finish(settings, result, out, write_files)
    spec = python_engine_spec(settings, model_dir, precision, device, batch_size, threads)
    if data_file is not None:
        from .models.inputs import check_dataset_fits_model
        check_dataset_fits_model(spec.files, data_file)
    from .data.binfmt import IMAGE_SHAPE
    from .models.inputs import static_image_shape

    inputs = load_sample_set(data_file, batch_size,
                             list(static_image_shape(spec.files) or IMAGE_SHAPE), False,
                             sample_size, seed)
    result = SoakResult(model=spec.model_name, model_dir=str(spec.files.dir), runner="python",
                        device=spec.device, precision=precision, batch_size=batch_size,
                        threads=spec.threads, cycles=cycles, batches=batches,
                        warmup_cycles=warm, inputs=inputs.mode, input_count=inputs.count,
                        input_seed=inputs.seed,
                        max_slope_kb=float(max_slope_kb), provenance=spec.provenance)
    gpu = spec.device == "gpu"
    if not gpu:
        result.notes.append("GPU memory not sampled: the run is on the CPU")
    number = 0
    with progress.track("soak", total=cycles, unit="cycles") as tracker:
        for cycle in range(1, cycles + 1):
            engine = Engine(spec.files, spec.plan)
            ms = []
            for _ in range(batches):
                ms.append(engine.timed(inputs.batch(batch_size, number)[0])[1])
                number += 1
            create_ms = engine.create_ms
            del engine
            gc.collect()
            sample = SoakCycle(cycle, proc_status_kb("VmRSS") or 0, create_ms,
                               LatencyStats.from_samples(ms).p50,
                               sample_gpu_memory_mb() if gpu else None)
            result.samples.append(sample)
            tracker.advance()
            tracker.update(note=f"RSS {sample.rss_kb / 1024:.0f} MB")
    return _finish(settings, result, out, write_files)


def _soak_cpp(settings: LabSettings, model_dir, precision: str, device: str, cycles: int,
              batches: int, warm: int, max_slope_kb: float, batch_size: int,
              threads: int | None, data_file: Path | None, sample_size: int, seed: int,
              progress: ProgressSink) -> SoakResult:
    """The cycles in the C++ demo's own process (trt_clas --soak_cycles): its RSS after each."""
    from .runners.run import run_cpp_soak

    run = run_cpp_soak(settings, model_dir, precision, device, batch_size, threads, cycles,
                       batches, data_file, (sample_size, seed), progress)
    result = SoakResult(model=run.model_name, model_dir=run.model_dir, runner="cpp",
                        device=run.device, precision=precision, batch_size=batch_size,
                        threads=run.threads, cycles=cycles, batches=batches,
                        warmup_cycles=warm,
                        inputs="sample-set" if data_file is not None else "seeded-noise",
                        input_count=sample_size if data_file is not None else batch_size,
                        input_seed=seed if data_file is not None else None,
                        max_slope_kb=float(max_slope_kb), provenance=run.provenance)
    result.samples = [SoakCycle(int(c["soak_cycle"]), int(c["rss_kb"]), float(c["create_ms"]),
                                float(c["batch_p50_ms"]), c.get("gpu_used_mb"))
                      for c in run.cycles]
    errors = sorted({c["gpu_error"] for c in run.cycles if c.get("gpu_error")})
    if run.device != "gpu":
        result.notes.append("GPU memory not sampled: the run is on the CPU")
    elif errors:
        result.notes.append(f"GPU memory not sampled: trt_clas said {'; '.join(errors)}")
    else:
        result.notes.append("GPU memory: the GPU's used memory after each cycle, as trt_clas "
                            "read it (cudaMemGetInfo: the whole device, other processes too)")
    return result


def _finish(settings: LabSettings, result: SoakResult, out: Path | None,
            write_files: bool) -> SoakResult:
    _judge(result)
    if write_files:
        if out is None:
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            out = settings.results_dir / f"soak-{stamp}"
        write_soak_files(result, Path(out))
    return result


def _judge(result: SoakResult) -> None:
    """Fit RSS (and GPU memory) over the cycles after warm-up and apply the gate."""
    fitted = result.samples[result.warmup_cycles:]
    xs = [float(s.cycle) for s in fitted]
    result.rss_fit = fit_slope(xs, [float(s.rss_kb) for s in fitted])
    result.passed, result.verdict = slope_gate(result.rss_fit, result.max_slope_kb)
    gpu = [(float(s.cycle), s.gpu_mb * 1024.0) for s in fitted if s.gpu_mb is not None]
    if result.device == "gpu" and len(gpu) < len(fitted):
        why = ("nvidia-smi did not list this process" if result.runner == "python"
               else "trt_clas could not read it")
        result.notes.append(f"GPU memory not sampled in every cycle ({why}): no GPU slope")
    elif gpu:
        result.gpu_fit = fit_slope([x for x, _ in gpu], [y for _, y in gpu])
        ok, why = slope_gate(result.gpu_fit, result.max_slope_kb, "GPU memory")
        result.passed = result.passed and ok
        result.verdict += "; " + why


def write_soak_files(result: SoakResult, out: Path) -> None:
    """soak.json and soak.png in `out` (each written to a temporary name, then renamed)."""
    from .fsio import atomic_output, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    result.out_dir = str(out)
    result.files = {"json": str(out / "soak.json"), "plot": str(out / "soak.png")}
    with atomic_output(out / "soak.png") as fh:
        plot_soak(result, fh)
    atomic_write_text(out / "soak.json", result.to_json() + "\n")


def plot_soak(result: SoakResult, fh) -> None:
    """RSS (and GPU memory) per cycle, warm-up shaded, the fitted line and its verdict."""
    import logging

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("RSS after each cycle, MB", [s.rss_kb / 1024.0 for s in result.samples],
               result.rss_fit, "#4c72b0")]
    if result.gpu_fit is not None:
        series.append(("GPU memory after each cycle, MB",
                       [(s.gpu_mb or 0.0) for s in result.samples], result.gpu_fit, "#55a868"))
    fig, axes = plt.subplots(len(series), 1, figsize=(8, 3.2 * len(series)), squeeze=False)
    cycles = [s.cycle for s in result.samples]
    for ax, (label, ys, fit, color) in zip(axes[:, 0], series):
        ax.plot(cycles, ys, "o-", ms=2.5, lw=0.8, color=color, label="sample", zorder=2)
        if result.warmup_cycles:
            ax.axvspan(0.5, result.warmup_cycles + 0.5, color="0.9",
                       label=f"warm-up ({result.warmup_cycles} cycles, not fitted)")
        if fit is not None:
            xs = [c for c in cycles if c > result.warmup_cycles]
            growth = fit.slope * (len(xs) - 1) / 1024.0
            ax.plot(xs, [(fit.intercept + fit.slope * x) / 1024.0 for x in xs], "--",
                    color="#c44e52", lw=1.8, zorder=3,
                    label=f"fit {fit.slope:+.1f} KB/cycle, {100 * fit.confidence:.0f} % "
                          f"[{fit.low:+.1f}, {fit.high:+.1f}] ({growth:+.1f} MB over "
                          f"{len(xs)} cycles)")
        spread = max(ys) - min(ys)
        pad = max(spread * 0.15, 1.0)        # never magnify a flat line into a slope
        ax.set_ylim(min(ys) - pad, max(ys) + pad)
        ax.set_xlim(0.5, max(cycles) + 0.5)
        ax.set_xlabel("cycle (create, run, destroy)")
        ax.set_ylabel(label.split(" after")[0] + ", MB")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    verdict = "passed" if result.passed else "FAILED"
    fig.suptitle(f"soak: {result.model} {result.precision} on {result.device}, "
                 f"{result.cycles} cycles x {result.batches} batches: {verdict} "
                 f"(gate {result.max_slope_kb:g} KB/cycle)", fontsize=10,
                 color="black" if result.passed else "#c44e52")
    fig.tight_layout()
    fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
