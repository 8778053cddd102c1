"""Task `models`: list the zoo and export FP32 inference models (legacy and PIR)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import flags
from ..cli import emit, lab_task
from ..results import JsonResult
from ..settings import LabSettings


@dataclass
class ModelList(JsonResult):
    default: str
    models: list = field(default_factory=list)


def _render_list(con, r: ModelList) -> None:
    from rich.table import Table

    table = Table(title="models (recipes/models.toml)")
    for col in ("name", "kind", "input", "classes", "note"):
        table.add_column(col)
    for m in r.models:
        mark = " (default)" if m["name"] == r.default else ""
        table.add_row(m["name"] + mark, m["kind"], "x".join(map(str, m["input"])),
                      str(m["num_classes"]), m["note"])
    con.print(table)
    con.print("seeded = random weights from a fixed seed: latency rows only, accuracy is "
              "meaningless. trained = trained here on the sample digits.")


def _render_export(con, r) -> None:
    con.print(f"[bold green]exported[/] {r.name} ({r.kind}) in {r.seconds:.1f} s")
    for fmt, d in r.dirs.items():
        con.print(f"  {fmt:6s} {d}  sha256 {r.sha256[fmt][:16]}")
    if r.train:
        t = r.train
        val = f", held-out top-1 {100 * t['val_top1']:.1f} % on {t['val_images']} images" \
            if "val_top1" in t else ""
        con.print(f"  trained {t['epochs']} epochs on {t['train_images']} images in "
                  f"{t['seconds']:.1f} s: train top-1 {100 * t['train_top1']:.1f} %{val}")
    if r.kind == "seeded":
        con.print("  [yellow]seeded weights: latency only[/]")
    if "legacy" in r.dirs:
        con.print(f"  next: invoke quantize --model-dir {r.dirs['legacy']}")


@lab_task(help={
    "list_": "list the known models (the default when --export is not given)",
    "export": "export this model (a name from --list) as FP32 inference models: legacy "
              "(.pdmodel) in <work_dir>/models/NAME/fp32/ and PIR (.json) in .../fp32/pir/",
    "out": "export to this directory instead of <work_dir>/models/NAME/fp32",
    "formats": "comma list of formats to write: legacy,pir (default both)",
    "train_data": "trained models: the training dataset (default <work_dir>/data/train.bin)",
    "val_data": "trained models: held-out dataset scored after training "
                "(default <work_dir>/data/val.bin when it exists)",
    **flags.help_for("json_", dry_run=" (with --export: the worker commands)"),
})
def models(c, list_=False, export=None, out=None, formats="legacy,pir", train_data=None,
           val_data=None, dry_run=False, json_=False):
    """List the model zoo, or export one model as FP32 inference models in both formats.

    small_cnn is trained here (seeded, under a minute on 2 cores) on the sample
    digits of `invoke sample-data` (preprocessed to train.bin); mobilenet_v1,
    mobilenet_v2 and resnet50 are paddle.vision.models with seeded weights, for
    latency only. Each export runs in a worker process with FLAGS_enable_pir_api
    set for its format (0: legacy .pdmodel, what oneDNN INT8 and the C++ demo run;
    1: PIR .json), and is written under a temporary name, then renamed.

    Examples:
        invoke models --list
        invoke models --export small_cnn
        invoke models --export resnet50 --formats legacy
    """
    from pathlib import Path

    from ..models.zoo import default_model_name, execute_export, list_models, plan_export
    from .progress import progress_for

    settings = LabSettings.from_context(c)
    if export:
        fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
        plan = plan_export(settings, export, Path(out) if out else None, formats=fmts,
                           train_data=Path(train_data) if train_data else None,
                           val_data=Path(val_data) if val_data else None)
        if dry_run:
            print(plan.script(), end="")
            return
        emit(execute_export(plan, progress_for(not json_)), json_, _render_export)
        return
    result = ModelList(default=default_model_name(settings),
                       models=[m.to_dict() | {"raw": None} for m in list_models()])
    for m in result.models:
        m.pop("raw", None)
    emit(result, json_, _render_list)
