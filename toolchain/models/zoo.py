"""The lab's models (recipes/models.toml) and their FP32 export in both formats.

Layout under <work_dir>/models/<name>/:
    fp32/         model.pdmodel + model.pdiparams   (legacy: oneDNN INT8, the C++ demo)
    fp32/pir/     model.json + model.pdiparams      (PIR, Paddle 3.x)
    fp32/train/   weights.pdparams                  (trained models only)
    int8/         `invoke quantize` output (legacy, quantize/dequantize ops)
"""

from __future__ import annotations

import shutil
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..results import JsonResult
from ..settings import LabSettings
from .layout import publish_model_dir, write_record

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


def _progress_bar(enabled: bool):
    import sys

    if not (enabled and sys.stderr.isatty()):
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=Console(stderr=True), transient=True)


def export_script(settings: LabSettings, name: str, out_dir: Path | None = None,
                  formats: tuple[str, ...] = FORMATS, train_data: Path | None = None,
                  val_data: Path | None = None) -> str:
    """What export_model would run, as a shell script (`invoke models --export --dry-run`)."""
    import shlex
    import sys

    spec = get_model(name)
    out_dir = Path(out_dir) if out_dir else default_model_dir(settings, "fp32", name)
    train_args = _train_args(settings, spec, train_data, val_data)
    lines = ["#!/bin/sh", f"# invoke models --export {name} --dry-run: one worker per format",
             "# (the task writes to a temporary sibling of the output, then renames it)"]
    for fmt in sorted(formats, key=FORMATS.index):
        target = out_dir if fmt == "legacy" else out_dir / "pir"
        args = ["--name", name, "--format", fmt, "--out", str(target)]
        if spec.kind == "trained":
            args += (["--weights", str(out_dir / "train" / "weights.pdparams")]
                     if fmt != sorted(formats, key=FORMATS.index)[0] else train_args)
        flag = "1" if fmt == "pir" else "0"
        lines.append(f"FLAGS_enable_pir_api={flag} "
                     + shlex.join([sys.executable, "-m", "toolchain.models.export", *args]))
    return "\n".join(lines) + "\n"


def _train_args(settings: LabSettings, spec: ModelSpec, train_data: Path | None,
                val_data: Path | None) -> list[str]:
    if spec.kind != "trained":
        return []
    train_data = Path(train_data) if train_data else default_data_file(settings, "train")
    if not train_data.exists():
        raise LabError(f"training data not found: {train_data}", where=str(train_data),
                       hint="run `invoke sample-data`, then `invoke preprocess --label-list "
                            f"train_list.txt --output {train_data}` (quickstart does both), "
                            "or pass --train-data")
    if val_data is None and default_data_file(settings, "val").exists():
        val_data = default_data_file(settings, "val")
    return ["--train-data", str(train_data)] + (["--val-data", str(val_data)] if val_data
                                                 else [])


def export_model(settings: LabSettings, name: str, out_dir: Path | None = None,
                 formats: tuple[str, ...] = FORMATS, train_data: Path | None = None,
                 val_data: Path | None = None, progress: bool = True) -> ExportResult:
    """Write `name` as an FP32 inference model (legacy in out_dir, PIR in out_dir/pir).

    Trained models are trained first on `train_data` (default <work_dir>/data/train.bin)
    and scored on `val_data` (default <work_dir>/data/val.bin when present).
    Everything is written in a temporary sibling directory and renamed at the end.
    """
    from .worker import run_worker, temp_dir_beside

    spec = get_model(name)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise LabError(f"unknown model format(s): {', '.join(bad) or '(none)'}",
                       hint=f"formats: {', '.join(FORMATS)}")
    out_dir = Path(out_dir) if out_dir else default_model_dir(settings, "fp32", name)
    train_args = _train_args(settings, spec, train_data, val_data)

    t0 = time.perf_counter()
    tmp = temp_dir_beside(out_dir)
    bar = _progress_bar(progress)
    try:
        if bar:
            bar.start()
        task = bar.add_task(f"export {name}", total=None) if bar else None

        def on_progress(done: int, total: int, text: str) -> None:
            if bar:
                bar.update(task, completed=done, total=total, description=f"train {name}")

        order = sorted(formats, key=FORMATS.index)
        results: dict[str, dict] = {}
        dirs: dict[str, Path] = {}
        for i, fmt in enumerate(order):
            target = tmp if fmt == "legacy" else tmp / "pir"
            args = ["--name", name, "--format", fmt, "--out", str(target)]
            if spec.kind == "trained":
                weights = tmp / "train" / "weights.pdparams"
                args += ["--weights", str(weights)] if weights.exists() else train_args
            results[fmt] = run_worker("toolchain.models.export", args, pir=(fmt == "pir"),
                                      on_progress=on_progress, what=f"export of {name} ({fmt})")
            if bar:
                bar.update(task, description=f"export {name} ({fmt})")
            dirs[fmt] = out_dir if fmt == "legacy" else out_dir / "pir"
            write_record(target, {"name": name, "kind": spec.kind, "format": fmt,
                                  "precision": "fp32", "num_classes": spec.num_classes,
                                  "sha256": results[fmt]["sha256"], "note": spec.note,
                                  "train": results[order[0]].get("train")})
        publish_model_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bar:
            bar.stop()
    train = next((r.get("train") for r in results.values() if r.get("train")), None)
    return ExportResult(name=name, kind=spec.kind, note=spec.note, out_dir=out_dir,
                        dirs={k: str(v) for k, v in dirs.items()},
                        sha256={k: v["sha256"] for k, v in results.items()}, train=train,
                        seconds=round(time.perf_counter() - t0, 2))


def train_small_classifier(settings: LabSettings, data_file: Path, out_dir: Path | None = None,
                           val_data: Path | None = None, progress: bool = True) -> ExportResult:
    """Train the default trained model on `data_file` and export it (both formats)."""
    trained = [m for m in list_models() if m.kind == "trained"]
    name = default_model_name(settings)
    if get_model(name).kind != "trained":
        name = trained[0].name
    return export_model(settings, name, out_dir, train_data=data_file, val_data=val_data,
                        progress=progress)
