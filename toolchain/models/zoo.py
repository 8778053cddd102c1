"""The lab's models (recipes/models.toml) and their FP32 export in both formats.

Layout under <work_dir>/models/<name>/:
    fp32/         model.pdmodel + model.pdiparams   (legacy: oneDNN INT8, the C++ demo)
    fp32/pir/     model.json + model.pdiparams      (PIR, Paddle 3.x)
    fp32/train/   weights.pdparams                  (trained models only)
    int8/         `invoke quantize` output (legacy, quantize/dequantize ops)
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..fsio import staged_directory
from ..progress import NO_PROGRESS, ProgressSink
from ..results import JsonResult
from ..settings import LabSettings
from ..shellscript import ShellScript
from .layout import write_record
from .worker import WorkerStep

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "models.toml"
FORMATS = ("legacy", "pir")
SEEDED_NOTE = "seeded weights: latency only, accuracy is meaningless"


@dataclass
class ModelSpec(JsonResult):
    name: str
    kind: str                 # "trained" | "seeded"
    builder: str
    input: list[int]
    num_classes: int
    seed: int
    note: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class ExportResult(JsonResult):
    name: str
    kind: str
    note: str
    out_dir: Path
    dirs: dict[str, str]          # format -> model dir
    sha256: dict[str, str]        # format -> sha256 of program + params
    train: dict | None = None     # trained models: epochs, train/val top-1, seconds
    seconds: float = 0.0


def _recipe() -> dict:
    return tomllib.loads(RECIPE.read_text())


def list_models() -> list[ModelSpec]:
    out = []
    for m in _recipe()["model"]:
        out.append(ModelSpec(name=m["name"], kind=m["kind"], builder=m["builder"],
                             input=list(m["input"]), num_classes=int(m["num_classes"]),
                             seed=int(m["seed"]), note=m.get("note", ""), raw=dict(m)))
    return out


def get_model(name: str) -> ModelSpec:
    for m in list_models():
        if m.name == name:
            return m
    known = ", ".join(m.name for m in list_models())
    raise LabError(f"unknown model {name!r}", hint=f"known models: {known} (invoke models --list)")


def default_model_name(settings: LabSettings) -> str:
    return settings.models.default or str(_recipe()["default"])


def model_root(settings: LabSettings, name: str) -> Path:
    return settings.work_dir / "models" / name


def default_model_dir(settings: LabSettings, precision: str, name: str | None = None) -> Path:
    """<work_dir>/models/<default>/{fp32,int8}: where quickstart leaves the models."""
    sub = "int8" if precision == "int8" else "fp32"
    return model_root(settings, name or default_model_name(settings)) / sub


def default_data_file(settings: LabSettings, split: str = "val") -> Path:
    given = settings.data.val_file if split == "val" else settings.data.train_file
    if given:
        return Path(given).expanduser()
    return settings.work_dir / "data" / f"{split}.bin"


@dataclass(frozen=True)
class ExportPlan(JsonResult):
    """What `invoke models --export` will do: one worker per format, in FORMATS order."""
    name: str
    kind: str
    note: str
    num_classes: int
    out_dir: Path                     # legacy here, PIR in out_dir/pir
    formats: tuple[str, ...]
    train_data: Path | None = None    # trained models: trained by the first worker
    val_data: Path | None = None

    def target(self, fmt: str, root: Path | None = None) -> Path:
        root = Path(root or self.out_dir)
        return root if fmt == "legacy" else root / "pir"

    def steps(self, root: Path | None = None) -> list[WorkerStep]:
        """The worker runs, writing under `root` (default out_dir). The first one of a
        trained model trains it; the others load the weights it wrote."""
        root = Path(root or self.out_dir)
        out = []
        for i, fmt in enumerate(self.formats):
            args = ["--name", self.name, "--format", fmt, "--out", str(self.target(fmt, root))]
            if self.kind == "trained" and i > 0:
                args += ["--weights", str(root / "train" / "weights.pdparams")]
            elif self.kind == "trained":
                args += ["--train-data", str(self.train_data)]
                args += ["--val-data", str(self.val_data)] if self.val_data else []
            out.append(WorkerStep("toolchain.models.export", tuple(args), pir=(fmt == "pir"),
                                  what=f"export of {self.name} ({fmt})"))
        return out

    def script(self) -> str:
        sh = ShellScript(f"models --export {self.name} --dry-run", "one worker per format")
        sh.note("(the task writes to a temporary sibling of the output, then renames it)")
        for step in self.steps():
            step.add_to(sh)
        return sh.render()


def plan_export(settings: LabSettings, name: str, out_dir: Path | None = None,
                formats: tuple[str, ...] = FORMATS, train_data: Path | None = None,
                val_data: Path | None = None) -> ExportPlan:
    """Decide an export of `name` (legacy in out_dir, PIR in out_dir/pir); writes nothing.

    Trained models are trained first on `train_data` (default <work_dir>/data/train.bin)
    and scored on `val_data` (default <work_dir>/data/val.bin when present)."""
    spec = get_model(name)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise LabError(f"unknown model format(s): {', '.join(bad) or '(none)'}",
                       hint=f"formats: {', '.join(FORMATS)}")
    out_dir = Path(out_dir) if out_dir else default_model_dir(settings, "fp32", name)
    train_data, val_data = _training_data(settings, spec, train_data, val_data)
    return ExportPlan(name=name, kind=spec.kind, note=spec.note, num_classes=spec.num_classes,
                      out_dir=out_dir, formats=tuple(sorted(set(formats), key=FORMATS.index)),
                      train_data=train_data, val_data=val_data)


def _training_data(settings: LabSettings, spec: ModelSpec, train_data: Path | None,
                   val_data: Path | None) -> tuple[Path | None, Path | None]:
    if spec.kind != "trained":
        return None, None
    train_data = Path(train_data) if train_data else default_data_file(settings, "train")
    if not train_data.exists():
        raise LabError(f"training data not found: {train_data}", where=str(train_data),
                       hint="run `invoke sample-data`, then `invoke preprocess --label-list "
                            f"train_list.txt --out {train_data}` (quickstart does both), "
                            "or pass --train-data")
    if val_data is None and default_data_file(settings, "val").exists():
        val_data = default_data_file(settings, "val")
    return train_data, Path(val_data) if val_data else None


def execute_export(plan: ExportPlan, progress: ProgressSink = NO_PROGRESS) -> ExportResult:
    """Run the plan's workers in a staged sibling of out_dir, record each format, swap it in."""
    t0 = time.perf_counter()
    results: dict[str, dict] = {}
    with progress.track(f"export {plan.name}", unit="steps") as tracker, \
            staged_directory(plan.out_dir) as staged:
        def on_progress(done: int, total: int, text: str) -> None:
            tracker.update(completed=done, total=total, note=f"train {plan.name}")

        for fmt, step in zip(plan.formats, plan.steps(staged)):
            results[fmt] = step.run(on_progress)
            tracker.update(note=f"{fmt} written")
            write_record(plan.target(fmt, staged),
                         {"name": plan.name, "kind": plan.kind, "format": fmt,
                          "precision": "fp32", "num_classes": plan.num_classes,
                          "sha256": results[fmt]["sha256"], "note": plan.note,
                          "train": results[plan.formats[0]].get("train")})
    train = next((r.get("train") for r in results.values() if r.get("train")), None)
    return ExportResult(name=plan.name, kind=plan.kind, note=plan.note, out_dir=plan.out_dir,
                        dirs={fmt: str(plan.target(fmt)) for fmt in plan.formats},
                        sha256={k: v["sha256"] for k, v in results.items()}, train=train,
                        seconds=round(time.perf_counter() - t0, 2))


def export_model(settings: LabSettings, name: str, out_dir: Path | None = None,
                 formats: tuple[str, ...] = FORMATS, train_data: Path | None = None,
                 val_data: Path | None = None, progress: ProgressSink = NO_PROGRESS
                 ) -> ExportResult:
    """Write `name` as an FP32 inference model: plan_export, then execute_export."""
    return execute_export(plan_export(settings, name, out_dir, formats, train_data, val_data),
                          progress)


def train_small_classifier(settings: LabSettings, data_file: Path, out_dir: Path | None = None,
                           val_data: Path | None = None, progress: ProgressSink = NO_PROGRESS
                           ) -> ExportResult:
    """Train the default trained model on `data_file` and export it (both formats)."""
    trained = [m for m in list_models() if m.kind == "trained"]
    name = default_model_name(settings)
    if get_model(name).kind != "trained":
        name = trained[0].name
    return export_model(settings, name, out_dir, train_data=data_file, val_data=val_data,
                        progress=progress)
