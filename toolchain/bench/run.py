"""`run_bench`: every model's precisions measured interleaved until stable, then reported.

Per (model, batch size) group: latency windows of FP32 and INT8 alternate (ABBA,
see schedule.py) until the stability rule holds or the group's time budget ends;
accuracy is measured once per model and precision on the dataset (trained and
custom models; seeded zoo models are latency only). The report, its gates and
the optional comparison are written to results/<timestamp>/.
"""

from __future__ import annotations

import datetime as _dt
import math
import shutil
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .. import flags
from ..errors import LabError
from ..doctor.machine import MachineReading, MachineSampler
from ..results import JsonResult
from ..runners.result import LatencyStats, RunResult
from ..settings import BenchSettings, LabSettings
from . import gates as gates_mod
from .compare import (SPEED_TOLERANCE, compare, load_history, load_report,
                      speed_change)
from .files import write_files
from .report import BenchReport
from .rows import BASELINE, PADDLE, BenchRow, PrecisionResult, variant_key
from .stability import StabilityRule, measure_interleaved
from .tails import (FLOORS, QUANTILES, Tail, cov, extended_repeats, tail_from_percentiles,
                    tail_from_samples)

PRECISIONS = ("fp32", "fp16", "int8", "bf16")
RUNNERS = ("auto", "cpp", "python")
DEVICES = ("auto", "cpu", "gpu")


@dataclass
class BenchRequest(JsonResult):
    models: list[str] = field(default_factory=list)   # empty: every model quickstart made
    precisions: list[str] = field(default_factory=lambda: ["fp32", "int8"])
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    runner: str = "auto"
    device: str = "auto"
    repeats: int = BenchSettings.repeats   # timed runs per window (at least)
    min_window_s: float = 0.5    # fast models get more runs per window, up to 20 x repeats
    warmup: int = BenchSettings.warmup     # untimed runs before each window
    threads: int | None = None   # None: the runner's default
    windows: int = 3
    tolerance: float = BenchSettings.tolerance
    time_budget_s: float = BenchSettings.time_budget  # per (model, batch size) group
    max_rounds: int = 10
    data_file: str | None = None     # None: <work_dir>/data/val.bin
    accuracy_limit: int | None = None
    accuracy_batch_size: int = 8
    out: str | None = None       # None: <results_dir>/<timestamp>/
    gate_top1_drop: float | None = None
    gate_speedup: float | None = None
    compare: str | None = None
    parity: bool = False         # C++ rows: the python runner as a second column, gated
    backends: list[str] = field(default_factory=lambda: [PADDLE])   # paddle always first

    @classmethod
    def from_settings(cls, settings: LabSettings) -> "BenchRequest":
        """Defaults from the `lab.bench` section of invoke.yaml."""
        sec = settings.bench
        return cls(repeats=sec.repeats, warmup=sec.warmup, tolerance=sec.tolerance,
                   time_budget_s=sec.time_budget)

    def rule(self) -> StabilityRule:
        return StabilityRule(windows=self.windows, tolerance=self.tolerance,
                             time_budget_s=self.time_budget_s, max_rounds=self.max_rounds)

    def other_backends(self) -> list[tuple[str, str]]:
        """(backend, precision) of every variant measured besides Paddle's."""
        return [(b, p) for b in self.backends if b != PADDLE for p in self.precisions]


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_backends(text: str) -> list[str]:
    """"openvino,onnxruntime" -> ["paddle", "openvino", "onnxruntime"]: Paddle is always
    measured (the main table, and what the others are compared with)."""
    from ..backends import BACKENDS

    names = [b.lower() for b in _split(text)]
    bad = [b for b in names if b not in BACKENDS]
    if bad or not names:
        raise LabError(f"unknown backend(s) {', '.join(bad) or '(none given)'}",
                       hint=f"--backends takes a comma list of {', '.join(BACKENDS)}, e.g. "
                            "--backends paddle,openvino")
    return list(dict.fromkeys([PADDLE, *names]))


def parse_request(models: str | None = None, precisions: str | None = None,
                  batch_sizes: str | None = None, runner: str | None = None,
                  device: str | None = None, repeats: Any = None, warmup: Any = None,
                  threads: Any = None, time_budget: Any = None, tolerance: Any = None,
                  data_file: str | None = None, limit: Any = None, out: str | None = None,
                  gate_top1_drop: Any = None, gate_speedup: Any = None,
                  compare: str | None = None, backends: str | None = None,
                  defaults: BenchRequest | None = None) -> BenchRequest:
    """The task's flag strings -> a checked BenchRequest (LabError on bad input)."""
    req = defaults or BenchRequest()
    if models is not None:
        req.models = _split(models)
    if precisions is not None:
        precs = [p.lower() for p in _split(precisions)]
        bad = [p for p in precs if p not in PRECISIONS]
        if bad or not precs:
            raise LabError(f"unknown precision(s) {', '.join(bad) or '(none given)'}",
                           hint="--precisions takes a comma list of fp32, fp16, int8, bf16, "
                                "e.g. --precisions fp32,int8")
        req.precisions = list(dict.fromkeys(precs))
    if batch_sizes is not None:
        req.batch_sizes = flags.BATCH_SIZES.parse(batch_sizes, "batch-sizes")
    for name, value, allowed in (("runner", runner, RUNNERS), ("device", device, DEVICES)):
        if value is not None:
            if value not in allowed:
                raise LabError(f"--{name} must be one of {', '.join(allowed)}, got {value!r}",
                               hint=f"e.g. --{name} {allowed[0]}")
            setattr(req, name, value)
    # the ranges are toolchain.flags' (the task has checked them already; API callers not)
    for attr, value, spec, name in (
            ("repeats", repeats, flags.REPEATS, "repeats"),
            ("warmup", warmup, flags.WARMUP, "warmup"),
            ("threads", threads, flags.THREADS, "threads"),
            ("time_budget_s", time_budget, flags.SECONDS, "time-budget"),
            ("tolerance", tolerance, flags.TOLERANCE, "tolerance"),
            ("accuracy_limit", limit, flags.LIMIT, "limit"),
            # negative = the other precision must beat FP32 by that many points
            ("gate_top1_drop", gate_top1_drop, flags.TOP1_DROP, "gate-top1-drop"),
            ("gate_speedup", gate_speedup, flags.SPEEDUP, "gate-speedup")):
        if value is not None:
            setattr(req, attr, spec.parse(value, name))
    if data_file is not None:
        req.data_file = data_file
    if out is not None:
        req.out = out
    if compare is not None:
        req.compare = compare
    if backends is not None:
        req.backends = parse_backends(backends)
    if req.other_backends() and req.device == "gpu":
        raise LabError(f"--backends {','.join(req.backends)} compares engines on the CPU; "
                       "got --device gpu", hint="use --device cpu (or auto), or --backends paddle")
    if (req.gate_top1_drop is not None or req.gate_speedup is not None) \
            and (BASELINE not in req.precisions or len(req.precisions) < 2):
        raise LabError("the gates compare against fp32: --precisions must hold fp32 and "
                       "another precision", hint="e.g. --precisions fp32,int8")
    return req


def model_subdir(precision: str) -> str:
    """The model folder a precision runs: BF16 runs the FP32 model (oneDNN bfloat16)."""
    return BASELINE if precision == "bf16" else precision


def _missing_dirs_hint(name: str, kind: str, base: Path, missing: list[str]) -> str:
    """The first command that makes each missing folder (a zoo name can be exported; a
    custom folder needs its FP32 model put there), then quickstart as the all-in-one."""
    steps = []
    if BASELINE in missing:
        steps.append(f"run `invoke models --export {name}`" if kind != "custom" else
                     f"put the FP32 model (model.pdmodel + model.pdiparams) in {base / BASELINE}")
    if any(p != BASELINE for p in missing):
        steps.append(f"run `invoke quantize --model-dir {base / BASELINE} --out "
                     f"{base / 'int8'}`")
    return ", then ".join(steps) + "; or run `invoke quickstart`"


@dataclass
class ModelTarget:
    name: str
    kind: str            # "trained" | "seeded" | "custom"
    note: str
    dirs: dict[str, Path]


def _zoo_specs() -> dict[str, Any]:
    try:
        from ..models.zoo import list_models
    except ImportError:
        return {}
    return {spec.name: spec for spec in list_models()}


def models_root(settings: LabSettings) -> Path:
    return settings.work_dir / "models"


def resolve_models(settings: LabSettings, names: Sequence[str],
                   precisions: Sequence[str]) -> list[ModelTarget]:
    """Zoo names (their <work_dir>/models/<name>/<precision>/ dirs) or folders holding
    <precision>/ sub-folders. No names: every model quickstart or `invoke models` made."""
    from ..models.inputs import check_same_inputs
    from ..models.layout import find_model_files

    specs = _zoo_specs()
    root = models_root(settings)
    if not names:
        found = [n for n in specs if (root / n / BASELINE).is_dir()]
        found += sorted(p.name for p in root.glob("*") if p.is_dir() and p.name not in specs
                        and (p / BASELINE).is_dir()) if root.is_dir() else []
        if not found:
            raise LabError(f"no models to bench in {root}",
                           hint="run `invoke quickstart`, or export and quantize one "
                                "(`invoke models --export NAME`, `invoke quantize ...`), "
                                "or pass --models DIR with fp32/ and int8/ folders")
        names = found
    targets = []
    for name in names:
        path = Path(name)
        if name in specs or (not path.is_absolute() and (root / name).is_dir()):
            spec = specs.get(name)
            base, kind = root / name, getattr(spec, "kind", "custom") if spec else "custom"
            note = getattr(spec, "note", "") if spec else ""
        elif path.is_dir():
            base, kind, note, name = path, "custom", "", path.resolve().name
        else:
            known = ", ".join(specs) or "(model zoo not installed)"
            raise LabError(f"unknown model {name!r}", where=str(path),
                           hint=f"pass a zoo name ({known}) or a folder with fp32/ and "
                                "int8/ sub-folders")
        dirs = {p: base / model_subdir(p) for p in precisions}
        missing = list(dict.fromkeys(d.name for d in dirs.values() if not d.is_dir()))
        if missing:
            raise LabError(f"model {name} has no {', '.join(missing)} folder",
                           where=str(base),
                           hint=_missing_dirs_hint(name, kind, base, missing))
        check_same_inputs({f"{name} {d.name}": find_model_files(d)
                           for d in dict.fromkeys(dirs.values())})
        targets.append(ModelTarget(name, kind, note, dirs))
    return targets


def combine_windows(windows: Sequence[RunResult]
                    ) -> tuple[LatencyStats, float | None, dict[str, Tail]]:
    """One statistic from the used windows: pooled samples when the runner kept them
    (raw["samples_ms"]), else each statistic's median across windows. The tails say
    how many samples each percentile rests on (pooled: all; medians: the smallest
    window) and a tail below its floor is not reported (null in the stats)."""
    samples = [w.raw.get("samples_ms") for w in windows]
    if all(isinstance(s, list) and s for s in samples):
        pooled = [x for s in samples for x in s]
        stats = LatencyStats.from_samples(pooled)
        tails = {k: tail_from_samples(k, pooled, getattr(stats, k)) for k in FLOORS}
    else:
        lats = [w.latency_ms for w in windows]
        stats = LatencyStats(
            count=sum(l.count for l in lats),
            **{k: statistics.median(getattr(l, k) for l in lats)
               for k in ("min", "mean", "p50", "p90", "p99", "max")})
        points = {0.0: stats.min, 0.5: stats.p50, **{QUANTILES[k]: getattr(stats, k)
                                                      for k in FLOORS}, 1.0: stats.max}
        basis = min(l.count for l in lats)
        tails = {k: tail_from_percentiles(k, basis, points, getattr(stats, k)) for k in FLOORS}
    for name, tail in tails.items():
        if not tail.reported:
            setattr(stats, name, None)
    tps = [w.throughput_ips for w in windows if w.throughput_ips is not None]
    return stats, (statistics.median(tps) if tps else None), tails


def window_cov(window: RunResult) -> float | None:
    """The window's coefficient of variation, when the runner kept its samples."""
    samples = window.raw.get("samples_ms")
    return cov(samples) if isinstance(samples, list) else None


def window_repeats(p50_ms: float, req: BenchRequest, variants: int | None = None) -> int:
    """Runs per window so that a window lasts about `min_window_s` (short windows of a
    sub-millisecond model are all noise), between `repeats` and 20 x `repeats`; then
    raised to a tail floor (p99: 662, p90: 64 samples) when the time budget allows."""
    if p50_ms <= 0:
        return req.repeats
    wanted = math.ceil(req.min_window_s * 1000.0 / p50_ms)
    wanted = max(req.repeats, min(wanted, 20 * req.repeats))
    return extended_repeats(p50_ms, wanted, req.windows, variants or len(req.precisions),
                            req.time_budget_s)


def default_data_file(settings: LabSettings) -> Path:
    return settings.work_dir / "data" / "val.bin"


def _out_dir(settings: LabSettings, req: BenchRequest, now: _dt.datetime) -> Path:
    if req.out:
        return Path(req.out).expanduser().resolve()
    base = settings.results_dir / now.strftime("%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _accuracy(settings: LabSettings, req: BenchRequest, target: ModelTarget, data_file: Path,
              say: Callable, cannot: dict[str, str]) -> dict[str, RunResult]:
    """top-1/top-5 per variant, once per model (the same for every batch size); a backend
    that fails on the dataset joins `cannot`."""
    from ..backends import CannotRun
    from ..runners.run import run_accuracy

    out = {}
    threads_kw = {"threads": req.threads} if req.threads else {}
    for backend, p in [(PADDLE, p) for p in req.precisions] + req.other_backends():
        key = variant_key(backend, p)
        if key in cannot:
            continue
        say(f"{target.name} {key}: accuracy on {data_file.name}")
        try:
            out[key] = run_accuracy(settings, target.dirs[p], data_file, p, device=req.device,
                                    runner=req.runner, batch_size=req.accuracy_batch_size,
                                    limit=req.accuracy_limit, predictions=req.parity,
                                    backend=backend, **threads_kw)
        except CannotRun as err:
            if backend == PADDLE:
                raise
            cannot[key] = err.reason
    return out


def _backend_probe(settings: LabSettings, req: BenchRequest, target: ModelTarget,
                   data_file: Path | None, say: Callable) -> dict[str, str]:
    """Load every other backend's variant once (untimed; ONNX conversion happens here):
    key -> why it cannot run, for those that cannot."""
    from ..backends import CannotRun
    from ..runners.run import run_latency

    cannot = {}
    threads_kw = {"threads": req.threads} if req.threads else {}
    for backend, p in req.other_backends():
        key = variant_key(backend, p)
        say(f"{target.name} {key}: loading")
        try:
            run_latency(settings, target.dirs[p], p, runner="python", device="cpu",
                        batch_size=req.batch_sizes[0], warmup=0, repeats=1,
                        data_file=data_file, backend=backend, **threads_kw)
        except CannotRun as err:
            cannot[key] = err.reason
            say(f"{target.name} {key}: cannot run: {err.reason}")
    return cannot


def _disagreements(a: Sequence[int] | None, b: Sequence[int] | None) -> list[int]:
    """Indices where two prediction lists differ (a length difference counts)."""
    a, b = list(a or []), list(b or [])
    return [i for i in range(max(len(a), len(b)))
            if i >= len(a) or i >= len(b) or a[i] != b[i]]


def _spread(values: Sequence[float]) -> float:
    return (max(values) - min(values)) / 2 if values else 0.0


def _parity(settings: LabSettings, req: BenchRequest, target: ModelTarget, data_file: Path | None,
            accuracy: dict[str, RunResult], windows: dict, say: Callable) -> list[dict]:
    """The python runner on the same model and dataset as the C++ rows: predictions and
    top-1 must agree exactly; p50 latency difference with its noise (half the spread of
    each runner's window p50s, the larger of the two)."""
    from ..runners.run import run_accuracy, run_latency

    threads_kw = {"threads": req.threads} if req.threads else {}
    checks = []
    for p in req.precisions:
        cpp_windows = [w for w in windows.get(p, []) if w.runner == "cpp"]
        if not cpp_windows:
            continue
        say(f"{target.name} {p}: python runner for parity")
        check: dict[str, Any] = {"model": target.name, "precision": p, "passed": True,
                                 "value": 0.0}
        cpp_acc = accuracy.get(p)
        if cpp_acc is not None and data_file is not None:
            py_acc = run_accuracy(settings, target.dirs[p], data_file, p, device=req.device,
                                  runner="python", batch_size=req.accuracy_batch_size,
                                  limit=req.accuracy_limit, predictions=True,
                                  **threads_kw)
            cpp_pred, py_pred = cpp_acc.raw.get("predictions"), py_acc.raw.get("predictions")
            bad = _disagreements(cpp_pred, py_pred) if cpp_pred and py_pred else None
            check.update(cpp_top1=cpp_acc.top1, python_top1=py_acc.top1,
                         images=len(cpp_pred or []), differing=bad if bad is not None else [])
            if bad is None:
                check.update(passed=False, why="a runner returned no predictions")
            elif bad or cpp_acc.top1 != py_acc.top1:
                check.update(passed=False, value=float(len(bad)),
                             why=f"{len(bad)} of {max(len(cpp_pred), len(py_pred))} "
                                 f"predictions differ (first at image {bad[:5]})"
                             if bad else "top-1 differs")
        else:   # latency-only model: the first batch's predictions of the latency runs
            first_cpp = (cpp_windows[-1].first_batch or {}).get("predicted")
            check["first_batch_cpp"] = first_cpp
        py_windows = []
        for _ in range(max(1, req.windows)):
            py_windows.append(run_latency(
                settings, target.dirs[p], p, device=req.device, runner="python",
                batch_size=cpp_windows[-1].batch_size, warmup=req.warmup,
                repeats=cpp_windows[-1].repeats, hot=cpp_windows[-1].inputs == "hot",
                data_file=data_file, **threads_kw))
        if "first_batch_cpp" in check:
            first_py = (py_windows[-1].first_batch or {}).get("predicted")
            if check["first_batch_cpp"] and first_py and check["first_batch_cpp"] != first_py:
                check.update(passed=False, value=1.0,
                             why=f"first batch predictions differ: C++ {check['first_batch_cpp']}"
                                 f" vs Python {first_py}")
        cpp_p50 = [w.latency_ms.p50 for w in cpp_windows[-max(1, req.windows):]]
        py_p50 = [w.latency_ms.p50 for w in py_windows]
        check.update(cpp_p50_ms=statistics.median(cpp_p50), python_p50_ms=statistics.median(py_p50),
                     noise_ms=max(_spread(cpp_p50), _spread(py_p50)))
        checks.append(check)
    return checks


def parity_gate(checks: list[dict]) -> "gates_mod.GateResult":
    """C++ and python agree exactly on every checked model and precision."""
    if not checks:
        return gates_mod.GateResult("parity", 0.0, False,
                                    "nothing to check: no row ran through the C++ demo", checks)
    failed = [c for c in checks if not c["passed"]]
    if failed:
        return gates_mod.GateResult("parity", 0.0, False, "C++ and Python differ: " + "; ".join(
            f"{c['model']} {c['precision']}: {c.get('why', '')}" for c in failed), checks)
    return gates_mod.GateResult("parity", 0.0, True, f"{len(checks)} checked: C++ and Python "
                                "predictions and top-1 identical", checks)


def _latency(settings: LabSettings, req: BenchRequest, target: ModelTarget, batch_size: int,
             data_file: Path | None, say: Callable, variants: Sequence[tuple[str, str]]
             ) -> tuple[dict, dict, dict]:
    """Interleaved latency windows of every (backend, precision) variant until stable (see
    stability.py), each with the machine's state over it (readings: one per window, in
    order). Keyed by variant_key."""
    from ..runners.run import run_latency

    threads_kw = {"threads": req.threads} if req.threads else {}
    spec = {variant_key(b, p): (b, p) for b, p in variants}
    reps = {key: req.repeats for key in spec}
    sampler = machine_sampler(req)

    def measure(key: str) -> RunResult:
        backend, precision = spec[key]
        where = {} if backend == PADDLE else {"runner": "python", "device": "cpu"}
        sampler.start()
        res = run_latency(settings, target.dirs[precision], precision,
                          **{"device": req.device, "runner": req.runner, **where},
                          batch_size=batch_size, warmup=req.warmup, repeats=reps[key],
                          data_file=data_file, backend=backend, **threads_kw)
        readings[key].append(sampler.stop())
        reps[key] = window_repeats(res.latency_ms.p50, req, len(spec))
        return res

    def on_window(key: str, rnd: int, res: RunResult) -> None:
        say(f"{target.name} b{batch_size} round {rnd + 1} {key}: p50 "
            f"{res.latency_ms.p50:.3f} ms", transient=True)

    readings: dict[str, list[MachineReading]] = {key: [] for key in spec}
    windows, stability = measure_interleaved(measure, lambda r: r.latency_ms.p50,
                                             list(spec), req.rule(), on_window=on_window)
    return windows, stability, readings


def machine_sampler(req: BenchRequest) -> MachineSampler:
    """nvidia-smi only where a GPU may run (device gpu, or auto on a host that has it)."""
    gpu = req.device == "gpu" or (req.device == "auto" and shutil.which("nvidia-smi") is not None)
    return MachineSampler(gpu=gpu)


def _row(target: ModelTarget, batch_size: int, variants: Sequence[tuple[str, str]],
         windows: dict, stability: dict, readings: dict, accuracy: dict, shas: dict,
         cannot: dict[str, str]) -> BenchRow:
    row = BenchRow(model=target.name, kind=target.kind, note=target.note, batch_size=batch_size)
    for backend, p in variants:
        key = variant_key(backend, p)
        into = row.results if backend == PADDLE else row.backends
        if key in cannot:
            into[key] = PrecisionResult(precision=p, model_dir=str(target.dirs[p]),
                                        model_sha256=shas[p], backend=backend,
                                        cannot_run=cannot[key])
            continue
        n_used = stability[key].used_windows
        used = windows[key][-n_used:]
        stats, tps, tails = combine_windows(used)
        last, acc = used[-1], accuracy.get(key)
        into[key] = PrecisionResult(
            precision=p, model_dir=str(target.dirs[p]), model_sha256=shas[p],
            runner=last.runner, runner_reason=last.runner_reason, device=last.device,
            threads=last.threads, warmup=last.warmup, repeats=last.repeats,
            latency_ms=stats, throughput_ips=tps, stability=stability[key],
            windows=[w.latency_ms for w in windows[key]],
            tails=tails, machine=readings[key],
            window_cov=[window_cov(w) for w in windows[key]],
            busy=any(r.busy for r in readings[key][-n_used:]),
            top1=acc.top1 if acc else None, top5=acc.top5 if acc else None,
            images=acc.images if acc else None, accuracy_runner=acc.runner if acc else "",
            config_calls=last.config_calls, backend=backend)
    return row.derive()


def run_bench(settings: LabSettings, req: BenchRequest,
              progress: Callable[..., None] | None = None) -> BenchReport:
    """Measure, gate, compare and write the bench files.

    `progress(text, transient=False)` gets status lines (transient: one window's p50).
    """
    from .provenance import collect, model_sha256

    started = time.monotonic()
    say = progress or (lambda text, transient=False: None)
    old = load_report(Path(req.compare)) if req.compare else None
    if req.other_backends():
        from ..backends import require_installed

        require_installed(req.backends)
    targets = resolve_models(settings, req.models, req.precisions)
    data_file = Path(req.data_file) if req.data_file else default_data_file(settings)
    if req.data_file and not data_file.exists():
        raise LabError("the data file does not exist", where=str(data_file),
                       hint="run `invoke preprocess` or `invoke quickstart`, or pass --data-file")
    have_data = data_file.exists()
    notes: list[str] = []
    if not have_data:
        notes.append(f"no dataset at {data_file}: latency only, no accuracy")

    from ..doctor.machine import SPEED_PROBE, speed_probe_ms

    speed = {"probe": SPEED_PROBE, "start_ms": round(speed_probe_ms(), 4)}
    rows: list[BenchRow] = []
    parity: list[dict] = []
    for target in targets:
        shas = {p: model_sha256(d) for p, d in target.dirs.items()}
        cannot = _backend_probe(settings, req, target, data_file if have_data else None, say)
        accuracy = (_accuracy(settings, req, target, data_file, say, cannot)
                    if have_data and target.kind != "seeded" else {})
        variants = [(PADDLE, p) for p in req.precisions] + req.other_backends()
        for bs in req.batch_sizes:
            runnable = [v for v in variants if variant_key(*v) not in cannot]
            windows, stability, readings = _latency(settings, req, target, bs,
                                                    data_file if have_data else None, say,
                                                    runnable)
            rows.append(_row(target, bs, variants, windows, stability, readings,
                             accuracy, shas, cannot))
            if req.parity and bs == req.batch_sizes[0]:
                parity += _parity(settings, req, target, data_file if have_data else None,
                                  accuracy, windows, say)
            st = stability[req.precisions[0]]
            say(f"{target.name} b{bs}: {st.windows} rounds, {st.reason}")
    runners = {r.runner for row in rows for r in row.results.values()}
    reasons = {r.runner_reason for row in rows for r in row.results.values() if r.runner_reason}
    notes += [f"runner: {', '.join(sorted(runners))}" + (f" ({'; '.join(sorted(reasons))})"
                                                          if reasons else "")]
    speed["end_ms"] = round(speed_probe_ms(), 4)
    drift = speed_change(speed["start_ms"], speed["end_ms"])
    if abs(drift) > SPEED_TOLERANCE:
        notes.append(f"the machine's own speed changed by {drift * 100:+.0f} % during the run "
                     f"({SPEED_PROBE}: {speed['start_ms']:.3f} -> {speed['end_ms']:.3f}): "
                     "rerun on a quiet machine before quoting these numbers")
    now = _dt.datetime.now(_dt.timezone.utc)
    report = BenchReport(
        created_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), out_dir="", request=req.to_dict(),
        rule=req.rule(), rows=rows, notes=notes,
        provenance=collect(settings, {t.name: t.dirs for t in targets},
                           data_file if have_data else None))
    report.provenance["machine_speed"] = speed
    report.gates = gates_mod.evaluate(rows, req.gate_top1_drop, req.gate_speedup)
    if req.parity:
        report.parity = parity
        report.gates.append(parity_gate(parity))
    report.passed = all(g.passed for g in report.gates)
    if old is not None:
        report.comparison = compare(report.to_dict(), old, old_file=str(req.compare),
                                    history=load_history(settings.results_dir))
    report.elapsed_s = round(time.monotonic() - started, 2)
    write_files(report, _out_dir(settings, req, now))
    return report
