"""`invoke quickstart`: the whole path on the embedded default, offline, on this machine.

doctor -> sample data (real images) -> preprocess (train.bin, val.bin) -> models
(the trained small classifier; the tutorial's architectures, seeded, latency
only) -> quantize (INT8) -> fetch-lib (from the installed wheel when no C++ library is
installed and no mirror is set) -> build-demo -> bench through the C++ demo, with
the python runner as a parity column (else the python runner alone, saying why).

Re-running reuses what is done: each step leaves a stamp in
<work_dir>/quickstart/<step>.json with the digest of its inputs (parameters,
versions, the sha256 of what it reads) and of its outputs. A step is skipped
when its stamp matches the current inputs and its outputs still hash to the
recorded values; otherwise it runs again (and so does every step that reads
what it makes, since their input digests change). Bench always measures again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .errors import LabError
from .results import JsonResult, jsonable
from .settings import LabSettings, QuickstartSettings
from .state import write_json_atomic

# Post-training quantization per model kind: (algo, batch_size, batch_nums) on train images.
# KL needs a histogram of every activation (minutes for MobileNet on 2 cores); the seeded
# models are latency only, and INT8 latency does not depend on how the scales were chosen.
CALIBRATION = {"trained": ("KL", 10, 10), "seeded": ("avg", 10, 2)}

RAN, REUSED, SKIPPED = "ran", "reused", "skipped"


@dataclass
class StepRecord(JsonResult):
    name: str
    status: str                  # "ran" | "reused" | "skipped"
    seconds: float
    detail: str = ""
    outputs: dict[str, str] = field(default_factory=dict)    # label -> path
    digests: dict[str, str] = field(default_factory=dict)    # label -> sha256


@dataclass
class QuickstartResult(JsonResult):
    steps: list[StepRecord] = field(default_factory=list)
    runner_note: str = ""
    bench: Any = None            # BenchReport
    elapsed_s: float = 0.0
    work_dir: str = ""

    @property
    def passed(self) -> bool:
        return self.bench is None or self.bench.passed

    def to_dict(self) -> dict:
        from .bench.report import finite

        return finite(super().to_dict())


@dataclass
class QuickstartRequest:
    """What one quickstart run does: `lab.quickstart` with the --models flag over it."""

    models: list[str]
    repeats: int = QuickstartSettings.repeats
    warmup: int = QuickstartSettings.warmup
    time_budget_s: float = QuickstartSettings.time_budget
    samples: int | None = None   # sample images (None: sample-data's default)

    @classmethod
    def from_settings(cls, sec: QuickstartSettings, models: str | None = None
                      ) -> "QuickstartRequest":
        names = [m.strip() for m in (models or sec.models).split(",") if m.strip()]
        return cls(models=names, repeats=sec.repeats, warmup=sec.warmup,
                   time_budget_s=sec.time_budget, samples=sec.samples or None)


# ---- stamps ---------------------------------------------------------------------------

def digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (names and contents)."""
    from .fsio import sha256_tree

    return sha256_tree(Path(path))


def code_digest(*modules: str) -> str:
    """sha256 over the source of the modules a step runs: a code change re-runs the step."""
    import hashlib
    import importlib.util

    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            h.update(name.encode() + b"\0" + Path(spec.origin).read_bytes())
    return h.hexdigest()


def _paddle_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("paddlepaddle", "paddlepaddle-gpu"):
        try:
            return f"{dist} {version(dist)}"
        except PackageNotFoundError:
            continue
    return "none"


class Stamps:
    """<work_dir>/quickstart/<step>.json: inputs and output digests of a finished step."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def fresh(self, name: str, inputs: dict, outputs: dict[str, Path]) -> dict | None:
        """The stamp when the step can be skipped: same inputs, outputs unchanged."""
        try:
            stamp = json.loads(self.path(name).read_text())
        except (FileNotFoundError, ValueError):
            return None
        if stamp.get("inputs") != jsonable(inputs):
            return None
        recorded = stamp.get("digests") or {}
        for label, path in outputs.items():
            if not Path(path).exists() or recorded.get(label) != digest(path):
                return None
        return stamp

    def save(self, name: str, inputs: dict, outputs: dict[str, Path], detail: str,
             extra: dict | None = None) -> dict:
        stamp = {"step": name, "inputs": jsonable(inputs),
                 "outputs": {k: str(v) for k, v in outputs.items()},
                 "digests": {k: digest(v) for k, v in outputs.items()},
                 "detail": detail, "extra": jsonable(extra or {}),
                 "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_json_atomic(self.path(name), stamp)
        return stamp


class Pipeline:
    """Runs steps in order, skipping the ones whose stamp is fresh."""

    def __init__(self, settings: LabSettings, say: Callable[[str], None]):
        self.settings = settings
        self.stamps = Stamps(settings.work_dir / "quickstart")
        self.say = say
        self.records: list[StepRecord] = []

    def step(self, name: str, inputs: dict, outputs: dict[str, Path],
             action: Callable[[], tuple[str, dict] | str]) -> dict:
        """Run `action` unless fresh; returns the stamp (its digests feed later inputs)."""
        t0 = time.monotonic()
        inputs = {"tool": __version__, **inputs}
        stamp = self.stamps.fresh(name, inputs, outputs)
        if stamp is not None:
            self.say(f"{name}: reused ({stamp.get('detail', '')})")
            status = REUSED
        else:
            self.say(f"{name}: running")
            out = action()
            detail, extra = out if isinstance(out, tuple) else (out, {})
            stamp = self.stamps.save(name, inputs, outputs, detail, extra)
            status = RAN
        self.records.append(StepRecord(
            name=name, status=status, seconds=round(time.monotonic() - t0, 2),
            detail=stamp.get("detail", ""), outputs=stamp["outputs"], digests=stamp["digests"]))
        return stamp

    def note(self, name: str, status: str, detail: str, seconds: float = 0.0) -> None:
        self.say(f"{name}: {detail}")
        self.records.append(StepRecord(name=name, status=status, seconds=round(seconds, 2),
                                       detail=detail))


# ---- the steps ------------------------------------------------------------------------

def _doctor(p: Pipeline) -> None:
    t0 = time.monotonic()
    try:
        from .doctor import collect_report
    except ImportError as err:
        p.note("doctor", SKIPPED, f"probe not available ({err})")
        return
    report = collect_report(p.settings)
    counts = report.counts()
    gpus = ", ".join(str(g.get("name")) for g in report.gpus) or "no GPU"
    detail = (f"{counts.get('ok', 0)} ok, {counts.get('warn', 0)} warn, "
              f"{counts.get('fail', 0)} fail; {gpus}")
    # Failures of the GPU/TensorRT checks do not stop a CPU quickstart; they are shown.
    p.note("doctor", RAN, detail + " (details: invoke doctor)", time.monotonic() - t0)


def _sample_data(p: Pipeline, q: QuickstartRequest) -> dict:
    from .data.sample import sample_dir, write_sample_dataset

    out = sample_dir(p.settings.work_dir)

    def action():
        res = write_sample_dataset(out, q.samples)
        return (f"{res.count} images ({res.train_count} train, {res.val_count} val) from "
                f"{res.source_package} {res.source_version}", {"count": res.count})
    inputs = {"n": q.samples, "code": code_digest("toolchain.data.sample")}
    return p.step("sample-data", inputs, {"images": out}, action)


def _preprocess(p: Pipeline, split: str, sample_stamp: dict) -> dict:
    from .data.preprocess import preprocess_dataset

    sample_dir = Path(sample_stamp["outputs"]["images"])
    output = p.settings.work_dir / "data" / f"{split}.bin"

    def action():
        res = preprocess_dataset(sample_dir, sample_dir / f"{split}_list.txt", output,
                                 fmt="bin")
        return f"{res.count} images -> {output.name} ({res.images_per_s:.0f} images/s)"
    inputs = {"images": sample_stamp["digests"]["images"],
              "code": code_digest("toolchain.data.preprocess", "toolchain.data.preprocess_plan",
                                  "toolchain.data.formats", "toolchain.data.binfmt")}
    return p.step(f"preprocess-{split}", inputs,
                  {"data": output, "sidecar": output.with_name(output.name + ".json")}, action)


def _model(p: Pipeline, name: str, kind: str, train: dict, val: dict) -> dict:
    from .models import zoo

    out = p.settings.work_dir / "models" / name / "fp32"
    inputs = {"model": name, "spec": zoo.get_model(name).raw, "paddle": _paddle_version(),
              "code": code_digest("toolchain.models.networks", "toolchain.models.train",
                                  "toolchain.models.export", "toolchain.models.zoo",
                                  "toolchain.models.layout")}
    if kind == "trained":
        inputs.update(train=train["digests"]["data"], val=val["digests"]["data"])

        def action():
            res = zoo.export_model(p.settings, name, out_dir=out,
                                   train_data=Path(train["outputs"]["data"]),
                                   val_data=Path(val["outputs"]["data"]))
            return _model_detail(res, "trained"), {"train": res.train}
    else:
        def action():
            # legacy format only: what oneDNN INT8 and the C++ demo run
            res = zoo.export_model(p.settings, name, out_dir=out, formats=("legacy",))
            return _model_detail(res, "seeded weights, latency only")
    return p.step(f"model-{name}", inputs, {"fp32": out}, action)


def _model_detail(res: Any, what: str) -> str:
    train = getattr(res, "train", None) or {}
    val = train.get("val_top1")
    return (f"{what} in {res.seconds:.0f} s"
            + (f", held-out top-1 {val * 100:.1f} %" if isinstance(val, (int, float)) else ""))


def _quantize(p: Pipeline, name: str, kind: str, model: dict, train: dict) -> dict:
    from .quantize import quantize_model

    fp32 = Path(model["outputs"]["fp32"])
    out = fp32.parent / "int8"
    algo, batch_size, batch_nums = CALIBRATION.get(kind, CALIBRATION["trained"])
    inputs = {"fp32": model["digests"]["fp32"], "calib": train["digests"]["data"],
              "algo": algo, "batch_size": batch_size, "batch_nums": batch_nums,
              "paddle": _paddle_version(), "code": code_digest("toolchain.quantize", "toolchain.models.layout")}

    def action():
        res = quantize_model(p.settings, fp32, Path(train["outputs"]["data"]), out, algo=algo,
                             batch_size=batch_size, batch_nums=batch_nums)
        return (f"{algo} on {res.calib_images} train images, {res.quantized_ops} quantized "
                f"ops in {res.seconds:.0f} s")
    return p.step(f"quantize-{name}", inputs, {"int8": out}, action)


def _cpp_demo(p: Pipeline, skip_cpp: bool) -> str:
    """Build the C++ demo when a C++ library is installed; returns the runner note.

    A failed build does not stop the quickstart: it benches with the python
    runner and the note (shown in the table's footer) says why.
    """
    from .state import current_library, demo_build_file

    if skip_cpp:
        note = "python runner (--skip-cpp)"
        p.note("build-demo", SKIPPED, note)
        return note
    lib = current_library(p.settings.lib_dir) or _library_from_wheel(p)
    if not lib:
        note = ("python runner: no Paddle Inference C++ library is installed "
                "(`invoke fetch-lib` or `invoke build-lib` installs one; then quickstart "
                "builds the C++ demo and benches through it)")
        p.note("build-demo", SKIPPED, "no Paddle Inference C++ library: python runner")
        return note
    from .build_demo import DEMO_SOURCE, DemoBuildRequest, build_demo
    from .build_demo.run import make_plan

    t0 = time.monotonic()
    try:
        req = DemoBuildRequest(lib=Path(lib["path"]))
        plan = make_plan(p.settings, req)
        version_txt = plan.lib / "version.txt"
        inputs = {"lib": str(plan.lib), "cmake_args": plan.cmake_args,
                  "version_txt": digest(version_txt) if version_txt.exists() else None,
                  "source": digest(Path(DEMO_SOURCE))}
        outputs = {**{k: Path(v) for k, v in plan.binaries.items()},
                   "record": demo_build_file(p.settings.work_dir)}

        def action():
            res = build_demo(p.settings, DemoBuildRequest(lib=plan.lib))
            if not res.ok:
                bad = [c.to_dict() for c in res.checks if not c.ok]
                raise LabError(f"the demo binaries do not load: {bad}",
                               where=str(res.log_file), hint="run `invoke build-demo`")
            return f"built against {plan.lib} ({plan.paddle_api} API) in {res.elapsed_s:.0f} s"
        p.step("build-demo", inputs, outputs, action)
    except LabError as err:
        note = (f"python runner: the C++ demo could not be built against {lib.get('path')}: "
                f"{err.message}" + (f" (fix: {err.hint})" if err.hint else ""))
        p.note("build-demo", SKIPPED, "C++ demo build failed: python runner",
               time.monotonic() - t0)
        return note
    return f"cpp runner: the C++ demo built against {lib.get('path')}"


def _library_from_wheel(p: Pipeline) -> dict | None:
    """fetch-lib from the installed wheel when no library is installed and no mirror is set.

    The wheel's engine as a C++ library (see toolchain/fetch/wheel.py); its proof is
    cached, so a second quickstart is fast. A failure (no compiler, no cmake, a wheel
    whose exports differ) is shown and quickstart goes on with the python runner.
    """
    from .state import current_library

    mirror = p.settings.fetch.mirror
    if mirror:
        p.note("fetch-lib", SKIPPED, f"lab.fetch.mirror is set ({mirror}): not assembling from "
               "the wheel; `invoke fetch-lib` downloads the official library")
        return None
    t0 = time.monotonic()
    try:
        from .fetch.wheel import fetch_from_wheel

        res = fetch_from_wheel(p.settings)
    except (LabError, ImportError) as err:
        why = getattr(err, "message", str(err))
        hint = getattr(err, "hint", "")
        p.note("fetch-lib", SKIPPED, f"no C++ library from the wheel: {why}"
               + (f" (fix: {hint})" if hint else ""), time.monotonic() - t0)
        return None
    proof = res.reasons[-1] if res.reasons else ""
    p.note("fetch-lib", RAN, f"C++ library from the installed wheel -> {res.install_dir}; "
           f"{proof}", time.monotonic() - t0)
    return current_library(p.settings.lib_dir)


@dataclass
class PreparedLab:
    """What the steps before bench made: the models and the dataset to bench them on."""

    models: list[str]
    val_data: Path
    runner_note: str
    runner: str                  # "python" | "auto"


def prepare_lab(p: Pipeline, q: QuickstartRequest, skip_cpp: bool = False) -> PreparedLab:
    """Every quickstart step but bench (each reused when its stamp is fresh)."""
    specs = _zoo_kinds()
    unknown = [m for m in q.models if m not in specs]
    if unknown:
        raise LabError(f"unknown quickstart model(s): {', '.join(unknown)}",
                       hint=f"choose from {', '.join(specs)} (lab.quickstart.models)")
    _doctor(p)
    sample = _sample_data(p, q)
    train = _preprocess(p, "train", sample)
    val = _preprocess(p, "val", sample)
    for name in q.models:
        model = _model(p, name, specs[name], train, val)
        _quantize(p, name, specs[name], model, train)
    note = _cpp_demo(p, skip_cpp)
    return PreparedLab(models=list(q.models), val_data=Path(val["outputs"]["data"]),
                       runner_note=note, runner="python" if skip_cpp else "auto")


def run_quickstart(settings: LabSettings, out: str | None = None, skip_cpp: bool = False,
                   models: str | None = None, say: Callable[[str], None] | None = None,
                   bf16: bool = False) -> QuickstartResult:
    from .bench.run import BenchRequest, run_bench

    if bf16:
        from .runners.run import require_cpu_bf16

        require_cpu_bf16()          # before any step: refused at once on a CPU without it
    precisions = ["fp32", "int8"] + (["bf16"] if bf16 else [])

    t0 = time.monotonic()
    say = say or (lambda text, transient=False: None)
    q = QuickstartRequest.from_settings(settings.quickstart, models)
    p = Pipeline(settings, say)
    lab = prepare_lab(p, q, skip_cpp)
    say(f"bench: measuring ({', '.join(x.upper() for x in precisions)} interleaved until "
        "stable)")
    t_bench = time.monotonic()
    req = BenchRequest(models=lab.models, precisions=precisions, batch_sizes=[1],
                       runner=lab.runner, device="auto", repeats=q.repeats, warmup=q.warmup,
                       time_budget_s=q.time_budget_s, data_file=str(lab.val_data), out=out,
                       parity=lab.runner_note.startswith("cpp runner"))
    report = run_bench(settings, req, progress=say)
    stable = sum(1 for r in report.rows for x in r.results.values()
                 if x.stability and x.stability.stable)
    total = sum(len(r.results) for r in report.rows)
    p.note("bench", RAN, f"{len(report.rows)} models, {stable}/{total} measurements stable",
           time.monotonic() - t_bench)
    return QuickstartResult(steps=p.records, runner_note=lab.runner_note, bench=report,
                            elapsed_s=round(time.monotonic() - t0, 1),
                            work_dir=str(settings.work_dir))


def _zoo_kinds() -> dict[str, str]:
    from .models.zoo import list_models

    return {spec.name: spec.kind for spec in list_models()}
